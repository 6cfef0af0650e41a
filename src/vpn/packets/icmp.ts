import { isMulticastIpv4 } from './addresses.js';
import { readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { internetChecksum } from './checksum.js';
import { type PacketResult, packetError } from './errors.js';
import { type Ipv4Header, IPV4_MIN_HEADER_BYTES, IpProtocol, writeIpv4Header } from './ipv4.js';

/**
 * ICMP for IPv4 (RFC 792): echo request and reply, and "destination unreachable", whose code 4
 * ("fragmentation needed", RFC 1191) carries the next-hop MTU so that path MTU discovery works
 * through the tunnel.
 *
 *  0       8       16              32
 *  +-------+-------+---------------+
 *  | type  | code  | checksum      |
 *  | rest of header (4 bytes)      |   echo: identifier, sequence; frag. needed: unused, next-hop MTU
 *  +-------------------------------+
 *  | data ...                      |
 */
export const ICMP_HEADER_BYTES = 8;

export const IcmpType = {
  ECHO_REPLY: 0,
  DESTINATION_UNREACHABLE: 3,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
} as const;

export const UnreachableCode = {
  NETWORK: 0,
  HOST: 1,
  PROTOCOL: 2,
  PORT: 3,
  FRAGMENTATION_NEEDED: 4,
  ADMIN_PROHIBITED: 13,
} as const;

/** Unreachable, source quench, redirect, time exceeded, parameter problem: never answered with another error. */
const ICMP_ERROR_TYPES: ReadonlySet<number> = new Set([3, 4, 5, 11, 12]);

/** Bytes of the offending packet quoted in an error: its IP header and the first 8 bytes after it (RFC 792). */
const QUOTED_PAYLOAD_BYTES = 8;

export interface IcmpMessage {
  readonly type: number;
  readonly code: number;
  readonly checksum: number;
  /** The 4 bytes after the checksum as one number. */
  readonly restOfHeader: number;
  /** For echo request/reply. */
  readonly identifier: number;
  readonly sequence: number;
  /** For "fragmentation needed". */
  readonly nextHopMtu: number;
  /** A view of the bytes after the 8-byte header. */
  readonly data: Uint8Array;
}

/** Decodes the payload of an IPv4 packet whose protocol is ICMP. */
export function decodeIcmp(bytes: Uint8Array, verifyChecksum = true): PacketResult<IcmpMessage> {
  if (bytes.length < ICMP_HEADER_BYTES) return packetError('too-short', `An ICMP message needs 8 bytes; got ${bytes.length}.`);
  if (verifyChecksum && internetChecksum(bytes, 0, bytes.length) !== 0) return packetError('bad-checksum', 'The ICMP checksum is wrong.');
  return {
    ok: true,
    value: {
      type: bytes[0] as number,
      code: bytes[1] as number,
      checksum: readU16(bytes, 2),
      restOfHeader: readU32(bytes, 4),
      identifier: readU16(bytes, 4),
      sequence: readU16(bytes, 6),
      nextHopMtu: readU16(bytes, 6),
      data: bytes.subarray(ICMP_HEADER_BYTES),
    },
  };
}

/** A full IPv4 packet carrying one ICMP message. */
function icmpPacket(source: number, destination: number, type: number, code: number, restOfHeader: number, data: Uint8Array): Uint8Array {
  const icmpLength = ICMP_HEADER_BYTES + data.length;
  const out = new Uint8Array(IPV4_MIN_HEADER_BYTES + icmpLength);
  writeIpv4Header(out, 0, { source, destination, protocol: IpProtocol.ICMP, dontFragment: false }, icmpLength);
  const at = IPV4_MIN_HEADER_BYTES;
  out[at] = type;
  out[at + 1] = code;
  writeU32(out, at + 4, restOfHeader);
  out.set(data, at + ICMP_HEADER_BYTES);
  writeU16(out, at + 2, internetChecksum(out, at, out.length));
  return out;
}

export function encodeEcho(
  kind: 'request' | 'reply',
  source: number,
  destination: number,
  identifier: number,
  sequence: number,
  data: Uint8Array,
): Uint8Array {
  const type = kind === 'request' ? IcmpType.ECHO_REQUEST : IcmpType.ECHO_REPLY;
  return icmpPacket(source, destination, type, 0, ((identifier & 0xffff) << 16) | (sequence & 0xffff), data);
}

/** The echo reply to an echo request, from the address the request was sent to. */
export function echoReplyFor(request: Ipv4Header, echo: IcmpMessage): Uint8Array {
  return encodeEcho('reply', request.destination, request.source, echo.identifier, echo.sequence, echo.data);
}

/**
 * Whether an ICMP error may be sent about this packet (RFC 1122 3.2.2): never about an ICMP error,
 * a non-first fragment, or a packet sent to or from a broadcast or multicast address.
 */
export function mayAnswerWithIcmpError(header: Ipv4Header, payload: Uint8Array, broadcastAddresses: readonly number[] = []): boolean {
  if (header.fragmentOffset !== 0) return false;
  if (isMulticastIpv4(header.destination) || isMulticastIpv4(header.source)) return false;
  if (header.destination === 0xffff_ffff || broadcastAddresses.includes(header.destination)) return false;
  if (header.source === 0 || header.source === 0xffff_ffff) return false;
  if (header.protocol === IpProtocol.ICMP) {
    const type = payload[0];
    if (type === undefined || ICMP_ERROR_TYPES.has(type)) return false;
  }
  return true;
}

/**
 * "Destination unreachable" about `original` (an IPv4 packet: header and payload as received), sent
 * from `source` back to the original sender. Quotes the original header and 8 payload bytes.
 */
export function encodeDestinationUnreachable(source: number, original: Uint8Array, originalHeader: Ipv4Header, code: number, nextHopMtu = 0): Uint8Array {
  const quoted = original.subarray(0, Math.min(original.length, originalHeader.headerLength + QUOTED_PAYLOAD_BYTES));
  return icmpPacket(source, originalHeader.source, IcmpType.DESTINATION_UNREACHABLE, code, nextHopMtu & 0xffff, quoted);
}

/** "Fragmentation needed and DF set" (RFC 1191): tells the sender the largest packet the tunnel carries. */
export function encodeFragmentationNeeded(source: number, original: Uint8Array, originalHeader: Ipv4Header, nextHopMtu: number): Uint8Array {
  return encodeDestinationUnreachable(source, original, originalHeader, UnreachableCode.FRAGMENTATION_NEEDED, nextHopMtu);
}
