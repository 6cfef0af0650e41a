import { readU16 } from './packets/bytes.js';
import { patchWithChecksum } from './packets/checksum.js';
import { IpProtocol, decodeIpv4 } from './packets/ipv4.js';
import { TCP_CHECKSUM_OFFSET, TCP_MIN_HEADER_BYTES, TcpFlag, TcpOption, decodeTcpHeader, findTcpOption } from './packets/tcp.js';

/**
 * TCP MSS clamping: a SYN advertises the largest segment its sender accepts; lowering it to fit the
 * tunnel's MTU keeps TCP through the tunnel from sending packets the tunnel cannot carry (and from
 * stalling when ICMP "fragmentation needed" is filtered somewhere).
 */

const IPV4_AND_TCP_HEADERS = 40;
const MSS_OPTION_BYTES = 4;

/** The MSS that fits a tunnel MTU: the MTU minus the IPv4 and TCP headers without options. */
export function mssForMtu(tunnelMtu: number): number {
  return Math.max(0, tunnelMtu - IPV4_AND_TCP_HEADERS);
}

export type MssClampOutcome =
  | { kind: 'clamped'; from: number; to: number }
  | { kind: 'unchanged'; reason: 'not-tcp' | 'not-syn' | 'no-mss-option' | 'small-enough' | 'fragment' | 'malformed' };

/**
 * Lowers the MSS option of a TCP SYN (or SYN-ACK) inside `packet` (an IPv4 packet, e.g. a view into
 * an Ethernet frame) to `maxMss`, in place, and fixes the TCP checksum incrementally. Anything that
 * is not a well-formed TCP SYN with a larger MSS is left as it is.
 */
export function clampTcpMss(packet: Uint8Array, maxMss: number): MssClampOutcome {
  // The header checksum is not checked here: the clamp never makes a bad packet worse, and the
  // frame filter has already dropped packets with bad headers.
  const ip = decodeIpv4(packet, { verifyChecksum: false });
  if (!ip.ok) return { kind: 'unchanged', reason: 'malformed' };
  const { header, payload } = ip.value;
  if (header.protocol !== IpProtocol.TCP) return { kind: 'unchanged', reason: 'not-tcp' };
  if (header.fragmentOffset !== 0) return { kind: 'unchanged', reason: 'fragment' };
  const tcp = decodeTcpHeader(payload);
  if (!tcp.ok) return { kind: 'unchanged', reason: 'malformed' };
  if ((tcp.value.flags & TcpFlag.SYN) === 0) return { kind: 'unchanged', reason: 'not-syn' };
  const found = findTcpOption(tcp.value.options, TcpOption.MSS);
  if (!found.ok) return { kind: 'unchanged', reason: 'malformed' };
  if (found.value === undefined) return { kind: 'unchanged', reason: 'no-mss-option' };
  const optionAt = TCP_MIN_HEADER_BYTES + found.value;
  if (payload[optionAt + 1] !== MSS_OPTION_BYTES) return { kind: 'unchanged', reason: 'malformed' };
  const from = readU16(payload, optionAt + 2);
  if (from <= maxMss) return { kind: 'unchanged', reason: 'small-enough' };
  const to = Math.max(0, Math.min(0xffff, Math.floor(maxMss)));
  patchWithChecksum(payload, 0, TCP_CHECKSUM_OFFSET, optionAt + 2, Uint8Array.of(to >>> 8, to & 0xff));
  return { kind: 'clamped', from, to };
}
