import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { internetChecksum } from './checksum.js';
import { type PacketResult, packetError } from './errors.js';

/**
 * IPv4 header (RFC 791).
 *
 *  0       4       8               16    19                  31
 *  +-------+-------+---------------+-----+--------------------+
 *  |version|  IHL  |  DSCP / ECN   |      total length        |
 *  +-------+-------+---------------+-----+--------------------+
 *  |        identification         |flags| fragment offset    |
 *  +---------------+---------------+-----+--------------------+
 *  |      TTL      |   protocol    |     header checksum      |
 *  +---------------+---------------+--------------------------+
 *  |                     source address                       |
 *  |                   destination address                    |
 *  |              options (IHL > 5) ...                       |
 *  +----------------------------------------------------------+
 */
export const IPV4_MIN_HEADER_BYTES = 20;
export const IPV4_MAX_HEADER_BYTES = 60;

export const IpProtocol = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
} as const;

const FLAG_DONT_FRAGMENT = 0x4000;
const FLAG_MORE_FRAGMENTS = 0x2000;
const OPTION_END = 0;
const OPTION_NOP = 1;

export interface Ipv4Header {
  readonly headerLength: number;
  readonly dscpEcn: number;
  readonly totalLength: number;
  readonly identification: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** In bytes (the field is in units of 8). */
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly checksum: number;
  readonly source: number;
  readonly destination: number;
  /** A view of the option bytes (empty when IHL is 5). */
  readonly options: Uint8Array;
}

export interface Ipv4Packet {
  readonly header: Ipv4Header;
  /** A view of the payload: bytes [headerLength, totalLength); padding after totalLength is cut off. */
  readonly payload: Uint8Array;
  /** A view of the whole packet, [0, totalLength). */
  readonly packet: Uint8Array;
}

export interface Ipv4DecodeOptions {
  /** Default true. */
  readonly verifyChecksum?: boolean;
}

/** True if the option list is well formed: every option but END and NOP has a length of 2 or more that fits. */
export function validIpv4Options(options: Uint8Array): boolean {
  let i = 0;
  while (i < options.length) {
    const type = options[i] as number;
    if (type === OPTION_END) return true;
    if (type === OPTION_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= options.length) return false;
    const length = options[i + 1] as number;
    if (length < 2 || i + length > options.length) return false;
    i += length;
  }
  return true;
}

/** Decodes an IPv4 packet (bytes after the Ethernet header; trailing Ethernet padding allowed). */
export function decodeIpv4(bytes: Uint8Array, options: Ipv4DecodeOptions = {}): PacketResult<Ipv4Packet> {
  if (bytes.length < IPV4_MIN_HEADER_BYTES) {
    return packetError('too-short', `An IPv4 packet needs at least 20 bytes; got ${bytes.length}.`);
  }
  const first = bytes[0] as number;
  if (first >>> 4 !== 4) return packetError('bad-version', `IP version ${first >>> 4} is not 4.`);
  const headerLength = (first & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER_BYTES) return packetError('bad-header-length', `The IPv4 header length ${headerLength} is under 20.`);
  if (headerLength > bytes.length) {
    return packetError('too-short', `The IPv4 header says ${headerLength} bytes but only ${bytes.length} arrived.`);
  }
  const totalLength = readU16(bytes, 2);
  if (totalLength < headerLength) {
    return packetError('bad-length', `The IPv4 total length ${totalLength} is shorter than its header (${headerLength}).`);
  }
  if (totalLength > bytes.length) {
    return packetError('bad-length', `The IPv4 total length ${totalLength} is longer than the ${bytes.length} bytes that arrived.`);
  }
  if (options.verifyChecksum !== false && internetChecksum(bytes, 0, headerLength) !== 0) {
    return packetError('bad-checksum', 'The IPv4 header checksum is wrong.');
  }
  const optionBytes = bytes.subarray(IPV4_MIN_HEADER_BYTES, headerLength);
  if (!validIpv4Options(optionBytes)) return packetError('bad-option', 'The IPv4 options are malformed.');
  const flagsAndOffset = readU16(bytes, 6);
  return {
    ok: true,
    value: {
      header: {
        headerLength,
        dscpEcn: bytes[1] as number,
        totalLength,
        identification: readU16(bytes, 4),
        dontFragment: (flagsAndOffset & FLAG_DONT_FRAGMENT) !== 0,
        moreFragments: (flagsAndOffset & FLAG_MORE_FRAGMENTS) !== 0,
        fragmentOffset: (flagsAndOffset & 0x1fff) * 8,
        ttl: bytes[8] as number,
        protocol: bytes[9] as number,
        checksum: readU16(bytes, 10),
        source: readU32(bytes, 12),
        destination: readU32(bytes, 16),
        options: optionBytes,
      },
      payload: bytes.subarray(headerLength, totalLength),
      packet: bytes.subarray(0, totalLength),
    },
  };
}

export interface Ipv4Fields {
  readonly source: number;
  readonly destination: number;
  readonly protocol: number;
  /** Default 64. */
  readonly ttl?: number;
  readonly identification?: number;
  readonly dontFragment?: boolean;
  readonly dscpEcn?: number;
  /** Must be a multiple of 4 bytes, at most 40. */
  readonly options?: Uint8Array;
}

/** Writes the header into `out` at `at` (room for header + payload is the caller's) and computes the checksum. */
export function writeIpv4Header(out: Uint8Array, at: number, fields: Ipv4Fields, payloadLength: number): number {
  const options = fields.options ?? new Uint8Array(0);
  if (options.length % 4 !== 0 || options.length > IPV4_MAX_HEADER_BYTES - IPV4_MIN_HEADER_BYTES) {
    throw new RangeError('IPv4 options must be a multiple of 4 bytes, at most 40.');
  }
  const headerLength = IPV4_MIN_HEADER_BYTES + options.length;
  const totalLength = headerLength + payloadLength;
  if (totalLength > 0xffff) throw new RangeError(`An IPv4 packet cannot hold ${totalLength} bytes.`);
  out[at] = 0x40 | (headerLength / 4);
  out[at + 1] = fields.dscpEcn ?? 0;
  writeU16(out, at + 2, totalLength);
  writeU16(out, at + 4, fields.identification ?? 0);
  writeU16(out, at + 6, fields.dontFragment === false ? 0 : FLAG_DONT_FRAGMENT);
  out[at + 8] = fields.ttl ?? 64;
  out[at + 9] = fields.protocol;
  writeU16(out, at + 10, 0);
  writeU32(out, at + 12, fields.source);
  writeU32(out, at + 16, fields.destination);
  out.set(options, at + IPV4_MIN_HEADER_BYTES);
  writeU16(out, at + 10, internetChecksum(out, at, at + headerLength));
  return headerLength;
}

/** A new IPv4 packet: header (checksum computed) followed by a copy of the payload. */
export function encodeIpv4(fields: Ipv4Fields, payload: Uint8Array): Uint8Array {
  const headerLength = IPV4_MIN_HEADER_BYTES + (fields.options?.length ?? 0);
  const out = new Uint8Array(headerLength + payload.length);
  writeIpv4Header(out, 0, fields, payload.length);
  out.set(payload, headerLength);
  return out;
}
