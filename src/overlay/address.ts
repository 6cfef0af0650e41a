import { blake2b } from './crypto.js';

/**
 * A node's overlay address: 160 bits, BLAKE2b-160 of its Ed25519 public key, so it cannot be
 * chosen freely. Held as a bigint in [0, 2^160); the ring wraps around.
 */
export type Address = bigint;

export const ADDRESS_BYTES = 20;
export const ADDRESS_BITS = 160n;
export const RING_SIZE: bigint = 1n << ADDRESS_BITS;
const RING_MASK = RING_SIZE - 1n;
export const HALF_RING: bigint = RING_SIZE >> 1n;

export function addressFromPublicKey(publicKey: Uint8Array): Address {
  return addressFromBytes(blake2b(ADDRESS_BYTES, publicKey));
}

/** The ring position of an arbitrary key (DHT keys, rendezvous names). */
export function addressForKey(key: Uint8Array): Address {
  return addressFromBytes(blake2b(ADDRESS_BYTES, key));
}

export function addressFromBytes(bytes: Uint8Array): Address {
  if (bytes.length !== ADDRESS_BYTES) throw new RangeError(`address must be ${ADDRESS_BYTES} bytes`);
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return BigInt(`0x${hex}`);
}

export function addressToBytes(address: Address): Uint8Array {
  const out = new Uint8Array(ADDRESS_BYTES);
  let v = address & RING_MASK;
  for (let i = ADDRESS_BYTES - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** 40 lowercase hex digits. */
export function addressToHex(address: Address): string {
  return address.toString(16).padStart(40, '0');
}

/** Parses 40 hex digits; returns null when malformed. */
export function addressFromHex(text: string): Address | null {
  if (!/^[0-9a-fA-F]{40}$/.test(text)) return null;
  return BigInt(`0x${text}`);
}

/** The first 8 hex digits: enough to tell nodes apart in logs and tables. */
export function shortAddress(address: Address): string {
  return addressToHex(address).slice(0, 8);
}

/** Bits of an address that {@link addressApprox} keeps: as many as a double holds exactly. */
export const APPROX_BITS = 53;
/** The ring size in units of {@link addressApprox}. */
export const APPROX_RING = 2 ** APPROX_BITS;
const APPROX_SHIFT = ADDRESS_BITS - BigInt(APPROX_BITS);

/**
 * The top 53 bits of an address as a number: distances between these differ from the true
 * distances (scaled down by 2^107) by less than 1, so routing can compare them without allocating
 * bigints, and fall back to exact arithmetic only for near ties (router.ts).
 */
export function addressApprox(address: Address): number {
  return Number(address >> APPROX_SHIFT);
}

/** Distance walking clockwise (increasing addresses) from `from` to `to`. */
export function clockwiseDistance(from: Address, to: Address): bigint {
  return (to - from) & RING_MASK;
}

/** Distance walking counter-clockwise from `from` to `to`. */
export function counterClockwiseDistance(from: Address, to: Address): bigint {
  return (from - to) & RING_MASK;
}

/** The shorter way round. */
export function ringDistance(a: Address, b: Address): bigint {
  const cw = (b - a) & RING_MASK;
  const ccw = (a - b) & RING_MASK;
  return cw < ccw ? cw : ccw;
}

export function addAddress(a: Address, delta: bigint): Address {
  return (a + delta) & RING_MASK;
}

/** True when `x` lies in the clockwise half-open range [start, end). start === end means the whole ring. */
export function inClockwiseRange(x: Address, start: Address, end: Address): boolean {
  if (start === end) return true;
  return clockwiseDistance(start, x) < clockwiseDistance(start, end);
}
