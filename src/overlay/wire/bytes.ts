import { ADDRESS_BYTES, RING_SIZE, type Address } from '../address.js';
import type { WireError, WireErrorCode } from './messages.js';

/**
 * Big-endian byte writer and reader for the overlay wire codecs.
 *
 * ByteWriter validates every value it is given and throws (RangeError for numbers and sizes out of
 * range, TypeError for values of the wrong kind): encoding only ever sees our own data, so a throw
 * there is a bug to surface, never a silent truncation.
 *
 * ByteReader never throws. Every read is bounds-checked; the first failure is recorded in
 * {@link ByteReader.error}, the cursor jumps to the end, and every later read returns a neutral value
 * (0, 0n, false, an empty array), so a decoder can run straight through and check `error` at the end
 * (or earlier, to skip work). Byte fields come back as plain Uint8Array views that ALIAS the input
 * buffer (also when the input is a Node Buffer): copy them before the buffer is reused.
 */

const TWO_32 = 2 ** 32;
/** The high 32 bits of Number.MAX_SAFE_INTEGER (2^53 - 1). */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;
const EMPTY = new Uint8Array(0);

/*
 * Allocating an ArrayBuffer costs far more than copying a few hundred bytes (about 0.8 us against
 * 0.1 us on Node 20), so finish() carves mid-sized results out of a shared slab. Arrays of at most
 * 64 bytes live on V8's heap and are cheaper still; results over 2 KiB get their own buffer so a
 * small kept message never pins much memory.
 */
const ON_HEAP_MAX = 64;
const POOLED_MAX = 2048;
const SLAB_BYTES = 16 * 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabOffset = 0;

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initialCapacity = 1024) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
    this.view = new DataView(this.buf.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  /** Forgets what was written; keeps the buffer for reuse. */
  reset(): this {
    this.pos = 0;
    return this;
  }

  /**
   * A copy of the bytes written so far, safe to keep after the writer is reused. Mid-sized copies
   * are views into a shared slab (as Node's Buffer pool does): use byteOffset/byteLength, never
   * transfer or reuse `.buffer` as if it were the message's own.
   */
  finish(): Uint8Array {
    const n = this.pos;
    if (n <= ON_HEAP_MAX || n > POOLED_MAX) return this.buf.slice(0, n);
    if (slabOffset + n > SLAB_BYTES) {
      slab = new ArrayBuffer(SLAB_BYTES);
      slabOffset = 0;
    }
    const out = new Uint8Array(slab, slabOffset, n);
    out.set(this.buf.subarray(0, n));
    slabOffset += (n + 7) & ~7;
    return out;
  }

  /**
   * Advances the cursor by `n` and returns where the `n` bytes go, growing the buffer if needed.
   * Call it before touching `buf`/`view` (`this.buf[this.reserve(1)]` would read the old buffer).
   */
  private reserve(n: number): number {
    const at = this.pos;
    const need = at + n;
    if (need > this.buf.length) {
      let capacity = this.buf.length * 2;
      while (capacity < need) capacity *= 2;
      const next = new Uint8Array(capacity);
      next.set(this.buf.subarray(0, at));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.pos = need;
    return at;
  }

  u8(value: number, what: string): void {
    if ((value & 0xff) !== value) throw new RangeError(`${what} must be an integer in 0..255, got ${String(value)}`);
    const at = this.reserve(1);
    this.buf[at] = value;
  }

  u16(value: number, what: string): void {
    if ((value & 0xffff) !== value) throw new RangeError(`${what} must be an integer in 0..65535, got ${String(value)}`);
    const at = this.reserve(2);
    this.view.setUint16(at, value);
  }

  u32(value: number, what: string): void {
    if (value >>> 0 !== value) throw new RangeError(`${what} must be an integer in 0..2^32-1, got ${String(value)}`);
    const at = this.reserve(4);
    this.view.setUint32(at, value);
  }

  /** A non-negative safe integer (0..2^53-1) as 8 bytes. */
  u64(value: number, what: string): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`${what} must be an integer in 0..2^53-1, got ${String(value)}`);
    }
    const at = this.reserve(8);
    this.view.setUint32(at, Math.floor(value / TWO_32));
    this.view.setUint32(at + 4, value >>> 0);
  }

  /** A finite float64 (the wire never carries NaN or infinities). */
  f64(value: number, what: string): void {
    if (!Number.isFinite(value)) throw new RangeError(`${what} must be a finite number, got ${String(value)}`);
    const at = this.reserve(8);
    this.view.setFloat64(at, value);
  }

  bool(value: boolean, what: string): void {
    if (typeof value !== 'boolean') throw new TypeError(`${what} must be a boolean`);
    const at = this.reserve(1);
    this.buf[at] = value ? 1 : 0;
  }

  /** Exactly `size` bytes. */
  fixed(bytes: Uint8Array, size: number, what: string): void {
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
    if (bytes.length !== size) throw new RangeError(`${what} must be ${size} bytes, got ${bytes.length}`);
    const at = this.reserve(size);
    this.buf.set(bytes, at);
  }

  /** A 1- or 2-byte length, then the bytes; the length must lie in min..max. */
  prefixed(bytes: Uint8Array, prefixBytes: 1 | 2, min: number, max: number, what: string): void {
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
    const n = bytes.length;
    if (n < min || n > max) throw new RangeError(`${what} must be ${min}..${max} bytes, got ${n}`);
    if (prefixBytes === 1) this.u8(n, what);
    else this.u16(n, what);
    const at = this.reserve(n);
    this.buf.set(bytes, at);
  }

  /**
   * A 20-byte big-endian address: the same bytes as addressToBytes, written in place without the
   * intermediate array. Unlike addressToBytes it does not wrap: an address outside [0, 2^160) is a bug.
   */
  address(address: Address, what: string): void {
    if (typeof address !== 'bigint' || address < 0n || address >= RING_SIZE) {
      throw new TypeError(`${what} must be a bigint in [0, 2^160), got ${String(address)}`);
    }
    const at = this.reserve(ADDRESS_BYTES);
    const high = address >> 64n;
    this.view.setUint32(at, Number(high >> 64n));
    this.view.setBigUint64(at + 4, BigInt.asUintN(64, high));
    this.view.setBigUint64(at + 12, BigInt.asUintN(64, address));
  }
}

export class ByteReader {
  /** The first failure, or null while every read has succeeded. */
  error: WireError | null = null;
  private readonly input: Uint8Array;
  private readonly view: DataView;
  private pos = 0;
  private readonly end: number;

  constructor(input: Uint8Array) {
    // A Buffer (or other subclass) is viewed as a plain Uint8Array, so decoded byte fields always are.
    this.input =
      Object.getPrototypeOf(input) === Uint8Array.prototype
        ? input
        : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    this.view = new DataView(input.buffer, input.byteOffset, input.byteLength);
    this.end = input.byteLength;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Records a failure (the first one wins) and stops all further reads. */
  fail(code: WireErrorCode, message: string): void {
    if (this.error === null) this.error = { code, message };
    this.pos = this.end;
  }

  /** Fails with 'trailing-bytes' unless every byte was consumed. */
  expectEnd(what: string): void {
    if (this.error === null && this.pos !== this.end) {
      this.fail('trailing-bytes', `${this.end - this.pos} unexpected bytes after the end of the ${what}`);
    }
  }

  /** Claims `n` bytes and returns their offset, or -1 (recording 'truncated') when they are not there. */
  private take(n: number, what: string): number {
    const at = this.pos;
    if (n > this.end - at) {
      if (this.error === null) {
        this.fail('truncated', `message ends at byte ${this.end}, but ${what} needs ${n} bytes from byte ${at}`);
      }
      return -1;
    }
    this.pos = at + n;
    return at;
  }

  u8(what: string): number {
    const at = this.take(1, what);
    return at < 0 ? 0 : this.view.getUint8(at);
  }

  u16(what: string): number {
    const at = this.take(2, what);
    return at < 0 ? 0 : this.view.getUint16(at);
  }

  u32(what: string): number {
    const at = this.take(4, what);
    return at < 0 ? 0 : this.view.getUint32(at);
  }

  /** 8 bytes holding a non-negative safe integer; larger values fail with 'bad-value'. */
  u64(what: string): number {
    const at = this.take(8, what);
    if (at < 0) return 0;
    const high = this.view.getUint32(at);
    if (high > MAX_SAFE_HIGH_WORD) {
      this.fail('bad-value', `${what} is larger than 2^53-1`);
      return 0;
    }
    return high * TWO_32 + this.view.getUint32(at + 4);
  }

  /** A float64; NaN and infinities fail with 'bad-value'. */
  f64(what: string): number {
    const at = this.take(8, what);
    if (at < 0) return 0;
    const value = this.view.getFloat64(at);
    if (!Number.isFinite(value)) {
      this.fail('bad-value', `${what} is ${String(value)}, expected a finite number`);
      return 0;
    }
    return value;
  }

  /** One byte that must be 0 or 1. */
  bool(what: string): boolean {
    const value = this.u8(what);
    if (value > 1) this.fail('bad-value', `${what} is ${value}, expected 0 or 1`);
    return value === 1;
  }

  /** A one-byte count that must lie in min..max ('bad-length' otherwise). */
  count(min: number, max: number, what: string): number {
    const n = this.u8(what);
    if (this.error !== null) return 0;
    if (n < min || n > max) {
      this.fail('bad-length', `${what} is ${n}, expected ${min === max ? min : `${min}..${max}`}`);
      return 0;
    }
    return n;
  }

  /** Exactly `n` bytes, as a view into the input. */
  fixed(n: number, what: string): Uint8Array {
    const at = this.take(n, what);
    return at < 0 ? EMPTY : this.input.subarray(at, at + n);
  }

  /** A 1- or 2-byte length in min..max ('bad-length' otherwise), then that many bytes (a view). */
  prefixed(prefixBytes: 1 | 2, min: number, max: number, what: string): Uint8Array {
    const n = prefixBytes === 1 ? this.u8(what) : this.u16(what);
    if (this.error !== null) return EMPTY;
    if (n < min || n > max) {
      this.fail('bad-length', `${what} is ${n} bytes, expected ${min}..${max}`);
      return EMPTY;
    }
    return this.fixed(n, what);
  }

  /** A 20-byte big-endian address (the inverse of ByteWriter.address / addressToBytes). */
  address(what: string): Address {
    const at = this.take(ADDRESS_BYTES, what);
    if (at < 0) return 0n;
    const v = this.view;
    return (BigInt(v.getUint32(at)) << 128n) | (v.getBigUint64(at + 4) << 64n) | v.getBigUint64(at + 12);
  }
}
