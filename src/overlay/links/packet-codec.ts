import { MAX_CREDENTIAL_BYTES } from '../admission.js';
import { type Result, err, ok } from '../result.js';

/**
 * The link layer's outer packets: what travels in one UDP datagram between two nodes.
 * Every packet starts with the protocol version and the packet type. The decoder never throws:
 * every length is checked against the bytes actually present. Field views returned by the
 * decoder alias the datagram (no copies); copy what you keep.
 *
 * Integers are big-endian. The INIT's u64 timestamp and DATA's u56 counter are limited to
 * 2^53 - 1 so they fit a JavaScript number exactly; larger values are malformed.
 */
export const PROTOCOL_VERSION = 1;

/** Packet type byte (second byte of every packet). */
export const PacketType = {
  HANDSHAKE_INIT: 0x01,
  HANDSHAKE_RESP: 0x02,
  DATA: 0x03,
} as const;
export type PacketTypeValue = (typeof PacketType)[keyof typeof PacketType];

export const INDEX_BYTES = 4;
export const KX_KEY_BYTES = 32;
export const STATIC_KEY_BYTES = 32;
export const NETWORK_ID_BYTES = 16;
export const SIGNATURE_BYTES = 64;

/**
 * HANDSHAKE_INIT, initiator → responder. At least {@link MIN_INIT_BYTES} long thanks to the
 * padding, so that a responder never answers with more bytes than it received.
 *
 * ```
 *  0      1      2              6                    38                   70
 * +------+------+--------------+--------------------+--------------------+
 * | ver  | 0x01 | sender index | ephemeral X25519   | static Ed25519 key |
 * |  1   |      | u32          | public key (32)    | (32)               |
 * +------+------+--------------+--------------------+--------------------+
 *  70                   86                  94        96
 * +--------------------+-------------------+---------+-------------------+
 * | networkId (16)     | timestamp u64 ms  | cred    | credential        |
 * |                    |                   | len u16 | (0..1024)         |
 * +--------------------+-------------------+---------+-------------------+
 *  96 + len            160 + len
 * +-------------------+------------------------------------------------+
 * | signature (64)    | zero padding up to at least 1200 bytes in all  |
 * | over bytes 0..96+len, with a domain label (handshake.ts)            |
 * +-------------------+------------------------------------------------+
 * ```
 */
export const INIT_FIXED_BYTES = 96;
/** 1200 bytes: the QUIC anti-amplification floor; every RESP fits under it (at most 1164 bytes). */
export const MIN_INIT_BYTES = 1200;

/**
 * HANDSHAKE_RESP, responder → initiator. Never longer than the INIT that caused it: the
 * largest RESP (1164 bytes, with a 1024-byte credential) is under {@link MIN_INIT_BYTES}.
 *
 * ```
 *  0      1      2              6                8                   40
 * +------+------+--------------+----------------+-------------------+
 * | ver  | 0x02 | sender index | receiver index | ephemeral X25519  |
 * |  1   |      | u32          | u32 (INIT's)   | public key (32)   |
 * +------+------+--------------+----------------+-------------------+
 *  42                   74        76                76 + len
 * +--------------------+---------+-----------------+-------------------+
 * | static Ed25519 key | cred    | credential      | signature (64)    |
 * | (32)               | len u16 | (0..1024)       | over hash(INIT) + |
 * |                    |         |                 | bytes 0..76+len   |
 * +--------------------+---------+-----------------+-------------------+
 * ```
 */
export const RESP_FIXED_BYTES = 76;

/**
 * DATA, either direction, once a session exists. The 14-byte header is the AEAD's associated
 * data (the epoch byte is authenticated too); the nonce is 4 zero bytes followed by the counter
 * as a u64. The counter keeps increasing across key epochs (one replay window per session).
 *
 * ```
 *  0      1      2                6       7                         14
 * +------+------+----------------+-------+-------------------------+---------------------+
 * | ver  | 0x03 | receiver index | epoch | counter u56             | ciphertext of       |
 * |  1   |      | u32            | u8    | (at most 2^53 - 1)      | content + 16 B tag  |
 * +------+------+----------------+-------+-------------------------+---------------------+
 * ```
 *
 * epoch: the sender's key epoch in this session, mod 256 (key updates, session.ts). It takes
 * the top byte of what was a u64 counter, a byte that was always zero since counters stay under
 * 2^53, so the header keeps its 14 bytes and payload sizes do not change.
 */
export const DATA_HEADER_BYTES = 14;
/** The content-type byte (content-codec.ts) is always present. */
export const MIN_DATA_BYTES = DATA_HEADER_BYTES + 1;

/** The largest UDP payload over IPv4; nothing larger is ever sent or accepted. */
export const MAX_DATAGRAM_BYTES = 65_507;

const TWO_32 = 4294967296;
/** hi word limit so that hi * 2^32 + lo stays ≤ 2^53 - 1. */
const MAX_SAFE_HI = 0x1fffff;

export type PacketErrorCode =
  | 'too-short'
  | 'too-long'
  | 'bad-version'
  | 'unknown-type'
  | 'bad-length'
  | 'credential-too-long'
  | 'value-out-of-range';

export interface PacketError {
  code: PacketErrorCode;
  message: string;
}

export interface HandshakeInit {
  type: typeof PacketType.HANDSHAKE_INIT;
  senderIndex: number;
  ephemeral: Uint8Array;
  staticKey: Uint8Array;
  networkId: Uint8Array;
  timestamp: number;
  credential: Uint8Array;
  signature: Uint8Array;
  /** Bytes covered by the signature. */
  signed: Uint8Array;
  /** The signed bytes plus the signature (what the transcript hashes; padding excluded). */
  authenticated: Uint8Array;
}

export interface HandshakeResp {
  type: typeof PacketType.HANDSHAKE_RESP;
  senderIndex: number;
  receiverIndex: number;
  ephemeral: Uint8Array;
  staticKey: Uint8Array;
  credential: Uint8Array;
  signature: Uint8Array;
  signed: Uint8Array;
}

export interface DataPacket {
  type: typeof PacketType.DATA;
  receiverIndex: number;
  /** The sender's key epoch mod 256. */
  epoch: number;
  counter: number;
  header: Uint8Array;
  body: Uint8Array;
}

export type Packet = HandshakeInit | HandshakeResp | DataPacket;

const fail = (code: PacketErrorCode, message: string): { ok: false; error: PacketError } => err({ code, message });

/** Decodes one datagram. Never throws. */
export function decodePacket(bytes: Uint8Array): Result<Packet, PacketError> {
  if (bytes.length < 2) return fail('too-short', `packet of ${bytes.length} bytes has no header`);
  if (bytes.length > MAX_DATAGRAM_BYTES) return fail('too-long', `packet of ${bytes.length} bytes exceeds a datagram`);
  if (bytes[0] !== PROTOCOL_VERSION) return fail('bad-version', `unsupported protocol version ${bytes[0]}`);
  switch (bytes[1]) {
    case PacketType.HANDSHAKE_INIT:
      return decodeInit(bytes);
    case PacketType.HANDSHAKE_RESP:
      return decodeResp(bytes);
    case PacketType.DATA:
      return decodeData(bytes);
    default:
      return fail('unknown-type', `unknown packet type ${bytes[1]}`);
  }
}

function decodeInit(bytes: Uint8Array): Result<HandshakeInit, PacketError> {
  if (bytes.length < MIN_INIT_BYTES) return fail('too-short', `INIT of ${bytes.length} bytes is under ${MIN_INIT_BYTES}`);
  const credLen = readU16(bytes, 94);
  if (credLen > MAX_CREDENTIAL_BYTES) return fail('credential-too-long', `credential of ${credLen} bytes exceeds ${MAX_CREDENTIAL_BYTES}`);
  const signedEnd = INIT_FIXED_BYTES + credLen;
  const end = signedEnd + SIGNATURE_BYTES;
  if (bytes.length < end) return fail('bad-length', 'INIT is shorter than its credential and signature');
  const timestamp = readU64(bytes, 86);
  if (timestamp < 0) return fail('value-out-of-range', 'INIT timestamp is out of range');
  return ok({
    type: PacketType.HANDSHAKE_INIT,
    senderIndex: readU32(bytes, 2),
    ephemeral: bytes.subarray(6, 38),
    staticKey: bytes.subarray(38, 70),
    networkId: bytes.subarray(70, 86),
    timestamp,
    credential: bytes.subarray(INIT_FIXED_BYTES, signedEnd),
    signature: bytes.subarray(signedEnd, end),
    signed: bytes.subarray(0, signedEnd),
    authenticated: bytes.subarray(0, end),
  });
}

function decodeResp(bytes: Uint8Array): Result<HandshakeResp, PacketError> {
  if (bytes.length < RESP_FIXED_BYTES + SIGNATURE_BYTES) return fail('too-short', `RESP of ${bytes.length} bytes is too short`);
  const credLen = readU16(bytes, 74);
  if (credLen > MAX_CREDENTIAL_BYTES) return fail('credential-too-long', `credential of ${credLen} bytes exceeds ${MAX_CREDENTIAL_BYTES}`);
  const signedEnd = RESP_FIXED_BYTES + credLen;
  if (bytes.length !== signedEnd + SIGNATURE_BYTES) return fail('bad-length', 'RESP length does not match its credential length');
  return ok({
    type: PacketType.HANDSHAKE_RESP,
    senderIndex: readU32(bytes, 2),
    receiverIndex: readU32(bytes, 6),
    ephemeral: bytes.subarray(10, 42),
    staticKey: bytes.subarray(42, 74),
    credential: bytes.subarray(RESP_FIXED_BYTES, signedEnd),
    signature: bytes.subarray(signedEnd),
    signed: bytes.subarray(0, signedEnd),
  });
}

function decodeData(bytes: Uint8Array): Result<DataPacket, PacketError> {
  if (bytes.length < MIN_DATA_BYTES) return fail('too-short', `DATA of ${bytes.length} bytes is too short`);
  const counter = readDataCounter(bytes);
  if (counter < 0) return fail('value-out-of-range', 'DATA counter is out of range');
  return ok({
    type: PacketType.DATA,
    receiverIndex: readU32(bytes, 2),
    epoch: readDataEpoch(bytes),
    counter,
    header: bytes.subarray(0, DATA_HEADER_BYTES),
    body: bytes.subarray(DATA_HEADER_BYTES),
  });
}

export interface InitFields {
  senderIndex: number;
  ephemeral: Uint8Array;
  staticKey: Uint8Array;
  networkId: Uint8Array;
  timestamp: number;
  credential: Uint8Array;
}

/** Builds an INIT; `sign` receives the bytes to sign and returns the 64-byte signature. */
export function encodeInit(f: InitFields, sign: (signed: Uint8Array) => Uint8Array): Uint8Array {
  checkLength('ephemeral', f.ephemeral, KX_KEY_BYTES);
  checkLength('static key', f.staticKey, STATIC_KEY_BYTES);
  checkLength('networkId', f.networkId, NETWORK_ID_BYTES);
  checkCredential(f.credential);
  const signedEnd = INIT_FIXED_BYTES + f.credential.length;
  const out = new Uint8Array(Math.max(MIN_INIT_BYTES, signedEnd + SIGNATURE_BYTES));
  out[0] = PROTOCOL_VERSION;
  out[1] = PacketType.HANDSHAKE_INIT;
  writeU32(out, 2, f.senderIndex);
  out.set(f.ephemeral, 6);
  out.set(f.staticKey, 38);
  out.set(f.networkId, 70);
  writeU64(out, 86, f.timestamp);
  writeU16(out, 94, f.credential.length);
  out.set(f.credential, INIT_FIXED_BYTES);
  const signature = sign(out.subarray(0, signedEnd));
  checkLength('signature', signature, SIGNATURE_BYTES);
  out.set(signature, signedEnd);
  return out;
}

export interface RespFields {
  senderIndex: number;
  receiverIndex: number;
  ephemeral: Uint8Array;
  staticKey: Uint8Array;
  credential: Uint8Array;
}

export function encodeResp(f: RespFields, sign: (signed: Uint8Array) => Uint8Array): Uint8Array {
  checkLength('ephemeral', f.ephemeral, KX_KEY_BYTES);
  checkLength('static key', f.staticKey, STATIC_KEY_BYTES);
  checkCredential(f.credential);
  const signedEnd = RESP_FIXED_BYTES + f.credential.length;
  const out = new Uint8Array(signedEnd + SIGNATURE_BYTES);
  out[0] = PROTOCOL_VERSION;
  out[1] = PacketType.HANDSHAKE_RESP;
  writeU32(out, 2, f.senderIndex);
  writeU32(out, 6, f.receiverIndex);
  out.set(f.ephemeral, 10);
  out.set(f.staticKey, 42);
  writeU16(out, 74, f.credential.length);
  out.set(f.credential, RESP_FIXED_BYTES);
  const signature = sign(out.subarray(0, signedEnd));
  checkLength('signature', signature, SIGNATURE_BYTES);
  out.set(signature, signedEnd);
  return out;
}

/** Writes the DATA header into the first {@link DATA_HEADER_BYTES} of `out` (`epoch` is taken mod 256). */
export function writeDataHeader(out: Uint8Array, receiverIndex: number, epoch: number, counter: number): void {
  out[0] = PROTOCOL_VERSION;
  out[1] = PacketType.DATA;
  writeU32(out, 2, receiverIndex);
  writeU64(out, 6, counter); // byte 6 is 0: the counter is under 2^53
  out[6] = epoch & 0xff;
}

/** The receiver index of a DATA packet (the caller has checked the length). */
export function readDataReceiverIndex(bytes: Uint8Array): number {
  return readU32(bytes, 2);
}

/** The key epoch (mod 256) of a DATA packet (the caller has checked the length). */
export function readDataEpoch(bytes: Uint8Array): number {
  return bytes[6] as number;
}

/** The u56 counter of a DATA packet, or -1 when above 2^53 - 1 (the caller has checked the length). */
export function readDataCounter(bytes: Uint8Array): number {
  const hi = ((bytes[7] as number) << 16) | ((bytes[8] as number) << 8) | (bytes[9] as number);
  if (hi > MAX_SAFE_HI) return -1;
  return hi * TWO_32 + readU32(bytes, 10);
}

export function readU16(b: Uint8Array, at: number): number {
  return ((b[at] as number) << 8) | (b[at + 1] as number);
}

export function readU32(b: Uint8Array, at: number): number {
  return (
    (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0
  );
}

/** -1 when the value does not fit 2^53 - 1. */
export function readU64(b: Uint8Array, at: number): number {
  const hi = readU32(b, at);
  if (hi > MAX_SAFE_HI) return -1;
  return hi * TWO_32 + readU32(b, at + 4);
}

export function writeU16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

export function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

export function writeU64(b: Uint8Array, at: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 value ${v} is not a safe non-negative integer`);
  writeU32(b, at, Math.floor(v / TWO_32));
  writeU32(b, at + 4, v % TWO_32);
}

function checkLength(name: string, bytes: Uint8Array, expected: number): void {
  if (bytes.length !== expected) throw new RangeError(`${name} must be ${expected} bytes, got ${bytes.length}`);
}

function checkCredential(credential: Uint8Array): void {
  if (credential.length > MAX_CREDENTIAL_BYTES) {
    throw new RangeError(`credential of ${credential.length} bytes exceeds ${MAX_CREDENTIAL_BYTES}`);
  }
}
