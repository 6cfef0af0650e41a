import { readU16 } from './bytes.js';

/**
 * The Internet checksum (RFC 1071) and its incremental update (RFC 1624), shared by IPv4, UDP,
 * TCP and ICMP.
 */

/** Adds bytes[start, end) as big-endian 16-bit words (an odd last byte is padded with zero) to `initial`. Not folded. */
export function sumWords(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
  if (i < end) sum += (bytes[i] as number) << 8;
  return sum;
}

/** Folds a sum of 16-bit words into 16 bits with end-around carry. */
export function foldSum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The checksum to store: the ones' complement of the folded sum. 0 means the data (with its checksum) verifies. */
export function internetChecksum(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  return ~foldSum(sumWords(bytes, start, end, initial)) & 0xffff;
}

/** Sum of the IPv4 pseudo-header that UDP and TCP checksums cover. */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/**
 * Rewrites bytes of a checksummed region and fixes the checksum stored at `checksumAt` incrementally
 * (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m') for every changed 16-bit word). `regionStart` is where
 * the checksummed region begins (word alignment is relative to it); `at` may be odd.
 */
export function patchWithChecksum(
  bytes: Uint8Array,
  regionStart: number,
  checksumAt: number,
  at: number,
  replacement: Uint8Array,
): void {
  const first = regionStart + ((at - regionStart) & ~1);
  const end = at + replacement.length;
  const last = regionStart + ((end - regionStart + 1) & ~1);
  let sum = ~readU16(bytes, checksumAt) & 0xffff;
  for (let w = first; w < last; w += 2) sum += ~readU16(bytes, w) & 0xffff;
  bytes.set(replacement, at);
  for (let w = first; w < last; w += 2) sum += readU16(bytes, w);
  const updated = ~foldSum(sum) & 0xffff;
  bytes[checksumAt] = updated >>> 8;
  bytes[checksumAt + 1] = updated & 0xff;
}
