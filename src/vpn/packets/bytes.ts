/**
 * Big-endian reads and writes on byte arrays for the packet codecs. Callers check bounds first;
 * these only spare the `!` that noUncheckedIndexedAccess asks for on every index.
 */
export function readU8(b: Uint8Array, at: number): number {
  return b[at] ?? 0;
}

export function readU16(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
}

export function readU32(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;
}

export function writeU16(b: Uint8Array, at: number, value: number): void {
  b[at] = (value >>> 8) & 0xff;
  b[at + 1] = value & 0xff;
}

export function writeU32(b: Uint8Array, at: number, value: number): void {
  b[at] = (value >>> 24) & 0xff;
  b[at + 1] = (value >>> 16) & 0xff;
  b[at + 2] = (value >>> 8) & 0xff;
  b[at + 3] = value & 0xff;
}
