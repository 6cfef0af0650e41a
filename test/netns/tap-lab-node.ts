import { ArpResponder } from '../../src/vpn/arp-responder.js';
import { DhcpServer } from '../../src/vpn/dhcp-server.js';
import { FrameFilter, type FrameClass } from '../../src/vpn/frame-filter.js';
import { clampTcpMss } from '../../src/vpn/mss-clamp.js';
import { formatMac, parseIpv4, parseMac } from '../../src/vpn/packets/addresses.js';
import { decodeEthernet } from '../../src/vpn/packets/ethernet.js';
import { encodeIpv4Frame } from '../../src/vpn/packets/frames.js';
import { IcmpType, decodeIcmp, echoReplyFor, encodeFragmentationNeeded, mayAnswerWithIcmpError } from '../../src/vpn/packets/icmp.js';
import { IpProtocol, type Ipv4Header } from '../../src/vpn/packets/ipv4.js';
import { type Ipv4Subnet, parseSubnet } from '../../src/vpn/subnet.js';
import type { TapDevice } from '../../src/vpn/tap-device.js';

/**
 * The VPN layer's packet pieces wired to a real TAP device the way a node will wire them, minus the
 * overlay: ARP and DHCP are answered, pings to subnet addresses are answered as if the member were
 * there, packets larger than the tunnel MTU get "fragmentation needed", and every frame is recorded.
 * A test seam for the netns tests, not production code.
 */
export const LAB_SUBNET: Ipv4Subnet = ((): Ipv4Subnet => {
  const r = parseSubnet('10.254.0.0/16');
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
})();
export const LOCAL_MAC = parseMac('02:52:56:00:00:01') as Uint8Array;

export interface SeenFrame {
  readonly frame: Uint8Array;
  readonly class: FrameClass['kind'];
  readonly reason?: string;
}

export interface LabNodeOptions {
  readonly hostAddress: string;
  /** Packets larger than this get "fragmentation needed" (when DF is set). */
  readonly tunnelMtu: number;
}

export type UnicastHandler = (header: Ipv4Header, packet: Uint8Array) => Uint8Array[] | undefined;

export class LabNode {
  readonly filter: FrameFilter;
  readonly arp: ArpResponder;
  readonly dhcp: DhcpServer;
  readonly seen: SeenFrame[] = [];
  readonly errors: Error[] = [];
  answerPings = true;
  /** Extra handling of unicast packets (return frames to write back), before the ping answer. */
  onUnicast: UnicastHandler | undefined;
  private readonly tap: TapDevice;
  private readonly tunnelMtu: number;
  private waiters: Array<() => void> = [];

  constructor(tap: TapDevice, options: LabNodeOptions) {
    const hostAddress = parseIpv4(options.hostAddress) as number;
    this.tap = tap;
    this.tunnelMtu = options.tunnelMtu;
    this.filter = new FrameFilter({ subnet: LAB_SUBNET, localMac: LOCAL_MAC, hostAddress });
    this.arp = new ArpResponder({ subnet: LAB_SUBNET, localMac: LOCAL_MAC, hostAddress });
    this.dhcp = new DhcpServer({ subnet: LAB_SUBNET, clientAddress: hostAddress, leaseSeconds: 600, serverMac: LOCAL_MAC });
    tap.onFrames(
      (frames) => this.onFrames(frames),
      (error) => this.errors.push(error),
    );
  }

  /** Resolves when `predicate` holds, checked after every batch; rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`));
      }, timeoutMs);
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  private onFrames(frames: Uint8Array[]): void {
    const replies: Uint8Array[] = [];
    for (const frame of frames) {
      const c = this.filter.classify(frame);
      this.seen.push({ frame: Uint8Array.from(frame), class: c.kind, reason: c.kind === 'drop' ? c.reason : undefined });
      if (c.kind === 'arp') {
        const out = this.arp.answer(frame);
        if (out.kind === 'reply') replies.push(out.frame);
      } else if (c.kind === 'dhcp') {
        const out = this.dhcp.handle(frame);
        if (out.kind === 'reply') replies.push(out.frame);
      } else if (c.kind === 'ipv4-unicast' || c.kind === 'ipv4-services') {
        replies.push(...this.unicast(frame, c.header, c.packet));
      }
    }
    if (replies.length > 0) this.tap.writeBatch(replies);
    for (const w of [...this.waiters]) w();
  }

  private unicast(frame: Uint8Array, header: Ipv4Header, packet: Uint8Array): Uint8Array[] {
    const hostMac = decodeEthernet(frame);
    if (!hostMac.ok) return [];
    const toHost = (ipPacket: Uint8Array): Uint8Array => encodeIpv4Frame(hostMac.value.source, LOCAL_MAC, ipPacket);
    const payload = packet.subarray(header.headerLength);
    if (header.totalLength > this.tunnelMtu) {
      if (!header.dontFragment || !mayAnswerWithIcmpError(header, payload, [LAB_SUBNET.broadcast])) return [];
      return [toHost(encodeFragmentationNeeded(LAB_SUBNET.servicesAddress, packet, header, this.tunnelMtu))];
    }
    if (header.protocol === IpProtocol.TCP) clampTcpMss(packet, this.tunnelMtu - 40);
    const custom = this.onUnicast?.(header, packet);
    if (custom !== undefined) return custom.map(toHost);
    if (!this.answerPings || header.protocol !== IpProtocol.ICMP) return [];
    const icmp = decodeIcmp(payload);
    if (!icmp.ok || icmp.value.type !== IcmpType.ECHO_REQUEST) return [];
    return [toHost(echoReplyFor(header, icmp.value))];
  }

  describe(): string {
    return `local MAC ${formatMac(LOCAL_MAC)}, counts ${JSON.stringify(this.filter.counts)}, drops ${JSON.stringify(this.filter.drops)}`;
  }
}
