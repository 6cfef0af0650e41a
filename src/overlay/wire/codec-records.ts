import { err, ok, type Result } from '../result.js';
import { ByteReader, ByteWriter } from './bytes.js';
import { readEndpoint, writeEndpoint } from './endpoint-bytes.js';
import {
  DhtRecordFlag,
  MAX_DHT_KEY_BYTES,
  MAX_DHT_VALUE_BYTES,
  MAX_ENDPOINTS_PER_PEER,
  MAX_MESSAGE_BYTES,
  MAX_NEIGHBOURS_PER_SIDE,
  type DhtRecord,
  type PeerRecord,
  type WireError,
  NatKind,
  type NatKindValue,
} from './messages.js';

/**
 * The records that messages are built from: peer records, neighbour lists and DHT records.
 * All integers are big-endian; sizes in bytes.
 */

export const DHT_WRITER_BYTES = 32;
export const DHT_SIGNATURE_BYTES = 64;
/** The domain string that prefixes the bytes a DHT record's signature covers. */
export const DHT_RECORD_SIGNING_DOMAIN = 'ringvpn-dht-record-v1';
const DHT_RECORD_SIGNING_PREFIX = new TextEncoder().encode(DHT_RECORD_SIGNING_DOMAIN);
const KNOWN_DHT_FLAGS = DhtRecordFlag.TOMBSTONE;

/**
 * The one writer every encoder fills (encoding is synchronous and never re-entered); each public
 * encoder resets it and returns a copy, so no allocation happens per field.
 */
export const sharedWriter = new ByteWriter(4096);

/*
 * PeerRecord
 *   +-------------+-------+---------------------------------+
 *   | address     | meta  | endpoint (7 or 19) x count      |
 *   | 20          | 1     | see endpoint-bytes.ts           |
 *   +-------------+-------+---------------------------------+
 *   meta: bits 0-3 count (0..MAX_ENDPOINTS_PER_PEER = 4), bits 4-5 nat (a NatKind, 0..2; 0 is
 *   written for an absent one), bits 6-7 zero.
 */
export function writePeerRecord(w: ByteWriter, peer: PeerRecord, what: string): void {
  w.address(peer.address, what);
  const endpoints = peer.endpoints;
  if (endpoints.length > MAX_ENDPOINTS_PER_PEER) {
    throw new RangeError(`${what} has ${endpoints.length} endpoints, at most ${MAX_ENDPOINTS_PER_PEER} allowed`);
  }
  const nat = peer.nat ?? NatKind.NONE;
  if (!Number.isInteger(nat) || nat < 0 || nat > NatKind.ENDPOINT_DEPENDENT) throw new RangeError(`${what} has unknown nat kind ${nat}`);
  w.u8(endpoints.length | (nat << 4), what);
  for (const endpoint of endpoints) writeEndpoint(w, endpoint, what);
}

export function readPeerRecord(r: ByteReader, what: string): PeerRecord {
  const address = r.address(what);
  const meta = r.u8(what);
  const count = meta & 0x0f;
  const nat = (meta >> 4) & 0x03;
  const endpoints: string[] = [];
  if (count > MAX_ENDPOINTS_PER_PEER && r.error === null) {
    r.fail('bad-length', `${what} lists ${count} endpoints, at most ${MAX_ENDPOINTS_PER_PEER} allowed`);
  }
  if ((meta & 0xc0) !== 0 || nat > NatKind.ENDPOINT_DEPENDENT) {
    if (r.error === null) r.fail('bad-value', `${what} has unknown bits in its endpoint count byte (0x${meta.toString(16)})`);
  }
  for (let i = 0; i < count && r.error === null; i++) endpoints.push(readEndpoint(r, what));
  // Canonical: NONE is written for an absent kind, so NONE decodes as absent.
  return nat === NatKind.NONE ? { address, endpoints } : { address, endpoints, nat: nat as NatKindValue };
}

/*
 * PeerList (one side of a neighbour list)
 *   +-------+-------------------------------+
 *   | count | PeerRecord x count            |
 *   | 1     | variable                      |
 *   +-------+-------------------------------+
 *   count is 0..MAX_NEIGHBOURS_PER_SIDE (8).
 */
export function writePeerList(w: ByteWriter, peers: PeerRecord[], what: string): void {
  if (peers.length > MAX_NEIGHBOURS_PER_SIDE) {
    throw new RangeError(`${what} has ${peers.length} peers, at most ${MAX_NEIGHBOURS_PER_SIDE} allowed`);
  }
  w.u8(peers.length, what);
  for (const peer of peers) writePeerRecord(w, peer, what);
}

/** `owner` and `side` only build the error text: "status message lists 12 left neighbours, ...". */
export function readPeerList(r: ByteReader, owner: string, side: 'left' | 'right'): PeerRecord[] {
  const what = side === 'left' ? 'left neighbour' : 'right neighbour';
  const count = r.u8(what);
  const peers: PeerRecord[] = [];
  if (count > MAX_NEIGHBOURS_PER_SIDE && r.error === null) {
    r.fail('bad-length', `${owner} lists ${count} ${side} neighbours, at most ${MAX_NEIGHBOURS_PER_SIDE} allowed`);
  }
  for (let i = 0; i < count && r.error === null; i++) peers.push(readPeerRecord(r, what));
  return peers;
}

/*
 * DhtRecord
 *   +--------+---------+--------+-----------+--------+----------+------------+-------+-----------+
 *   | keyLen | key     | valLen | value     | writer | issuedAt | ttlSeconds | flags | signature |
 *   | 1      | keyLen  | 2      | valLen    | 32     | 8        | 4          | 1     | 64        |
 *   +--------+---------+--------+-----------+--------+----------+------------+-------+-----------+
 *   keyLen 1..64, valLen 0..1024, issuedAt 0..2^53-1 (ms), flags only DhtRecordFlag bits.
 *   Everything before the signature is what dhtRecordSignedBytes covers (after its domain string).
 */
function writeDhtRecordUnsigned(w: ByteWriter, record: Omit<DhtRecord, 'signature'>): void {
  w.prefixed(record.key, 1, 1, MAX_DHT_KEY_BYTES, 'DHT record key');
  w.prefixed(record.value, 2, 0, MAX_DHT_VALUE_BYTES, 'DHT record value');
  w.fixed(record.writer, DHT_WRITER_BYTES, 'DHT record writer');
  w.u64(record.issuedAt, 'DHT record issuedAt');
  w.u32(record.ttlSeconds, 'DHT record ttlSeconds');
  if ((record.flags & ~KNOWN_DHT_FLAGS) !== 0) {
    throw new RangeError(`DHT record flags ${String(record.flags)} has unknown bits`);
  }
  w.u8(record.flags, 'DHT record flags');
}

export function writeDhtRecord(w: ByteWriter, record: DhtRecord): void {
  writeDhtRecordUnsigned(w, record);
  w.fixed(record.signature, DHT_SIGNATURE_BYTES, 'DHT record signature');
}

export function readDhtRecord(r: ByteReader): DhtRecord {
  const key = r.prefixed(1, 1, MAX_DHT_KEY_BYTES, 'DHT record key');
  const value = r.prefixed(2, 0, MAX_DHT_VALUE_BYTES, 'DHT record value');
  const writer = r.fixed(DHT_WRITER_BYTES, 'DHT record writer');
  const issuedAt = r.u64('DHT record issuedAt');
  const ttlSeconds = r.u32('DHT record ttlSeconds');
  const flags = r.u8('DHT record flags');
  if ((flags & ~KNOWN_DHT_FLAGS) !== 0 && r.error === null) {
    r.fail('bad-value', `DHT record flags 0x${flags.toString(16)} has unknown bits`);
  }
  const signature = r.fixed(DHT_SIGNATURE_BYTES, 'DHT record signature');
  return { key, value, writer, issuedAt, ttlSeconds, flags, signature };
}

/** Checks the overall size, runs `read` and requires every byte to be consumed. */
function decodeWhole<T>(bytes: Uint8Array, what: string, read: (r: ByteReader) => T): Result<T, WireError> {
  if (bytes.length > MAX_MESSAGE_BYTES) {
    return err({ code: 'too-large', message: `${what} is ${bytes.length} bytes, at most ${MAX_MESSAGE_BYTES} allowed` });
  }
  const r = new ByteReader(bytes);
  const value = read(r);
  r.expectEnd(what);
  return r.error === null ? ok(value) : err(r.error);
}

/** A peer record on its own (no version or type byte), as laid out above. */
export function encodePeerRecord(peer: PeerRecord): Uint8Array {
  writePeerRecord(sharedWriter.reset(), peer, 'peer record');
  return sharedWriter.finish();
}

/** The inverse of encodePeerRecord. Never throws. */
export function decodePeerRecord(bytes: Uint8Array): Result<PeerRecord, WireError> {
  return decodeWhole(bytes, 'peer record', (r) => readPeerRecord(r, 'peer record'));
}

/** A DHT record on its own (no version or type byte), as laid out above. */
export function encodeDhtRecord(record: DhtRecord): Uint8Array {
  writeDhtRecord(sharedWriter.reset(), record);
  return sharedWriter.finish();
}

/** The inverse of encodeDhtRecord. Never throws; byte fields alias `bytes`. */
export function decodeDhtRecord(bytes: Uint8Array): Result<DhtRecord, WireError> {
  return decodeWhole(bytes, 'DHT record', readDhtRecord);
}

/**
 * The bytes a DHT record's writer signs: the ASCII domain string "ringvpn-dht-record-v1" (21 bytes,
 * no terminator), then every field but the signature exactly as in the DhtRecord layout above.
 * Throws like the encoders for a record that could not go on the wire.
 */
export function dhtRecordSignedBytes(record: Omit<DhtRecord, 'signature'>): Uint8Array {
  const w = sharedWriter.reset();
  w.fixed(DHT_RECORD_SIGNING_PREFIX, DHT_RECORD_SIGNING_PREFIX.length, 'signing domain');
  writeDhtRecordUnsigned(w, record);
  return w.finish();
}
