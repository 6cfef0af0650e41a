/**
 * Big-endian writer and reader for the group record formats (certificates, CRLs, revocation
 * records). The writer throws on values out of range (it only sees our own data, so a throw is a
 * bug); the reader never throws: the first failure is kept in `error`, and every later read returns
 * a neutral value, so a decoder runs straight through and checks `error` at the end.
 */

export type DecodeErrorCode =
  | 'truncated'
  | 'trailing-bytes'
  | 'bad-version'
  | 'wrong-kind'
  | 'too-large'
  | 'non-canonical'
  | 'bad-value';

export interface DecodeError {
  code: DecodeErrorCode;
  message: string;
}

/** Largest integer a u64 field may hold here: above it, a JavaScript number loses precision. */
export const MAX_U64_FIELD = Number.MAX_SAFE_INTEGER;

const TWO_32 = 2 ** 32;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

export class RecordWriter {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  u8(value: number, what: string): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new RangeError(`${what} must fit in a byte`);
    this.push(Uint8Array.of(value));
    return this;
  }

  u16(value: number, what: string): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new RangeError(`${what} must fit in 16 bits`);
    this.push(Uint8Array.of(value >>> 8, value & 0xff));
    return this;
  }

  u64(value: number, what: string): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative safe integer`);
    const out = new Uint8Array(8);
    const view = new DataView(out.buffer);
    view.setUint32(0, Math.floor(value / TWO_32));
    view.setUint32(4, value % TWO_32);
    this.push(out);
    return this;
  }

  fixed(bytes: Uint8Array, size: number, what: string): this {
    if (bytes.length !== size) throw new RangeError(`${what} must be ${size} bytes, got ${bytes.length}`);
    this.push(Uint8Array.from(bytes));
    return this;
  }

  /** UTF-8 text with a one-byte length prefix. */
  text(value: string, maxBytes: number, what: string): this {
    const bytes = utf8Encoder.encode(value);
    if (bytes.length > maxBytes || bytes.length > 0xff) throw new RangeError(`${what} is longer than ${maxBytes} bytes`);
    this.u8(bytes.length, what);
    this.push(bytes);
    return this;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

export class RecordReader {
  private pos = 0;
  error: DecodeError | null = null;

  constructor(private readonly input: Uint8Array) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.input.length - this.pos;
  }

  fail(code: DecodeErrorCode, message: string): void {
    if (this.error === null) this.error = { code, message };
    this.pos = this.input.length;
  }

  private take(n: number, what: string): number {
    if (this.error !== null) return -1;
    if (this.remaining < n) {
      this.fail('truncated', `${what} is cut short`);
      return -1;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(what: string): number {
    const at = this.take(1, what);
    return at < 0 ? 0 : (this.input[at] as number);
  }

  u16(what: string): number {
    const at = this.take(2, what);
    return at < 0 ? 0 : ((this.input[at] as number) << 8) | (this.input[at + 1] as number);
  }

  u64(what: string): number {
    const at = this.take(8, what);
    if (at < 0) return 0;
    const view = new DataView(this.input.buffer, this.input.byteOffset + at, 8);
    const high = view.getUint32(0);
    const low = view.getUint32(4);
    const value = high * TWO_32 + low;
    if (value > MAX_U64_FIELD) {
      this.fail('bad-value', `${what} is larger than this software supports`);
      return 0;
    }
    return value;
  }

  /** A copy of the next `n` bytes. */
  fixed(n: number, what: string): Uint8Array {
    const at = this.take(n, what);
    return at < 0 ? new Uint8Array(n) : copyBytes(this.input, at, at + n);
  }

  /** One-byte length prefix, then UTF-8 that must be valid and shortest-form (re-encodes to the same bytes). */
  text(minBytes: number, maxBytes: number, what: string): string {
    const length = this.u8(`${what} length`);
    if (this.error !== null) return '';
    if (length < minBytes || length > maxBytes) {
      this.fail('bad-value', `${what} must be ${minBytes} to ${maxBytes} bytes long`);
      return '';
    }
    const at = this.take(length, what);
    if (at < 0) return '';
    const bytes = this.input.subarray(at, at + length);
    let value: string;
    try {
      value = utf8Decoder.decode(bytes);
    } catch {
      this.fail('bad-value', `${what} is not valid UTF-8`);
      return '';
    }
    if (!bytesEqual(utf8Encoder.encode(value), bytes)) {
      this.fail('non-canonical', `${what} is not in canonical UTF-8`);
      return '';
    }
    return value;
  }

  expectEnd(what: string): void {
    if (this.error === null && this.remaining !== 0) {
      this.fail('trailing-bytes', `${what} has ${this.remaining} unexpected bytes at its end`);
    }
  }
}

/**
 * A plain Uint8Array copy of bytes [start, end). Buffer#slice would return a view sharing memory
 * (Node's Buffer overrides slice), so decoders never use slice on their input.
 */
export function copyBytes(bytes: Uint8Array, start = 0, end = bytes.length): Uint8Array {
  return new Uint8Array(bytes.subarray(start, end));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic order of equal-length byte strings: negative, zero or positive. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Exactly `bytes` bytes from lowercase or uppercase hex; null when malformed. */
export function fromHex(text: string, bytes: number): Uint8Array | null {
  if (text.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(text)) return null;
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Strict base64url (no padding, canonical); null when malformed or longer than `maxBytes`. */
export function fromBase64Url(text: string, maxBytes: number): Uint8Array | null {
  if (text.length > Math.ceil((maxBytes * 4) / 3) || !/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) return null;
  return new Uint8Array(bytes);
}
