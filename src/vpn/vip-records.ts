import { type Address, ADDRESS_BYTES, addressFromBytes, addressToBytes } from '../overlay/address.js';
import { writerAddress } from '../overlay/dht/dht-record.js';
import { type Result, err, ok } from '../overlay/result.js';
import type { DhtRecord } from '../overlay/wire/messages.js';
import { formatIpv4 } from './packets/addresses.js';
import { readU32, writeU32 } from './packets/bytes.js';

/**
 * A virtual IP's owner record in the DHT. Key: `vip:<network id hex>:<dotted ip>` (the network's
 * 16-byte id rather than its name, so the key stays under the DHT's 64-byte limit). Value:
 *
 *  0       1               5                        25                   33
 *  +-------+---------------+------------------------+--------------------+
 *  | ver 1 | ip (u32 BE)   | owner address (20)     | claimedAt (u64 BE) |
 *  +-------+---------------+------------------------+--------------------+
 *
 * The record is signed by its writer (the DHT checks the signature); it is believed only when the
 * writer's key hashes to the owner address it names and the ip matches the key, so nobody can
 * point a virtual IP at another node. claimedAt (ms, the owner's clock) is when the owner first
 * claimed the address: it stays the same across renewals and restarts, and decides conflicts
 * (earlier claim wins, then the lower overlay address).
 */
export const OWNER_RECORD_VERSION = 1;
export const OWNER_RECORD_BYTES = 1 + 4 + ADDRESS_BYTES + 8;

export interface OwnerRecord {
  readonly ip: number;
  readonly owner: Address;
  readonly claimedAt: number;
}

export interface OwnerRecordError {
  readonly code: 'malformed' | 'wrong-ip' | 'wrong-writer';
  readonly message: string;
}

export function vipKey(networkIdHex: string, ip: number): Uint8Array {
  return new TextEncoder().encode(`vip:${networkIdHex}:${formatIpv4(ip)}`);
}

export function encodeOwnerRecord(r: OwnerRecord): Uint8Array {
  const out = new Uint8Array(OWNER_RECORD_BYTES);
  out[0] = OWNER_RECORD_VERSION;
  writeU32(out, 1, r.ip);
  out.set(addressToBytes(r.owner), 5);
  const t = Math.max(0, Math.floor(r.claimedAt));
  writeU32(out, 25, Math.floor(t / 2 ** 32));
  writeU32(out, 29, t % 2 ** 32);
  return out;
}

export function decodeOwnerRecord(bytes: Uint8Array): Result<OwnerRecord, OwnerRecordError> {
  if (bytes.length !== OWNER_RECORD_BYTES) return err({ code: 'malformed', message: `an owner record has ${OWNER_RECORD_BYTES} bytes, not ${bytes.length}` });
  if (bytes[0] !== OWNER_RECORD_VERSION) return err({ code: 'malformed', message: `unknown owner record version ${bytes[0]}` });
  const high = readU32(bytes, 25);
  if (high >= 2 ** 21) return err({ code: 'malformed', message: 'the claim time is out of range' });
  return ok({ ip: readU32(bytes, 1), owner: addressFromBytes(bytes.subarray(5, 25)), claimedAt: high * 2 ** 32 + readU32(bytes, 29) });
}

/** The owner record a DHT record says, if it is believable for `ip` (see the module comment). */
export function verifyOwnerRecord(record: DhtRecord, ip: number): Result<OwnerRecord, OwnerRecordError> {
  const decoded = decodeOwnerRecord(record.value);
  if (!decoded.ok) return decoded;
  if (decoded.value.ip !== ip) return err({ code: 'wrong-ip', message: `the record is for ${formatIpv4(decoded.value.ip)}, not ${formatIpv4(ip)}` });
  if (writerAddress(record) !== decoded.value.owner) return err({ code: 'wrong-writer', message: "the record's writer is not the node it names" });
  return decoded;
}

/** Negative when `a` wins over `b`: the earlier claim, then the lower overlay address. */
export function compareClaims(a: OwnerRecord, b: OwnerRecord): number {
  if (a.claimedAt !== b.claimedAt) return a.claimedAt - b.claimedAt;
  return a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0;
}

/** The winning owner among a key's records (unbelievable ones skipped); undefined if none. */
export function winningOwner(records: readonly DhtRecord[], ip: number): OwnerRecord | undefined {
  let best: OwnerRecord | undefined;
  for (const r of records) {
    const v = verifyOwnerRecord(r, ip);
    if (v.ok && (best === undefined || compareClaims(v.value, best) < 0)) best = v.value;
  }
  return best;
}
