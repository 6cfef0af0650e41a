import { type Result, err, ok } from '../result.js';
import { readU16, readU32, writeU16, writeU32 } from './packet-codec.js';

/**
 * What a DATA packet carries once decrypted: one content-type byte, then its body.
 *
 * ```
 * KEEPALIVE_PING / KEEPALIVE_PONG     CLOSE                               PAYLOAD
 * +------+-----------------+          +------+-------------+---------+    +------+------------------+
 * | 0x01 | ping id u32     |          | 0x03 | reason len  | reason  |    | 0x04 | overlay message  |
 * | 0x02 | (echoed in pong)|          |      | u16         | UTF-8   |    |      | (opaque bytes)   |
 * +------+-----------------+          +------+-------------+---------+    +------+------------------+
 * ```
 */
export const ContentType = {
  KEEPALIVE_PING: 0x01,
  KEEPALIVE_PONG: 0x02,
  CLOSE: 0x03,
  PAYLOAD: 0x04,
} as const;
export type ContentTypeValue = (typeof ContentType)[keyof typeof ContentType];

/** Close reasons longer than this are cut (they are for logs, not for machines). */
export const MAX_CLOSE_REASON_BYTES = 200;
const PING_BYTES = 5;

export type Content =
  | { type: typeof ContentType.KEEPALIVE_PING; pingId: number }
  | { type: typeof ContentType.KEEPALIVE_PONG; pingId: number }
  | { type: typeof ContentType.CLOSE; reason: string }
  | { type: typeof ContentType.PAYLOAD; payload: Uint8Array };

export interface ContentError {
  code: 'empty' | 'unknown-content-type' | 'bad-length';
  message: string;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: false });
const utf8Encoder = new TextEncoder();

/** Decodes a decrypted plaintext. Never throws; a payload aliases `plain`. */
export function decodeContent(plain: Uint8Array): Result<Content, ContentError> {
  if (plain.length === 0) return err({ code: 'empty', message: 'DATA plaintext is empty' });
  const type = plain[0];
  switch (type) {
    case ContentType.PAYLOAD:
      return ok({ type, payload: plain.subarray(1) });
    case ContentType.KEEPALIVE_PING:
    case ContentType.KEEPALIVE_PONG:
      if (plain.length !== PING_BYTES) return err({ code: 'bad-length', message: 'keepalive must be 5 bytes' });
      return ok({ type, pingId: readU32(plain, 1) });
    case ContentType.CLOSE: {
      if (plain.length < 3) return err({ code: 'bad-length', message: 'close is too short' });
      const len = readU16(plain, 1);
      if (len > MAX_CLOSE_REASON_BYTES || plain.length !== 3 + len) {
        return err({ code: 'bad-length', message: 'close reason length does not match' });
      }
      return ok({ type, reason: utf8Decoder.decode(plain.subarray(3)) });
    }
    default:
      return err({ code: 'unknown-content-type', message: `unknown content type ${type}` });
  }
}

/** The body of a keepalive ping or pong (the content byte is written by the session). */
export function keepaliveBody(pingId: number): Uint8Array {
  const out = new Uint8Array(PING_BYTES - 1);
  writeU32(out, 0, pingId);
  return out;
}

/** The body of a close: reason length and UTF-8 reason, cut to MAX_CLOSE_REASON_BYTES. */
export function closeBody(reason: string): Uint8Array {
  let text = utf8Encoder.encode(reason);
  if (text.length > MAX_CLOSE_REASON_BYTES) text = text.subarray(0, MAX_CLOSE_REASON_BYTES);
  const out = new Uint8Array(2 + text.length);
  writeU16(out, 0, text.length);
  out.set(text, 2);
  return out;
}
