import { err, ok, type Result } from '../result.js';
import { ByteReader, type ByteWriter } from './bytes.js';
import { readDhtRecord, readPeerList, readPeerRecord, sharedWriter, writeDhtRecord, writePeerList, writePeerRecord } from './codec-records.js';
import { readRouted, writeRouted } from './codec-routed.js';
import { readEndpoint, writeEndpoint } from './endpoint-bytes.js';
import {
  MAX_APP_DATA_BYTES,
  MAX_DHT_RECORDS_PER_MESSAGE,
  MAX_MESSAGE_BYTES,
  MAX_RELAY_PAYLOAD_BYTES,
  MessageType,
  OVERLAY_WIRE_VERSION,
  type BroadcastMessage,
  type DhtRecord,
  type DhtReplicateMessage,
  type OverlayMessage,
  type PeerRecord,
  type WireError,
} from './messages.js';

export {
  DHT_RECORD_SIGNING_DOMAIN,
  decodeDhtRecord,
  decodePeerRecord,
  dhtRecordSignedBytes,
  encodeDhtRecord,
  encodePeerRecord,
} from './codec-records.js';

/*
 * Overlay message codec. Every message starts with the same two bytes:
 *
 *   +---------+------+------------------------------+
 *   | version | type | fields of that type          |
 *   | 1       | 1    | variable                     |
 *   +---------+------+------------------------------+
 *   version is OVERLAY_WIRE_VERSION (1), type a MessageType.
 *
 * ENDPOINT_REPORT (0x15): | observed endpoint (endpoint-bytes.ts) | sender PeerRecord |
 * RELAY_SEND (0x16):      | to 20      | payloadLen 2 (1..2048) | payload |
 * RELAY_DELIVER (0x17):   | from 20    | payloadLen 2 (1..2048) | payload |
 * DATAGRAM (0x18):        | data (the rest of the message) |
 *
 * All integers are big-endian. The building blocks (PeerRecord, PeerList, DhtRecord, endpoints)
 * are drawn in codec-records.ts and endpoint-bytes.ts, the routed header and bodies in
 * codec-routed.ts. A message is at most MAX_MESSAGE_BYTES (65,000) long; a decoder accepts only
 * canonical encodings (booleans 0/1, no trailing bytes, ...), so encode(decode(b)) equals b.
 *
 * decodeMessage never throws. Its byte fields (keys, values, writers, signatures, broadcast ids,
 * application data) are views that ALIAS the input buffer: copy them before reusing the buffer.
 * encodeMessage throws (RangeError for out-of-range numbers, sizes and counts; TypeError for
 * malformed endpoints, addresses and booleans) when a message could not be decoded again.
 */

const BROADCAST_ID_BYTES = 8;

/**
 * Encodes any overlay message. The result is the caller's to keep; it may be a view into a shared
 * slab (see ByteWriter.finish), so honour its byteOffset and byteLength.
 */
export function encodeMessage(msg: OverlayMessage): Uint8Array {
  const w = sharedWriter.reset();
  w.u8(OVERLAY_WIRE_VERSION, 'version');
  switch (msg.kind) {
    case 'status':
      w.u8(MessageType.STATUS, 'type');
      writeStatus(w, msg);
      break;
    case 'leave':
      w.u8(MessageType.LEAVE, 'type');
      writeLeave(w, msg.left, msg.right);
      break;
    case 'routed':
      w.u8(MessageType.ROUTED, 'type');
      writeRouted(w, msg);
      break;
    case 'dht-replicate':
      w.u8(MessageType.DHT_REPLICATE, 'type');
      writeDhtReplicate(w, msg);
      break;
    case 'broadcast':
      w.u8(MessageType.BROADCAST, 'type');
      writeBroadcast(w, msg);
      break;
    case 'endpoint-report':
      w.u8(MessageType.ENDPOINT_REPORT, 'type');
      writeEndpoint(w, msg.observed, 'endpoint-report observed');
      writePeerRecord(w, msg.sender, 'endpoint-report sender');
      break;
    case 'relay-send':
      w.u8(MessageType.RELAY_SEND, 'type');
      w.address(msg.to, 'relay-send to');
      w.prefixed(msg.payload, 2, 1, MAX_RELAY_PAYLOAD_BYTES, 'relay-send payload');
      break;
    case 'datagram':
      w.u8(MessageType.DATAGRAM, 'type');
      if (msg.data.length > MAX_MESSAGE_BYTES - 2) throw new RangeError(`datagram is ${msg.data.length} bytes, at most ${MAX_MESSAGE_BYTES - 2} allowed`);
      w.fixed(msg.data, msg.data.length, 'datagram data');
      break;
    case 'relay-deliver':
      w.u8(MessageType.RELAY_DELIVER, 'type');
      w.address(msg.from, 'relay-deliver from');
      w.prefixed(msg.payload, 2, 1, MAX_RELAY_PAYLOAD_BYTES, 'relay-deliver payload');
      break;
    default:
      throw new TypeError(`unknown message kind ${JSON.stringify((msg as { kind: unknown }).kind)}`);
  }
  if (w.length > MAX_MESSAGE_BYTES) {
    throw new RangeError(`${msg.kind} message is ${w.length} bytes, at most ${MAX_MESSAGE_BYTES} allowed`);
  }
  return w.finish();
}

/** Decodes one overlay message, or says in plain words why it is malformed. Never throws. */
export function decodeMessage(bytes: Uint8Array): Result<OverlayMessage, WireError> {
  if (bytes.length > MAX_MESSAGE_BYTES) {
    return err({ code: 'too-large', message: `message is ${bytes.length} bytes, at most ${MAX_MESSAGE_BYTES} allowed` });
  }
  if (bytes.length < 2) {
    return err({ code: 'truncated', message: `message is ${bytes.length} bytes, shorter than its 2-byte header` });
  }
  const version = bytes[0];
  if (version !== OVERLAY_WIRE_VERSION) {
    return err({
      code: 'bad-version',
      message: `message has wire version ${String(version)}, this node speaks ${OVERLAY_WIRE_VERSION}`,
    });
  }
  const r = new ByteReader(bytes);
  r.u8('version');
  const type = r.u8('type');
  let msg: OverlayMessage;
  let what: string;
  switch (type) {
    case MessageType.STATUS: {
      what = 'status message';
      const flags = r.u8('status flags');
      if ((flags & ~STATUS_FLAGS_KNOWN) !== 0) return err({ code: 'bad-value', message: `status message has unknown flag bits 0x${flags.toString(16)}` });
      const left = readPeerList(r, what, 'left');
      const right = readPeerList(r, what, 'right');
      msg = { kind: 'status', wantReply: (flags & STATUS_WANT_REPLY) !== 0, churn: (flags & STATUS_CHURN) !== 0, left, right };
      break;
    }
    case MessageType.LEAVE: {
      what = 'leave message';
      const left = readPeerList(r, what, 'left');
      const right = readPeerList(r, what, 'right');
      msg = { kind: 'leave', left, right };
      break;
    }
    case MessageType.ROUTED:
      what = 'routed message';
      msg = readRouted(r);
      break;
    case MessageType.DHT_REPLICATE:
      what = 'dht-replicate message';
      msg = readDhtReplicate(r);
      break;
    case MessageType.BROADCAST:
      what = 'broadcast message';
      msg = readBroadcast(r);
      break;
    case MessageType.ENDPOINT_REPORT: {
      what = 'endpoint-report message';
      const observed = readEndpoint(r, 'endpoint-report observed');
      msg = { kind: 'endpoint-report', observed, sender: readPeerRecord(r, 'endpoint-report sender') };
      break;
    }
    case MessageType.RELAY_SEND: {
      what = 'relay-send message';
      const to = r.address('relay-send to');
      msg = { kind: 'relay-send', to, payload: r.prefixed(2, 1, MAX_RELAY_PAYLOAD_BYTES, 'relay-send payload') };
      break;
    }
    case MessageType.DATAGRAM:
      what = 'datagram message';
      msg = { kind: 'datagram', data: r.fixed(bytes.length - 2, 'datagram data') };
      break;
    case MessageType.RELAY_DELIVER: {
      what = 'relay-deliver message';
      const from = r.address('relay-deliver from');
      msg = { kind: 'relay-deliver', from, payload: r.prefixed(2, 1, MAX_RELAY_PAYLOAD_BYTES, 'relay-deliver payload') };
      break;
    }
    default:
      return err({ code: 'unknown-type', message: `message type 0x${type.toString(16)} is unknown` });
  }
  r.expectEnd(what);
  return r.error === null ? ok(msg) : err(r.error);
}

/*
 * STATUS (type 0x10)
 *   +---------+------+-------+----------------+----------------+
 *   | version | type | flags | left PeerList  | right PeerList |
 *   | 1       | 1    | 1     | variable       | variable       |
 *   +---------+------+-------+----------------+----------------+
 *   flags: bit 0 wantReply, bit 1 churn (the sender sees peers fail); other bits must be 0.
 *   Each PeerList is a count (0..8) and that many PeerRecords, nearest first.
 */
const STATUS_WANT_REPLY = 0x01;
const STATUS_CHURN = 0x02;
const STATUS_FLAGS_KNOWN = STATUS_WANT_REPLY | STATUS_CHURN;

function writeStatus(w: ByteWriter, msg: Extract<OverlayMessage, { kind: 'status' }>): void {
  w.u8((msg.wantReply ? STATUS_WANT_REPLY : 0) | (msg.churn ? STATUS_CHURN : 0), 'status flags');
  writePeerList(w, msg.left, 'status left neighbours');
  writePeerList(w, msg.right, 'status right neighbours');
}

/*
 * LEAVE (type 0x14)
 *   +---------+------+----------------+----------------+
 *   | version | type | left PeerList  | right PeerList |
 *   | 1       | 1    | variable       | variable       |
 *   +---------+------+----------------+----------------+
 */
function writeLeave(w: ByteWriter, left: PeerRecord[], right: PeerRecord[]): void {
  writePeerList(w, left, 'leave left neighbours');
  writePeerList(w, right, 'leave right neighbours');
}

/*
 * DHT_REPLICATE (type 0x12)
 *   +---------+------+-------+------------------------------+
 *   | version | type | count | DhtRecord x count            |
 *   | 1       | 1    | 1     | variable                     |
 *   +---------+------+-------+------------------------------+
 *   count is 1..MAX_DHT_RECORDS_PER_MESSAGE (16).
 */
function writeDhtReplicate(w: ByteWriter, msg: DhtReplicateMessage): void {
  const n = msg.records.length;
  if (n < 1 || n > MAX_DHT_RECORDS_PER_MESSAGE) {
    throw new RangeError(`dht-replicate message has ${n} records, expected 1..${MAX_DHT_RECORDS_PER_MESSAGE}`);
  }
  w.u8(n, 'dht-replicate count');
  for (const record of msg.records) writeDhtRecord(w, record);
}

function readDhtReplicate(r: ByteReader): DhtReplicateMessage {
  const count = r.count(1, MAX_DHT_RECORDS_PER_MESSAGE, 'dht-replicate record count');
  const records: DhtRecord[] = [];
  for (let i = 0; i < count && r.error === null; i++) records.push(readDhtRecord(r));
  return { kind: 'dht-replicate', records };
}

/*
 * BROADCAST (type 0x13)
 *   +---------+------+----+--------+------------+----------+------+---------+---------+---------+
 *   | version | type | id | origin | rangeStart | rangeEnd | hops | channel | dataLen | data    |
 *   | 1       | 1    | 8  | 20     | 20         | 20       | 1    | 2       | 2       | dataLen |
 *   +---------+------+----+--------+------------+----------+------+---------+---------+---------+
 *   dataLen is 0..MAX_APP_DATA_BYTES (60,000).
 */
function writeBroadcast(w: ByteWriter, msg: BroadcastMessage): void {
  w.fixed(msg.id, BROADCAST_ID_BYTES, 'broadcast id');
  w.address(msg.origin, 'broadcast origin');
  w.address(msg.rangeStart, 'broadcast rangeStart');
  w.address(msg.rangeEnd, 'broadcast rangeEnd');
  w.u8(msg.hops, 'broadcast hops');
  w.u16(msg.channel, 'broadcast channel');
  w.prefixed(msg.data, 2, 0, MAX_APP_DATA_BYTES, 'broadcast data');
}

function readBroadcast(r: ByteReader): BroadcastMessage {
  const id = r.fixed(BROADCAST_ID_BYTES, 'broadcast id');
  const origin = r.address('broadcast origin');
  const rangeStart = r.address('broadcast rangeStart');
  const rangeEnd = r.address('broadcast rangeEnd');
  const hops = r.u8('broadcast hops');
  const channel = r.u16('broadcast channel');
  const data = r.prefixed(2, 0, MAX_APP_DATA_BYTES, 'broadcast data');
  return { kind: 'broadcast', id, origin, rangeStart, rangeEnd, hops, channel, data };
}
