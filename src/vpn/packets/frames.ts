import { MAC_BYTES } from './addresses.js';
import { writeU16 } from './bytes.js';
import { ETHERNET_HEADER_BYTES, EtherType } from './ethernet.js';
import { IPV4_MIN_HEADER_BYTES, IpProtocol, writeIpv4Header } from './ipv4.js';
import { UDP_HEADER_BYTES, writeUdp } from './udp.js';

/** Whole frames in one allocation: what the VPN writes to the TAP device. */

/** An Ethernet frame carrying an IPv4 packet (copied). */
export function encodeIpv4Frame(destination: Uint8Array, source: Uint8Array, ipPacket: Uint8Array): Uint8Array {
  const frame = new Uint8Array(ETHERNET_HEADER_BYTES + ipPacket.length);
  frame.set(destination.subarray(0, MAC_BYTES), 0);
  frame.set(source.subarray(0, MAC_BYTES), MAC_BYTES);
  writeU16(frame, 12, EtherType.IPV4);
  frame.set(ipPacket, ETHERNET_HEADER_BYTES);
  return frame;
}

export interface UdpFrameFields {
  readonly destinationMac: Uint8Array;
  readonly sourceMac: Uint8Array;
  readonly sourceIp: number;
  readonly destinationIp: number;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly ttl?: number;
}

/** An Ethernet / IPv4 / UDP frame with both checksums computed. */
export function encodeUdpFrame(fields: UdpFrameFields, payload: Uint8Array): Uint8Array {
  const udpLength = UDP_HEADER_BYTES + payload.length;
  const frame = new Uint8Array(ETHERNET_HEADER_BYTES + IPV4_MIN_HEADER_BYTES + udpLength);
  frame.set(fields.destinationMac.subarray(0, MAC_BYTES), 0);
  frame.set(fields.sourceMac.subarray(0, MAC_BYTES), MAC_BYTES);
  writeU16(frame, 12, EtherType.IPV4);
  writeIpv4Header(
    frame,
    ETHERNET_HEADER_BYTES,
    { source: fields.sourceIp, destination: fields.destinationIp, protocol: IpProtocol.UDP, ttl: fields.ttl ?? 64, dontFragment: false },
    udpLength,
  );
  writeUdp(
    frame,
    ETHERNET_HEADER_BYTES + IPV4_MIN_HEADER_BYTES,
    fields.sourceIp,
    fields.destinationIp,
    fields.sourcePort,
    fields.destinationPort,
    payload,
  );
  return frame;
}
