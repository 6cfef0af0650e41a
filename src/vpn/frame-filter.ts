import { IPV4_BROADCAST, MAC_BYTES, isGroupMac, isMulticastIpv4, macEquals } from './packets/addresses.js';
import { ARP_BYTES } from './packets/arp.js';
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT } from './packets/dhcp.js';
import { ETHERNET_HEADER_BYTES, EtherType, decodeEthernet } from './packets/ethernet.js';
import { IpProtocol, type Ipv4Header, decodeIpv4 } from './packets/ipv4.js';
import { readU16 } from './packets/bytes.js';
import { UDP_HEADER_BYTES } from './packets/udp.js';
import { type Ipv4Subnet, subnetContains } from './subnet.js';

/**
 * Sorts the frames the host sends into the TAP device: what the node answers itself (ARP, DHCP),
 * what goes over the overlay (unicast to a member, broadcast and multicast), what goes to the
 * full-tunnel gateway (unicast outside the subnet), and what is dropped, with a counter per reason.
 * Pure: no I/O, nothing kept but counters.
 */
export interface FrameFilterInit {
  readonly subnet: Ipv4Subnet;
  /** The node's local MAC (the one the ARP responder answers with): unicast frames must be sent to it. */
  readonly localMac: Uint8Array;
  /** The host's virtual address, once known: IPv4 from any other source is dropped (anti-spoofing). */
  readonly hostAddress?: number;
  /** Frames longer than this are dropped (TAP MTU + 14). Default 65535 + 14. */
  readonly maxFrameBytes?: number;
}

export type DropReason =
  | 'too-short'
  | 'oversized'
  | 'unsupported-ethertype'
  | 'bad-arp'
  | 'bad-ipv4'
  | 'bad-checksum'
  | 'bad-source'
  | 'wrong-mac'
  | 'bad-destination';

/** What to do with a frame. `packet` and `header` are views into the frame. */
export type FrameClass =
  | { kind: 'arp' }
  | { kind: 'dhcp' }
  | { kind: 'ipv4-unicast'; header: Ipv4Header; packet: Uint8Array }
  | { kind: 'ipv4-services'; header: Ipv4Header; packet: Uint8Array }
  | { kind: 'ipv4-outside'; header: Ipv4Header; packet: Uint8Array }
  | { kind: 'ipv4-broadcast'; header: Ipv4Header; packet: Uint8Array }
  | { kind: 'ipv4-multicast'; header: Ipv4Header; packet: Uint8Array }
  | { kind: 'drop'; reason: DropReason };

export type FrameKind = FrameClass['kind'];

const DEFAULT_MAX_FRAME_BYTES = 65_535 + ETHERNET_HEADER_BYTES;

const drop = (reason: DropReason): FrameClass => ({ kind: 'drop', reason });

export class FrameFilter {
  private readonly subnet: Ipv4Subnet;
  private readonly localMac: Uint8Array;
  private hostAddress: number | undefined;
  private readonly maxFrameBytes: number;
  readonly counts: Record<FrameKind, number> = {
    arp: 0,
    dhcp: 0,
    'ipv4-unicast': 0,
    'ipv4-services': 0,
    'ipv4-outside': 0,
    'ipv4-broadcast': 0,
    'ipv4-multicast': 0,
    drop: 0,
  };
  readonly drops: Record<DropReason, number> = {
    'too-short': 0,
    oversized: 0,
    'unsupported-ethertype': 0,
    'bad-arp': 0,
    'bad-ipv4': 0,
    'bad-checksum': 0,
    'bad-source': 0,
    'wrong-mac': 0,
    'bad-destination': 0,
  };

  constructor(init: FrameFilterInit) {
    if (init.localMac.length !== MAC_BYTES) throw new RangeError('The local MAC must be 6 bytes.');
    this.subnet = init.subnet;
    this.localMac = Uint8Array.from(init.localMac);
    this.hostAddress = init.hostAddress;
    this.maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  setHostAddress(address: number | undefined): void {
    this.hostAddress = address;
  }

  classify(frame: Uint8Array): FrameClass {
    const result = this.decide(frame);
    this.counts[result.kind]++;
    if (result.kind === 'drop') this.drops[result.reason]++;
    return result;
  }

  private decide(frame: Uint8Array): FrameClass {
    if (frame.length > this.maxFrameBytes) return drop('oversized');
    const ethernet = decodeEthernet(frame);
    if (!ethernet.ok) return drop('too-short');
    const { destination, etherType, payload } = ethernet.value;
    if (etherType === EtherType.ARP) return payload.length >= ARP_BYTES ? { kind: 'arp' } : drop('bad-arp');
    if (etherType !== EtherType.IPV4) return drop('unsupported-ethertype');
    const ip = decodeIpv4(payload);
    if (!ip.ok) return drop(ip.error.code === 'bad-checksum' ? 'bad-checksum' : 'bad-ipv4');
    const { header, packet } = ip.value;
    const groupMac = isGroupMac(destination);
    if (isDhcpToServer(header, ip.value.payload)) return { kind: 'dhcp' };
    if (!this.validSource(header.source)) return drop('bad-source');
    const dst = header.destination;
    if (dst === IPV4_BROADCAST || dst === this.subnet.broadcast) {
      return groupMac ? { kind: 'ipv4-broadcast', header, packet } : drop('wrong-mac');
    }
    if (isMulticastIpv4(dst)) return groupMac ? { kind: 'ipv4-multicast', header, packet } : drop('wrong-mac');
    if (groupMac || !macEquals(destination, this.localMac)) return drop('wrong-mac');
    if (dst === 0 || dst === this.subnet.network || dst >>> 24 === 127 || dst === this.hostAddress) return drop('bad-destination');
    if (dst === this.subnet.servicesAddress) return { kind: 'ipv4-services', header, packet };
    if (subnetContains(this.subnet, dst)) return { kind: 'ipv4-unicast', header, packet };
    return { kind: 'ipv4-outside', header, packet };
  }

  private validSource(source: number): boolean {
    if (this.hostAddress !== undefined) return source === this.hostAddress;
    return subnetContains(this.subnet, source) && source !== this.subnet.network && source !== this.subnet.broadcast;
  }
}

/** A DHCP client message: UDP 68 -> 67, not fragmented, with room for a UDP header. */
function isDhcpToServer(header: Ipv4Header, payload: Uint8Array): boolean {
  if (header.protocol !== IpProtocol.UDP || header.moreFragments || header.fragmentOffset !== 0) return false;
  if (payload.length < UDP_HEADER_BYTES) return false;
  return readU16(payload, 0) === DHCP_CLIENT_PORT && readU16(payload, 2) === DHCP_SERVER_PORT;
}
