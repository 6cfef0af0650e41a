import type { ByteReader, ByteWriter } from './bytes.js';
import { readDhtRecord, readPeerList, readPeerRecord, writeDhtRecord, writePeerList, writePeerRecord } from './codec-records.js';
import {
  ConnectPurpose,
  DhtOp,
  DhtStatus,
  MAX_APP_DATA_BYTES,
  MAX_DHT_KEY_BYTES,
  MAX_DHT_RECORDS_PER_MESSAGE,
  MAX_PATH_NEIGHBOURS,
  RouteMode,
  RoutedBodyType,
  type ConnectPurposeValue,
  type DhtOpValue,
  type DhtRecord,
  type DhtStatusValue,
  type NeighbourInfo,
  type RouteModeValue,
  type RoutedBody,
  type RoutedMessage,
} from './messages.js';

/** path-request flags (see the layout below). */
const PATH_REQUEST_HAS_VIA = 0x01;
const PATH_REQUEST_DIRECT_BROKEN = 0x02;

/*
 * ROUTED (type 0x11): a header for greedy routing, then one body.
 *
 *   +---------+------+-------------+-------------+------+---------------+-----+------+
 *   | version | type | source      | destination | mode | excludeSource | ttl | hops |
 *   | 1       | 1    | 20          | 20          | 1    | 1 (0/1)       | 1   | 1    |
 *   +---------+------+-------------+-------------+------+---------------+-----+------+
 *   +------------+----------------------------+----------+---------------------------+
 *   | hasForward | forwardTo                  | bodyType | body (layouts below)      |
 *   | 1 (0/1)    | 20, only when hasForward=1 | 1        | variable                  |
 *   +------------+----------------------------+----------+---------------------------+
 *   mode is a RouteMode (0..3); the version and type bytes are written by codec.ts.
 *
 * Bodies (numbers are byte sizes; u32/u16 big-endian):
 *
 *   0x01 connect-request  | token 4 | purpose 1 | requester PeerRecord | hasVia 1 (0/1) | via 20 if hasVia |
 *   0x02 connect-reply    | token 4 | responder PeerRecord | left PeerList | right PeerList |
 *   0x03 ping             | id 4 | sentAt 8 (float64, finite) |
 *   0x04 pong             | id 4 | sentAt 8 (float64, finite) | requestHops 1 |
 *   0x05 dht-request      | requestId 4 | op 1 | keyLen 1 | key keyLen | hasRecord 1 (0/1) | DhtRecord? |
 *   0x06 dht-response     | requestId 4 | status 1 | count 1 | DhtRecord x count |
 *   0x07 crawl-request    | id 4 |
 *   0x08 crawl-reply      | id 4 | left PeerList | right PeerList |
 *   0x09 app              | channel 2 | dataLen 2 | data dataLen |
 *   0x0a path-request     | token 4 | requester PeerRecord | NeighbourList | flags 1 | via 20 if flags & 1 |
 *                           flags: 0x01 hasVia, 0x02 directBroken (our direct link broke); other bits 0
 *   0x0b path-reply       | token 4 | responder PeerRecord | NeighbourList |
 *
 *   NeighbourList: | count 1 (0..32) | (address 20 | ageSeconds 4 | rttMs 2 (0xffff: unknown)) x count |
 *
 *   purpose is a ConnectPurpose (0..2), op a DhtOp (0..3), status a DhtStatus (0..4);
 *   keyLen 1..64; dht-response count 0..16 (NOT_FOUND carries none); dataLen 0..60000.
 */

const ROUTE_MODE_MAX = RouteMode.SUCCESSOR;
const CONNECT_PURPOSE_MAX = ConnectPurpose.SHORTCUT;
const DHT_OP_MAX = DhtOp.REMOVE;
const DHT_STATUS_MAX = DhtStatus.OVERLOADED;

function writeEnum(w: ByteWriter, value: number, max: number, what: string): void {
  if ((value & 0xff) !== value || value > max) throw new RangeError(`${what} must be 0..${max}, got ${String(value)}`);
  w.u8(value, what);
}

function readEnum(r: ByteReader, max: number, what: string): number {
  const value = r.u8(what);
  if (value > max && r.error === null) r.fail('bad-value', `${what} is ${value}, expected 0..${max}`);
  return value;
}

export function writeRouted(w: ByteWriter, msg: RoutedMessage): void {
  w.address(msg.source, 'routed source');
  w.address(msg.destination, 'routed destination');
  writeEnum(w, msg.mode, ROUTE_MODE_MAX, 'routed mode');
  w.bool(msg.excludeSource, 'routed excludeSource');
  w.u8(msg.ttl, 'routed ttl');
  w.u8(msg.hops, 'routed hops');
  if (msg.forwardTo === null) {
    w.u8(0, 'routed hasForward');
  } else {
    w.u8(1, 'routed hasForward');
    w.address(msg.forwardTo, 'routed forwardTo');
  }
  writeBody(w, msg.body);
}

function writeBody(w: ByteWriter, body: RoutedBody): void {
  switch (body.type) {
    case 'connect-request':
      w.u8(RoutedBodyType.CONNECT_REQUEST, 'body type');
      w.u32(body.token, 'connect-request token');
      writeEnum(w, body.purpose, CONNECT_PURPOSE_MAX, 'connect-request purpose');
      writePeerRecord(w, body.requester, 'connect-request requester');
      w.bool(body.via !== null, 'connect-request hasVia');
      if (body.via !== null) w.address(body.via, 'connect-request via');
      return;
    case 'connect-reply':
      w.u8(RoutedBodyType.CONNECT_REPLY, 'body type');
      w.u32(body.token, 'connect-reply token');
      writePeerRecord(w, body.responder, 'connect-reply responder');
      writePeerList(w, body.left, 'connect-reply left neighbours');
      writePeerList(w, body.right, 'connect-reply right neighbours');
      return;
    case 'ping':
      w.u8(RoutedBodyType.PING, 'body type');
      w.u32(body.id, 'ping id');
      w.f64(body.sentAt, 'ping sentAt');
      return;
    case 'pong':
      w.u8(RoutedBodyType.PONG, 'body type');
      w.u32(body.id, 'pong id');
      w.f64(body.sentAt, 'pong sentAt');
      w.u8(body.requestHops, 'pong requestHops');
      return;
    case 'dht-request':
      w.u8(RoutedBodyType.DHT_REQUEST, 'body type');
      w.u32(body.requestId, 'dht-request requestId');
      writeEnum(w, body.op, DHT_OP_MAX, 'dht-request op');
      w.prefixed(body.key, 1, 1, MAX_DHT_KEY_BYTES, 'dht-request key');
      if (body.record === null) {
        w.u8(0, 'dht-request hasRecord');
      } else {
        w.u8(1, 'dht-request hasRecord');
        writeDhtRecord(w, body.record);
      }
      return;
    case 'dht-response':
      w.u8(RoutedBodyType.DHT_RESPONSE, 'body type');
      w.u32(body.requestId, 'dht-response requestId');
      writeEnum(w, body.status, DHT_STATUS_MAX, 'dht-response status');
      if (body.records.length > MAX_DHT_RECORDS_PER_MESSAGE) {
        throw new RangeError(
          `dht-response has ${body.records.length} records, at most ${MAX_DHT_RECORDS_PER_MESSAGE} allowed`,
        );
      }
      w.u8(body.records.length, 'dht-response count');
      for (const record of body.records) writeDhtRecord(w, record);
      return;
    case 'crawl-request':
      w.u8(RoutedBodyType.CRAWL_REQUEST, 'body type');
      w.u32(body.id, 'crawl-request id');
      return;
    case 'crawl-reply':
      w.u8(RoutedBodyType.CRAWL_REPLY, 'body type');
      w.u32(body.id, 'crawl-reply id');
      writePeerList(w, body.left, 'crawl-reply left neighbours');
      writePeerList(w, body.right, 'crawl-reply right neighbours');
      return;
    case 'app':
      w.u8(RoutedBodyType.APP, 'body type');
      w.u16(body.channel, 'app channel');
      w.prefixed(body.data, 2, 0, MAX_APP_DATA_BYTES, 'app data');
      return;
    case 'path-request':
    case 'path-reply':
      w.u8(body.type === 'path-request' ? RoutedBodyType.PATH_REQUEST : RoutedBodyType.PATH_REPLY, 'body type');
      w.u32(body.token, `${body.type} token`);
      writePeerRecord(w, body.type === 'path-request' ? body.requester : body.responder, `${body.type} peer`);
      writeNeighbourList(w, body.neighbours, body.type);
      if (body.type === 'path-request') {
        w.u8((body.via !== null ? PATH_REQUEST_HAS_VIA : 0) | (body.directBroken ? PATH_REQUEST_DIRECT_BROKEN : 0), 'path-request flags');
        if (body.via !== null) w.address(body.via, 'path-request via');
      }
      return;
    default:
      throw new TypeError(`unknown routed body type ${JSON.stringify((body as { type: unknown }).type)}`);
  }
}

/** Reads the routed header and body (after the version and type bytes). */
export function readRouted(r: ByteReader): RoutedMessage {
  const source = r.address('routed source');
  const destination = r.address('routed destination');
  const mode = readEnum(r, ROUTE_MODE_MAX, 'routed mode') as RouteModeValue;
  const excludeSource = r.bool('routed excludeSource');
  const ttl = r.u8('routed ttl');
  const hops = r.u8('routed hops');
  const forwardTo = r.bool('routed hasForward') ? r.address('routed forwardTo') : null;
  const body = readBody(r);
  return { kind: 'routed', source, destination, mode, excludeSource, ttl, hops, forwardTo, body };
}

/** When `r` has recorded an error the returned body is a placeholder, to be discarded by the caller. */
function readBody(r: ByteReader): RoutedBody {
  const type = r.u8('body type');
  switch (type) {
    case RoutedBodyType.CONNECT_REQUEST: {
      const token = r.u32('connect-request token');
      const purpose = readEnum(r, CONNECT_PURPOSE_MAX, 'connect-request purpose') as ConnectPurposeValue;
      const requester = readPeerRecord(r, 'connect-request requester');
      const via = r.bool('connect-request hasVia') ? r.address('connect-request via') : null;
      return { type: 'connect-request', token, purpose, requester, via };
    }
    case RoutedBodyType.CONNECT_REPLY: {
      const token = r.u32('connect-reply token');
      const responder = readPeerRecord(r, 'connect-reply responder');
      const left = readPeerList(r, 'connect-reply', 'left');
      const right = readPeerList(r, 'connect-reply', 'right');
      return { type: 'connect-reply', token, responder, left, right };
    }
    case RoutedBodyType.PING: {
      const id = r.u32('ping id');
      const sentAt = r.f64('ping sentAt');
      return { type: 'ping', id, sentAt };
    }
    case RoutedBodyType.PONG: {
      const id = r.u32('pong id');
      const sentAt = r.f64('pong sentAt');
      const requestHops = r.u8('pong requestHops');
      return { type: 'pong', id, sentAt, requestHops };
    }
    case RoutedBodyType.DHT_REQUEST: {
      const requestId = r.u32('dht-request requestId');
      const op = readEnum(r, DHT_OP_MAX, 'dht-request op') as DhtOpValue;
      const key = r.prefixed(1, 1, MAX_DHT_KEY_BYTES, 'dht-request key');
      const record = r.bool('dht-request hasRecord') ? readDhtRecord(r) : null;
      return { type: 'dht-request', requestId, op, key, record };
    }
    case RoutedBodyType.DHT_RESPONSE: {
      const requestId = r.u32('dht-response requestId');
      const status = readEnum(r, DHT_STATUS_MAX, 'dht-response status') as DhtStatusValue;
      const count = r.count(0, MAX_DHT_RECORDS_PER_MESSAGE, 'dht-response record count');
      const records: DhtRecord[] = [];
      for (let i = 0; i < count && r.error === null; i++) records.push(readDhtRecord(r));
      return { type: 'dht-response', requestId, status, records };
    }
    case RoutedBodyType.CRAWL_REQUEST:
      return { type: 'crawl-request', id: r.u32('crawl-request id') };
    case RoutedBodyType.CRAWL_REPLY: {
      const id = r.u32('crawl-reply id');
      const left = readPeerList(r, 'crawl-reply', 'left');
      const right = readPeerList(r, 'crawl-reply', 'right');
      return { type: 'crawl-reply', id, left, right };
    }
    case RoutedBodyType.APP: {
      const channel = r.u16('app channel');
      const data = r.prefixed(2, 0, MAX_APP_DATA_BYTES, 'app data');
      return { type: 'app', channel, data };
    }
    case RoutedBodyType.PATH_REQUEST:
    case RoutedBodyType.PATH_REPLY: {
      const name = type === RoutedBodyType.PATH_REQUEST ? 'path-request' : 'path-reply';
      const token = r.u32(`${name} token`);
      const peer = readPeerRecord(r, `${name} peer`);
      const neighbours = readNeighbourList(r, name);
      if (type === RoutedBodyType.PATH_REQUEST) {
        const flags = r.u8('path-request flags');
        if ((flags & ~(PATH_REQUEST_HAS_VIA | PATH_REQUEST_DIRECT_BROKEN)) !== 0 && r.error === null) {
          r.fail('bad-value', `path-request flags 0x${flags.toString(16)} has unknown bits`);
        }
        const via = (flags & PATH_REQUEST_HAS_VIA) !== 0 ? r.address('path-request via') : null;
        return { type: 'path-request', token, requester: peer, neighbours, via, directBroken: (flags & PATH_REQUEST_DIRECT_BROKEN) !== 0 };
      }
      return { type: 'path-reply', token, responder: peer, neighbours };
    }
    default:
      if (r.error === null) r.fail('unknown-type', `routed body type 0x${type.toString(16)} is unknown`);
      return { type: 'crawl-request', id: 0 };
  }
}

const RTT_UNKNOWN = 0xffff;

function writeNeighbourList(w: ByteWriter, neighbours: readonly NeighbourInfo[], what: string): void {
  if (neighbours.length > MAX_PATH_NEIGHBOURS) {
    throw new RangeError(`${what} lists ${neighbours.length} neighbours, at most ${MAX_PATH_NEIGHBOURS} allowed`);
  }
  w.u8(neighbours.length, `${what} neighbour count`);
  for (const n of neighbours) {
    w.address(n.address, `${what} neighbour`);
    w.u32(n.ageSeconds, `${what} neighbour age`);
    if (n.rttMs !== null && (!Number.isInteger(n.rttMs) || n.rttMs < 0 || n.rttMs >= RTT_UNKNOWN)) {
      throw new RangeError(`${what} neighbour rtt ${n.rttMs} is not an integer below ${RTT_UNKNOWN}`);
    }
    w.u16(n.rttMs ?? RTT_UNKNOWN, `${what} neighbour rtt`);
  }
}

function readNeighbourList(r: ByteReader, what: string): NeighbourInfo[] {
  const count = r.count(0, MAX_PATH_NEIGHBOURS, `${what} neighbour count`);
  const out: NeighbourInfo[] = [];
  for (let i = 0; i < count && r.error === null; i++) {
    const address = r.address(`${what} neighbour`);
    const ageSeconds = r.u32(`${what} neighbour age`);
    const rtt = r.u16(`${what} neighbour rtt`);
    out.push({ address, ageSeconds, rttMs: rtt === RTT_UNKNOWN ? null : rtt });
  }
  return out;
}
