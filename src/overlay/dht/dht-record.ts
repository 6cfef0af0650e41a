import { addressFromPublicKey } from '../address.js';
import { blake2b, sign, verify } from '../crypto.js';
import type { Identity } from '../identity.js';
import { dhtRecordSignedBytes } from '../wire/codec.js';
import { type DhtRecord, DhtRecordFlag, MAX_DHT_KEY_BYTES, MAX_DHT_VALUE_BYTES } from '../wire/messages.js';

/** Records issued further than this in the future (writer's clock ahead of ours) are refused. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** Longest lifetime a writer may ask for: leases are renewed, never permanent. */
export const MAX_TTL_SECONDS = 24 * 3600;

export function createRecord(
  identity: Identity,
  key: Uint8Array,
  value: Uint8Array,
  ttlSeconds: number,
  now: number,
  tombstone = false,
): DhtRecord {
  const unsigned = {
    key,
    value,
    writer: identity.publicKey,
    issuedAt: Math.floor(now),
    ttlSeconds,
    flags: tombstone ? DhtRecordFlag.TOMBSTONE : 0,
  };
  return { ...unsigned, signature: sign(dhtRecordSignedBytes(unsigned), identity.secretKey) };
}

export function recordExpiresAt(record: DhtRecord): number {
  return record.issuedAt + record.ttlSeconds * 1000;
}

export function isTombstone(record: DhtRecord): boolean {
  return (record.flags & DhtRecordFlag.TOMBSTONE) !== 0;
}

/**
 * One value of a key is identified by its writer and the value's hash, so a writer may hold several
 * values under one key and replace or remove each of them.
 */
export function recordSlot(record: DhtRecord): string {
  return `${hex(record.writer)}:${hex(blake2b(16, record.value))}`;
}

export function keyId(key: Uint8Array): string {
  return hex(key);
}

export type RecordCheck = { ok: true } | { ok: false; reason: string };

/** Cheap checks first, then the signature. `now` in ms since the epoch. */
export function checkRecord(record: DhtRecord, now: number): RecordCheck {
  if (record.key.length === 0 || record.key.length > MAX_DHT_KEY_BYTES) return { ok: false, reason: 'key size out of range' };
  if (record.value.length > MAX_DHT_VALUE_BYTES) return { ok: false, reason: 'value too large' };
  if (record.ttlSeconds <= 0 || record.ttlSeconds > MAX_TTL_SECONDS) return { ok: false, reason: 'ttl out of range' };
  if (record.issuedAt > now + MAX_CLOCK_SKEW_MS) return { ok: false, reason: 'issued in the future' };
  if (recordExpiresAt(record) <= now) return { ok: false, reason: 'expired' };
  const { signature, ...unsigned } = record;
  if (!verify(signature, dhtRecordSignedBytes(unsigned), record.writer)) return { ok: false, reason: 'bad signature' };
  return { ok: true };
}

export function writerAddress(record: DhtRecord): bigint {
  return addressFromPublicKey(record.writer);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
