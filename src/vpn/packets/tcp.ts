import { readU16, readU32 } from './bytes.js';
import { type PacketResult, packetError } from './errors.js';

/**
 * TCP header (RFC 9293), decoded only as far as the VPN needs: ports, flags and options (to find
 * SYN segments and their MSS option).
 *
 *  0               16              32
 *  +---------------+---------------+
 *  | source port   | dest. port    |
 *  |        sequence number        |
 *  |     acknowledgment number     |
 *  |off|rsv| flags | window        |   off = header length / 4
 *  | checksum      | urgent ptr    |
 *  | options ... (off > 5)         |
 *  +-------------------------------+
 */
export const TCP_MIN_HEADER_BYTES = 20;
export const TCP_CHECKSUM_OFFSET = 16;

export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
} as const;

export const TcpOption = {
  END: 0,
  NOP: 1,
  MSS: 2,
} as const;

export interface TcpHeader {
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly sequence: number;
  readonly acknowledgment: number;
  readonly headerLength: number;
  readonly flags: number;
  readonly window: number;
  readonly checksum: number;
  /** A view of the option bytes. */
  readonly options: Uint8Array;
}

/** Decodes the TCP header at the start of `segment` (the IPv4 payload). */
export function decodeTcpHeader(segment: Uint8Array): PacketResult<TcpHeader> {
  if (segment.length < TCP_MIN_HEADER_BYTES) return packetError('too-short', `A TCP header needs 20 bytes; got ${segment.length}.`);
  const headerLength = ((segment[12] as number) >>> 4) * 4;
  if (headerLength < TCP_MIN_HEADER_BYTES) return packetError('bad-header-length', `The TCP header length ${headerLength} is under 20.`);
  if (headerLength > segment.length) {
    return packetError('too-short', `The TCP header says ${headerLength} bytes but only ${segment.length} arrived.`);
  }
  return {
    ok: true,
    value: {
      sourcePort: readU16(segment, 0),
      destinationPort: readU16(segment, 2),
      sequence: readU32(segment, 4),
      acknowledgment: readU32(segment, 8),
      headerLength,
      flags: (segment[13] as number) & 0x3f,
      window: readU16(segment, 14),
      checksum: readU16(segment, TCP_CHECKSUM_OFFSET),
      options: segment.subarray(TCP_MIN_HEADER_BYTES, headerLength),
    },
  };
}

/**
 * Where option `kind` starts inside `options` (its kind byte), or undefined if absent. A malformed
 * option list (a length under 2 or past the end) is an error: nothing after it can be trusted.
 */
export function findTcpOption(options: Uint8Array, kind: number): PacketResult<number | undefined> {
  let i = 0;
  while (i < options.length) {
    const k = options[i] as number;
    if (k === TcpOption.END) return { ok: true, value: undefined };
    if (k === TcpOption.NOP) {
      i++;
      continue;
    }
    if (i + 1 >= options.length) return packetError('bad-option', 'A TCP option is cut off.');
    const length = options[i + 1] as number;
    if (length < 2 || i + length > options.length) return packetError('bad-option', `A TCP option has a bad length (${length}).`);
    if (k === kind) return { ok: true, value: i };
    i += length;
  }
  return { ok: true, value: undefined };
}
