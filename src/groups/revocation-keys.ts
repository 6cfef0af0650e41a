import { blake2b } from '../overlay/crypto.js';
import { toHex } from './binary.js';
import type { RevocationTarget } from './revocation.js';

/**
 * Where signed revocation records live in the group's DHT: one key per revoked target, so a member
 * that links with a peer looks up exactly that peer's certificate serial and device key.
 *
 *   key = BLAKE2b-256("ringvpn/revocation-key/v1\0" ‖ group id (16) ‖ 1 ‖ serial u64 big-endian)
 *   key = BLAKE2b-256("ringvpn/revocation-key/v1\0" ‖ group id (16) ‖ 2 ‖ public key (32))
 */
const KEY_CONTEXT = new TextEncoder().encode('ringvpn/revocation-key/v1\0');
const DHT_KEY_BYTES = 32;

export function revocationDhtKey(groupId: Uint8Array, target: RevocationTarget): Uint8Array {
  if (target.kind === 'serial') {
    const serial = new Uint8Array(9);
    serial[0] = 1;
    new DataView(serial.buffer).setBigUint64(1, BigInt(target.serial));
    return blake2b(DHT_KEY_BYTES, KEY_CONTEXT, groupId, serial);
  }
  const key = new Uint8Array(33);
  key[0] = 2;
  key.set(target.publicKey, 1);
  return blake2b(DHT_KEY_BYTES, KEY_CONTEXT, groupId, key);
}

/** A short stable name for a target: for deduplication maps and logs (never secret). */
export function targetId(target: RevocationTarget): string {
  return target.kind === 'serial' ? `serial:${target.serial}` : `key:${toHex(target.publicKey)}`;
}
