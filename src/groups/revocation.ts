import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, sign, verify } from '../overlay/crypto.js';
import { type Result, err, ok } from '../overlay/result.js';
import { type DecodeError, RecordReader, RecordWriter, bytesEqual, copyBytes, compareBytes, concatBytes, toHex } from './binary.js';
import type { RevocationView, TrustAnchor } from './certificate.js';
import { GROUP_ID_BYTES, RECORD_VERSION, RecordKind, SIGNING_CONTEXT } from './records.js';

/**
 * Revocation is by certificate serial and by member public key, never by a hash of certificate
 * bytes (which a re-encoded signature could dodge).
 *
 * CRL:
 * ```
 * | ver=1 | kind=2 | group id (16) | sequence u64 | issuedAt u64 ms |
 * | serial count u16 | serials u64 … (strictly increasing)          |
 * | key count u16 | public keys 32 … (strictly increasing, bytewise) |
 * | CA signature (64)                                               |
 * ```
 * Single revocation record (stored in the DHT and broadcast over the private ring):
 * ```
 * | ver=1 | kind=3 | group id (16) | target: 1 serial, 2 key | serial u64 or key (32) |
 * | revokedAt u64 ms | CA signature (64) |
 * ```
 */

export const MAX_CRL_ENTRIES = 20_000;

export interface CrlFields {
  groupId: Uint8Array;
  /** Grows by one with every revocation: a newer CRL always has a larger sequence. */
  sequence: number;
  issuedAt: number;
  serials: readonly number[];
  publicKeys: readonly Uint8Array[];
}

export interface Crl extends CrlFields {
  signature: Uint8Array;
  signedBytes: Uint8Array;
  bytes: Uint8Array;
}

export type RevocationTarget = { kind: 'serial'; serial: number } | { kind: 'key'; publicKey: Uint8Array };

export interface RevocationRecordFields {
  groupId: Uint8Array;
  target: RevocationTarget;
  revokedAt: number;
}

export interface RevocationRecord extends RevocationRecordFields {
  signature: Uint8Array;
  signedBytes: Uint8Array;
  bytes: Uint8Array;
}

const TARGET_SERIAL = 1;
const TARGET_KEY = 2;

export function signCrl(fields: CrlFields, caSecretKey: Uint8Array): Crl {
  const serials = [...new Set(fields.serials)].sort((a, b) => a - b);
  const keys = dedupeKeys(fields.publicKeys);
  if (serials.length > MAX_CRL_ENTRIES || keys.length > MAX_CRL_ENTRIES) throw new RangeError('too many revocations for one CRL');
  const w = new RecordWriter()
    .u8(RECORD_VERSION, 'version')
    .u8(RecordKind.CRL, 'kind')
    .fixed(fields.groupId, GROUP_ID_BYTES, 'group id')
    .u64(fields.sequence, 'sequence')
    .u64(fields.issuedAt, 'issuedAt')
    .u16(serials.length, 'serial count');
  for (const s of serials) w.u64(s, 'serial');
  w.u16(keys.length, 'key count');
  for (const k of keys) w.fixed(k, PUBLIC_KEY_BYTES, 'public key');
  const signedBytes = w.finish();
  const signature = sign(concatBytes(SIGNING_CONTEXT.crl, signedBytes), caSecretKey);
  return {
    groupId: Uint8Array.from(fields.groupId),
    sequence: fields.sequence,
    issuedAt: fields.issuedAt,
    serials,
    publicKeys: keys,
    signature,
    signedBytes,
    bytes: concatBytes(signedBytes, signature),
  };
}

function dedupeKeys(keys: readonly Uint8Array[]): Uint8Array[] {
  const sorted = keys.map((k) => Uint8Array.from(k)).sort(compareBytes);
  return sorted.filter((k, i) => i === 0 || compareBytes(k, sorted[i - 1] as Uint8Array) !== 0);
}

export function decodeCrl(bytes: Uint8Array): Result<Crl, DecodeError> {
  const r = new RecordReader(bytes);
  const version = r.u8('version');
  const kind = r.u8('kind');
  if (r.error === null && version !== RECORD_VERSION) r.fail('bad-version', `CRL format version ${version} is not supported`);
  if (r.error === null && kind !== RecordKind.CRL) r.fail('wrong-kind', 'these bytes are not a revocation list');
  const groupId = r.fixed(GROUP_ID_BYTES, 'group id');
  const sequence = r.u64('sequence');
  const issuedAt = r.u64('issuedAt');
  const serials = readList(r, 8, 'serial', () => r.u64('serial'));
  for (let i = 1; i < serials.length && r.error === null; i++) {
    if ((serials[i] as number) <= (serials[i - 1] as number)) r.fail('non-canonical', 'CRL serials are not in increasing order');
  }
  const publicKeys = readList(r, PUBLIC_KEY_BYTES, 'public key', () => r.fixed(PUBLIC_KEY_BYTES, 'public key'));
  for (let i = 1; i < publicKeys.length && r.error === null; i++) {
    if (compareBytes(publicKeys[i] as Uint8Array, publicKeys[i - 1] as Uint8Array) <= 0) {
      r.fail('non-canonical', 'CRL keys are not in increasing order');
    }
  }
  const bodyEnd = r.offset;
  const signature = r.fixed(SIGNATURE_BYTES, 'signature');
  r.expectEnd('CRL');
  if (r.error !== null) return err(r.error);
  return ok({ groupId, sequence, issuedAt, serials, publicKeys, signature, signedBytes: copyBytes(bytes, 0, bodyEnd), bytes: copyBytes(bytes) });
}

/** A u16 count, then that many entries; refuses counts the remaining bytes cannot hold before reading any. */
function readList<T>(r: RecordReader, entryBytes: number, what: string, readOne: () => T): T[] {
  const count = r.u16(`${what} count`);
  if (r.error !== null) return [];
  if (count > MAX_CRL_ENTRIES) {
    r.fail('too-large', `a CRL holds at most ${MAX_CRL_ENTRIES} ${what}s`);
    return [];
  }
  if (count * entryBytes > r.remaining) {
    r.fail('truncated', `the ${what} list is cut short`);
    return [];
  }
  const out: T[] = [];
  for (let i = 0; i < count; i++) out.push(readOne());
  return out;
}

export function verifyCrl(crl: Crl, anchor: TrustAnchor): boolean {
  return (
    bytesEqual(crl.groupId, anchor.groupId) &&
    verify(crl.signature, concatBytes(SIGNING_CONTEXT.crl, crl.signedBytes), anchor.caPublicKey)
  );
}

export function signRevocationRecord(fields: RevocationRecordFields, caSecretKey: Uint8Array): RevocationRecord {
  const w = new RecordWriter()
    .u8(RECORD_VERSION, 'version')
    .u8(RecordKind.REVOCATION, 'kind')
    .fixed(fields.groupId, GROUP_ID_BYTES, 'group id');
  if (fields.target.kind === 'serial') w.u8(TARGET_SERIAL, 'target').u64(fields.target.serial, 'serial');
  else w.u8(TARGET_KEY, 'target').fixed(fields.target.publicKey, PUBLIC_KEY_BYTES, 'public key');
  const signedBytes = w.u64(fields.revokedAt, 'revokedAt').finish();
  const signature = sign(concatBytes(SIGNING_CONTEXT.revocation, signedBytes), caSecretKey);
  return { ...fields, groupId: Uint8Array.from(fields.groupId), signature, signedBytes, bytes: concatBytes(signedBytes, signature) };
}

export function decodeRevocationRecord(bytes: Uint8Array): Result<RevocationRecord, DecodeError> {
  const r = new RecordReader(bytes);
  const version = r.u8('version');
  const kind = r.u8('kind');
  if (r.error === null && version !== RECORD_VERSION) r.fail('bad-version', `revocation format version ${version} is not supported`);
  if (r.error === null && kind !== RecordKind.REVOCATION) r.fail('wrong-kind', 'these bytes are not a revocation record');
  const groupId = r.fixed(GROUP_ID_BYTES, 'group id');
  const targetKind = r.u8('target');
  let target: RevocationTarget = { kind: 'serial', serial: 0 };
  if (targetKind === TARGET_SERIAL) target = { kind: 'serial', serial: r.u64('serial') };
  else if (targetKind === TARGET_KEY) target = { kind: 'key', publicKey: r.fixed(PUBLIC_KEY_BYTES, 'public key') };
  else r.fail('bad-value', 'unknown revocation target');
  const revokedAt = r.u64('revokedAt');
  const bodyEnd = r.offset;
  const signature = r.fixed(SIGNATURE_BYTES, 'signature');
  r.expectEnd('revocation record');
  if (r.error !== null) return err(r.error);
  return ok({ groupId, target, revokedAt, signature, signedBytes: copyBytes(bytes, 0, bodyEnd), bytes: copyBytes(bytes) });
}

export function verifyRevocationRecord(record: RevocationRecord, anchor: TrustAnchor): boolean {
  return (
    bytesEqual(record.groupId, anchor.groupId) &&
    verify(record.signature, concatBytes(SIGNING_CONTEXT.revocation, record.signedBytes), anchor.caPublicKey)
  );
}

/**
 * What one node knows is revoked: the newest CRL it has verified, plus signed revocation records
 * it learned since (from the DHT or a broadcast). Only verified records get in.
 */
export class RevocationSet implements RevocationView {
  private readonly serials = new Set<number>();
  private readonly keys = new Set<string>();
  private crlSequence = -1;

  constructor(private readonly anchor: TrustAnchor) {}

  get sequence(): number {
    return this.crlSequence;
  }

  /** Adds a CRL's entries. False when it is forged, for another group, or older than one already applied. */
  applyCrl(crl: Crl): boolean {
    if (crl.sequence < this.crlSequence || !verifyCrl(crl, this.anchor)) return false;
    this.crlSequence = crl.sequence;
    for (const s of crl.serials) this.serials.add(s);
    for (const k of crl.publicKeys) this.keys.add(toHex(k));
    return true;
  }

  /** False when the record is forged or for another group. */
  applyRecord(record: RevocationRecord): boolean {
    if (!verifyRevocationRecord(record, this.anchor)) return false;
    if (record.target.kind === 'serial') this.serials.add(record.target.serial);
    else this.keys.add(toHex(record.target.publicKey));
    return true;
  }

  /** Whether what the record revokes is revoked here already (by a CRL or another record): a cheap check before the signature. */
  covers(record: RevocationRecordFields): boolean {
    return record.target.kind === 'serial' ? this.serials.has(record.target.serial) : this.keys.has(toHex(record.target.publicKey));
  }

  isRevoked(serial: number, publicKey: Uint8Array): boolean {
    return this.serials.has(serial) || this.keys.has(toHex(publicKey));
  }
}
