import type { Clock } from '../overlay/clock.js';
import { clampTcpMss, mssForMtu } from './mss-clamp.js';
import { MAC_BYTES, macEquals } from './packets/addresses.js';
import { ETHERNET_HEADER_BYTES, EtherType } from './packets/ethernet.js';
import { UnreachableCode, encodeDestinationUnreachable, encodeFragmentationNeeded, mayAnswerWithIcmpError } from './packets/icmp.js';
import { IpProtocol, type Ipv4Header, decodeIpv4 } from './packets/ipv4.js';
import type { Ipv4Subnet } from './subnet.js';
import { TokenBucket } from './token-bucket.js';

/** Where frames go back to the host: the TAP device (tap-device.ts), or anything with its write. */
export interface FramePort {
  write(frame: Uint8Array): boolean;
}

/** "Host unreachable" answers to the host at most this often (a ping flood to a missing member). */
const UNREACHABLE_PER_SECOND = 10;
const TCP_FLAGS_OFFSET = 13;
const TCP_SYN = 0x02;

/**
 * Writes to the host's side of the TAP device: IPv4 packets in Ethernet frames from the gateway
 * MAC to the host's MAC (learned from the host's own frames), and the ICMP errors the tunnel
 * answers with. Clamps the MSS of TCP SYNs it writes (the other direction of the clamp).
 */
export class HostWriter {
  private hostMac: Uint8Array;
  private readonly mss: number;
  private readonly unreachable = new TokenBucket(UNREACHABLE_PER_SECOND, UNREACHABLE_PER_SECOND);
  readonly stats = { icmpSent: 0, writeDrops: 0 };

  constructor(
    private readonly tap: FramePort,
    private readonly gatewayMac: Uint8Array,
    hostMac: Uint8Array,
    private readonly subnet: Ipv4Subnet,
    private readonly tunnelMtu: number,
    private readonly clock: Clock,
  ) {
    if (gatewayMac.length !== MAC_BYTES || hostMac.length !== MAC_BYTES) throw new RangeError('MACs must be 6 bytes.');
    this.hostMac = Uint8Array.from(hostMac);
    this.mss = mssForMtu(tunnelMtu);
  }

  get mac(): Uint8Array {
    return this.hostMac;
  }

  /** The host's interface MAC, from a frame it sent (it may be changed with `ip link`). */
  learnHostMac(frame: Uint8Array): void {
    if (!macEquals(frame.subarray(MAC_BYTES, 2 * MAC_BYTES), this.hostMac)) this.hostMac = frame.slice(MAC_BYTES, 2 * MAC_BYTES);
  }

  /** Lowers the MSS of a TCP SYN to what the tunnel carries (the flags byte is checked first: most packets are not SYNs). */
  clampSyn(packet: Uint8Array, headerLength: number): void {
    const flags = packet[headerLength + TCP_FLAGS_OFFSET];
    if (flags !== undefined && (flags & TCP_SYN) !== 0) clampTcpMss(packet, this.mss);
  }

  /** An IPv4 packet to the host (one copy, into the frame), from the gateway MAC. */
  writePacket(packet: Uint8Array, dstMac: Uint8Array = this.hostMac): void {
    const frame = Buffer.allocUnsafe(ETHERNET_HEADER_BYTES + packet.length);
    frame.set(dstMac, 0);
    frame.set(this.gatewayMac, MAC_BYTES);
    frame[12] = EtherType.IPV4 >>> 8;
    frame[13] = EtherType.IPV4 & 0xff;
    frame.set(packet, ETHERNET_HEADER_BYTES);
    if (packet[9] === IpProtocol.TCP) this.clampSyn(frame.subarray(ETHERNET_HEADER_BYTES), ((packet[0] as number) & 0x0f) * 4);
    this.writeFrame(frame);
  }

  writeFrame(frame: Uint8Array): void {
    let ok: boolean;
    try {
      ok = this.tap.write(frame);
    } catch {
      ok = false;
    }
    if (!ok) this.stats.writeDrops++;
  }

  /** RFC 1191: the host sent a DF packet larger than the tunnel MTU. */
  fragmentationNeeded(header: Ipv4Header, packet: Uint8Array): void {
    this.answerIcmp(encodeFragmentationNeeded(this.subnet.servicesAddress, packet, header, this.tunnelMtu), header, packet);
  }

  /** Nobody owns the destination, or its session never came up (rate-limited). */
  hostUnreachable(header: Ipv4Header | undefined, packet: Uint8Array): void {
    let h = header;
    if (h === undefined) {
      const decoded = decodeIpv4(packet, { verifyChecksum: false });
      if (!decoded.ok) return;
      h = decoded.value.header;
    }
    if (!this.unreachable.take(this.clock.now())) return;
    this.answerIcmp(encodeDestinationUnreachable(this.subnet.servicesAddress, packet, h, UnreachableCode.HOST), h, packet);
  }

  private answerIcmp(reply: Uint8Array, header: Ipv4Header, packet: Uint8Array): void {
    if (!mayAnswerWithIcmpError(header, packet.subarray(header.headerLength), [this.subnet.broadcast])) return;
    this.stats.icmpSent++;
    this.writePacket(reply);
  }
}
