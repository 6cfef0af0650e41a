import { type Address, shortAddress } from '../overlay/address.js';
import type { Clock, TimerHandle } from '../overlay/clock.js';
import type { Logger } from '../overlay/log.js';
import type { DhtResult } from '../overlay/node/dht-service.js';
import type { Random } from '../overlay/random.js';
import { ArpResponder } from './arp-responder.js';
import { DhcpServer } from './dhcp-server.js';
import { FrameFilter } from './frame-filter.js';
import { type FramePort, HostWriter } from './host-writer.js';
import { BROADCAST_MAC, IPV4_BROADCAST, formatIpv4, isMulticastIpv4 } from './packets/addresses.js';
import { readU16, readU32 } from './packets/bytes.js';
import { ETHERNET_HEADER_BYTES } from './packets/ethernet.js';
import { IcmpType, decodeIcmp, echoReplyFor } from './packets/icmp.js';
import { IpProtocol, type Ipv4Header, decodeIpv4 } from './packets/ipv4.js';
import { PendingPackets } from './pending-packets.js';
import { type Ipv4Subnet, isSubnetHost } from './subnet.js';
import { TokenBucket } from './token-bucket.js';
import { VipResolver } from './vip-resolver.js';


export type { FramePort };

/** The overlay node's parts the bridge uses (OverlayNode has them). */
export interface BridgeNode {
  readonly address: Address;
  sendDatagram(peer: Address, data: Uint8Array): boolean;
  openSession(peer: Address): void;
  closeSession(peer: Address): void;
  onDatagram(handler: (peer: Address, data: Uint8Array) => void): void;
  onBroadcast(channel: number, handler: (origin: Address, data: Uint8Array, hops: number) => void): void;
  sendApp(destination: Address, channel: number, data: Uint8Array): void;
  onApp(channel: number, handler: (source: Address, data: Uint8Array, hops: number) => void): void;
  readonly broadcast: { send(channel: number, data: Uint8Array): string };
  readonly dht: { get(key: Uint8Array, cb: (r: DhtResult) => void): void };
}

export interface TapBridgeInit {
  readonly networkIdHex: string;
  readonly subnet: Ipv4Subnet;
  /** The node's MAC on the virtual LAN: what ARP answers for every member address. */
  readonly gatewayMac: Uint8Array;
  /** The host interface's MAC until a frame from the host says otherwise. */
  readonly hostMac: Uint8Array;
  /** The TAP MTU: the largest IP packet the tunnel carries (vpn-mtu.ts). */
  readonly tunnelMtu: number;
  /** DHCP lease handed to the host (default 600 s). */
  readonly dhcpLeaseSeconds?: number;
}

export interface TapBridgeComponents {
  readonly node: BridgeNode;
  readonly tap: FramePort;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
}

/** Overlay broadcast channel of the virtual LAN's broadcast and multicast packets. */
export const VPN_BROADCAST_CHANNEL = 0x56;
/** Packets held per destination while its owner is looked up or its session comes up. */
const PENDING_PER_DESTINATION = 16;
const PENDING_DESTINATIONS = 256;
/**
 * A destination whose session is not up after this long gets "host unreachable". Long enough for
 * a DHT lookup that retries (5 s per try) and a relay search (about 5 s after failed punching).
 */
const PENDING_TIMEOUT_MS = 15_000;
/** How often held packets are checked for their timeout while any are held (lookups answer by callback). */
const PENDING_POLL_MS = 1_000;
/** Overlay app channel of packets routed over the ring while no session with their destination is up. */
export const VPN_ROUTED_CHANNEL = 0x56;
/**
 * Until the session with a destination is up (a handshake, NAT punching, or a relay search of a few
 * seconds), its packets are routed hop by hop over the ring, as IPOP does: the first packets do not
 * wait, and a pair whose session cannot be set up still talks. Every hop carries them, so the rate
 * is capped (about 11 Mbit/s of full-size packets); the session takes over as soon as it is up.
 */
const ROUTED_PER_SECOND = 1_000;
const ROUTED_BURST = 200;
/** Sessions without traffic this long are given back to the overlay. */
const SESSION_IDLE_MS = 10 * 60_000;
/**
 * A session request is routed again after this long (plus up to SESSION_RETRY_JITTER_MS) if the
 * session is still not up. More than the overlay's 10 s de-duplication of connection attempts, or
 * the repeat does nothing; jittered, so that two members that opened sessions toward each other at
 * the same moment (crossing requests, both answered as replies) do not keep colliding.
 */
const SESSION_RETRY_MS = 11_000;
const SESSION_RETRY_JITTER_MS = 4_000;
/**
 * LAN broadcast and multicast (mDNS, SSDP, NetBIOS) reach every member through the overlay, so
 * each costs the whole ring: a few per second is what discovery protocols need.
 */
const BROADCAST_OUT_PER_SECOND = 20;
const BROADCAST_OUT_BURST = 50;
const BROADCAST_IN_PER_SECOND = 200;
const BROADCAST_IN_BURST = 400;
/** Frames longer than a jumbo frame are dropped as oversized before anything looks inside. */
export const MAX_HOST_FRAME_BYTES = 9_000 + ETHERNET_HEADER_BYTES;
/** Packets without DF up to this size are carried even above the tunnel MTU (a relay carries 2048-byte payloads). */
const MAX_UNFRAGMENTED_CARRIED = 1_900;

export type BridgeDrop =
  | 'no-address-yet'
  | 'no-owner'
  | 'too-big'
  | 'outside-subnet'
  | 'broadcast-rate'
  | 'in-malformed'
  | 'in-not-for-us'
  | 'in-spoofed'
  | 'in-broadcast-rate'
  | 'routed-rate';

/**
 * The virtual LAN between the TAP device and the overlay. From the host: ARP and DHCP are answered
 * here; IPv4 to a member is resolved (virtual IP -> owner, DHT) and sent as a datagram on the
 * session with the owner (no Ethernet header on the wire); broadcast and multicast go to every
 * member by overlay broadcast. From peers: a packet is written to the TAP only if its source
 * address belongs to the peer that sent it (the DHT owner record says so) and it is for our address.
 */
export class TapBridge {
  readonly filter: FrameFilter;
  readonly arp: ArpResponder;
  readonly resolver: VipResolver;
  private dhcp: DhcpServer | null = null;
  private vip: number | undefined;
  private readonly host: HostWriter;
  private readonly outbound = new PendingPackets<number>(PENDING_PER_DESTINATION, PENDING_DESTINATIONS);
  private readonly inbound = new PendingPackets<number>(PENDING_PER_DESTINATION, PENDING_DESTINATIONS);
  private readonly sessions = new Map<Address, { lastUsed: number; retryAt: number }>();
  private readonly broadcastOut = new TokenBucket(BROADCAST_OUT_PER_SECOND, BROADCAST_OUT_BURST);
  private readonly broadcastIn = new TokenBucket(BROADCAST_IN_PER_SECOND, BROADCAST_IN_BURST);
  private readonly routedOut = new TokenBucket(ROUTED_PER_SECOND, ROUTED_BURST);
  private pendingTimer: TimerHandle | null = null;
  private idleTimer: TimerHandle | null = null;
  private running = true;
  get hostStats(): HostWriter['stats'] {
    return this.host.stats;
  }

  readonly stats = {
    framesIn: 0,
    packetsOut: 0,
    packetsIn: 0,
    routedOut: 0,
    routedIn: 0,
    broadcastsOut: 0,
    broadcastsIn: 0,
    drops: {} as Partial<Record<BridgeDrop, number>>,
  };

  constructor(
    private readonly init: TapBridgeInit,
    private readonly c: TapBridgeComponents,
  ) {
    this.host = new HostWriter(c.tap, init.gatewayMac, init.hostMac, init.subnet, init.tunnelMtu, c.clock);
    this.filter = new FrameFilter({ subnet: init.subnet, localMac: init.gatewayMac, maxFrameBytes: MAX_HOST_FRAME_BYTES });
    this.arp = new ArpResponder({ subnet: init.subnet, localMac: init.gatewayMac });
    this.resolver = new VipResolver({ networkIdHex: init.networkIdHex }, { dht: c.node.dht, clock: c.clock });
    c.node.onDatagram((peer, data) => this.fromPeer(peer, data));
    c.node.onApp(VPN_ROUTED_CHANNEL, (source, data) => {
      this.stats.routedIn++;
      this.fromPeer(source, data);
    });
    c.node.onBroadcast(VPN_BROADCAST_CHANNEL, (origin, data) => this.fromBroadcast(origin, data));
    this.idleTimer = c.clock.setInterval(() => this.closeIdleSessions(), 60_000);
  }

  /** Our virtual IP (undefined while it is being claimed): what the host may send from and what we accept. */
  setAddress(vip: number | undefined): void {
    this.vip = vip;
    this.filter.setHostAddress(vip);
    this.arp.setHostAddress(vip);
    if (vip === undefined) return;
    if (this.dhcp === null) {
      this.dhcp = new DhcpServer({
        subnet: this.init.subnet,
        clientAddress: vip,
        leaseSeconds: this.init.dhcpLeaseSeconds ?? 600,
        serverMac: this.init.gatewayMac,
        interfaceMtu: this.init.tunnelMtu,
      });
    } else this.dhcp.setClientAddress(vip);
  }

  get address(): number | undefined {
    return this.vip;
  }

  get dhcpCounters(): DhcpServer['counters'] | undefined {
    return this.dhcp?.counters;
  }

  /** Frames the host sent into the TAP device (one batch of a read). */
  onFrames(frames: readonly Uint8Array[]): void {
    for (const frame of frames) this.fromHost(frame);
  }

  /** Peers the bridge keeps sessions with (the native data path takes their bulk packets). */
  sessionPeers(): IterableIterator<Address> {
    return this.sessions.keys();
  }

  /** The native data path carried packets to `peer`: its session is in use. */
  touchSession(peer: Address): void {
    const s = this.sessions.get(peer);
    if (s !== undefined) s.lastUsed = this.c.clock.now();
  }

  /** The host's MAC as last learned (frames to the host go to it). */
  get hostMac(): Uint8Array {
    return this.host.mac;
  }

  stop(): void {
    this.running = false;
    this.pendingTimer?.cancel();
    this.pendingTimer = null;
    this.idleTimer?.cancel();
    this.idleTimer = null;
    this.outbound.clear();
    this.inbound.clear();
    this.resolver.stop();
    for (const peer of this.sessions.keys()) this.c.node.closeSession(peer);
    this.sessions.clear();
  }

  private fromHost(frame: Uint8Array): void {
    this.stats.framesIn++;
    const k = this.filter.classify(frame);
    if (k.kind === 'drop') return;
    this.host.learnHostMac(frame);
    switch (k.kind) {
      case 'arp': {
        const r = this.arp.answer(frame);
        if (r.kind === 'reply') this.host.writeFrame(r.frame);
        return;
      }
      case 'dhcp': {
        const r = this.dhcp?.handle(frame);
        if (r?.kind === 'reply') this.host.writeFrame(r.frame);
        return;
      }
      case 'ipv4-unicast':
        return this.toMember(k.header, k.packet);
      case 'ipv4-services':
        return this.toServices(k.header, k.packet);
      case 'ipv4-broadcast':
      case 'ipv4-multicast':
        return this.toEveryone(k.packet);
      case 'ipv4-outside':
        // No full tunnel yet: the host has no route that sends other destinations here.
        return this.drop('outside-subnet');
    }
  }

  private toMember(header: Ipv4Header, packet: Uint8Array): void {
    if (this.vip === undefined) return this.drop('no-address-yet');
    if (packet.length > this.init.tunnelMtu) {
      // The host's MTU was raised above the tunnel's. With DF: tell it the tunnel MTU (path MTU
      // discovery). Without: small excess is carried (the underlay fragments it), more is dropped.
      if (header.dontFragment) {
        this.host.fragmentationNeeded(header, packet);
        return this.drop('too-big');
      }
      if (packet.length > MAX_UNFRAGMENTED_CARRIED) return this.drop('too-big');
    }
    if (header.protocol === IpProtocol.TCP) this.host.clampSyn(packet, header.headerLength);
    const dst = header.destination;
    const owner = this.resolver.lookup(dst);
    if (owner === null) return this.unreachableFor(header, packet);
    if (owner !== undefined && !this.outbound.has(dst)) return this.forward(owner, packet);
    // Owner unknown: hold a copy while it is looked up (a view would keep the whole read batch's buffer alive).
    if (!this.outbound.add(dst, packet.slice(), this.c.clock.now())) return;
    this.resolver.resolve(dst, () => this.flushPending());
    this.schedulePendingPoll();
  }

  /** Over the session with the owner; while there is none, one is asked for and the packet is routed over the ring. */
  private forward(owner: Address, packet: Uint8Array): void {
    if (owner === this.c.node.address) return this.unreachableFor(undefined, packet);
    if (this.send(owner, packet)) return;
    this.openSession(owner);
    if (!this.routedOut.take(this.c.clock.now())) return this.drop('routed-rate');
    this.stats.routedOut++;
    this.c.node.sendApp(owner, VPN_ROUTED_CHANNEL, packet);
  }

  private send(owner: Address, packet: Uint8Array): boolean {
    if (owner === this.c.node.address || !this.c.node.sendDatagram(owner, packet)) return false;
    this.stats.packetsOut++;
    const s = this.sessions.get(owner);
    if (s === undefined) this.openSession(owner);
    else s.lastUsed = this.c.clock.now();
    return true;
  }

  /** Asks the overlay for a session with `owner` (kept while we use it); again after SESSION_RETRY_MS while it is not up. */
  private openSession(owner: Address): void {
    if (owner === this.c.node.address) return;
    const now = this.c.clock.now();
    let s = this.sessions.get(owner);
    if (s === undefined) {
      s = { lastUsed: now, retryAt: -Infinity };
      this.sessions.set(owner, s);
      this.c.log.debug('opening a session for the virtual LAN', { peer: shortAddress(owner) });
    }
    s.lastUsed = now;
    if (now < s.retryAt) return;
    s.retryAt = now + SESSION_RETRY_MS + this.c.random.int(SESSION_RETRY_JITTER_MS);
    this.c.node.openSession(owner);
  }

  private schedulePendingPoll(): void {
    if (this.pendingTimer !== null || !this.running) return;
    this.pendingTimer = this.c.clock.setTimeout(() => {
      this.pendingTimer = null;
      this.flushPending();
    }, PENDING_POLL_MS);
  }

  /** Sends what waited for a lookup; gives up on destinations whose lookup took too long. */
  private flushPending(): void {
    if (!this.running) return;
    const now = this.c.clock.now();
    for (const [dst, q] of [...this.outbound.entries()]) {
      const owner = this.resolver.lookup(dst);
      if (owner === undefined) {
        if (now - q.since <= PENDING_TIMEOUT_MS) continue;
        const first = this.outbound.take(dst)[0];
        if (first !== undefined) this.unreachableFor(undefined, first);
        continue;
      }
      const packets = this.outbound.take(dst);
      if (owner === null) {
        if (packets[0] !== undefined) this.unreachableFor(undefined, packets[0]);
        continue;
      }
      for (const p of packets) this.forward(owner, p);
    }
    for (const [src, q] of [...this.inbound.entries()]) if (now - q.since > PENDING_TIMEOUT_MS) this.inbound.take(src);
    if (this.outbound.size > 0 || this.inbound.size > 0) this.schedulePendingPoll();
  }

  /** The services address (the subnet's lowest host address) answers ping; nothing else runs there yet. */
  private toServices(header: Ipv4Header, packet: Uint8Array): void {
    if (header.protocol !== IpProtocol.ICMP || header.fragmentOffset !== 0) return;
    const icmp = decodeIcmp(packet.subarray(header.headerLength, header.totalLength));
    if (icmp.ok && icmp.value.type === IcmpType.ECHO_REQUEST) this.host.writePacket(echoReplyFor(header, icmp.value));
  }

  private toEveryone(packet: Uint8Array): void {
    if (this.vip === undefined) return this.drop('no-address-yet');
    if (!this.broadcastOut.take(this.c.clock.now())) return this.drop('broadcast-rate');
    this.stats.broadcastsOut++;
    this.c.node.broadcast.send(VPN_BROADCAST_CHANNEL, packet);
  }

  /** A datagram from a peer: an IPv4 packet for us, from an address that peer owns. `data` is only valid now. */
  private fromPeer(peer: Address, data: Uint8Array): void {
    if (!this.running) return;
    if (!wellFormedIpv4(data)) return this.drop('in-malformed');
    const src = readU32(data, 12);
    if (this.vip === undefined || readU32(data, 16) !== this.vip) return this.drop('in-not-for-us');
    const length = readU16(data, 2);
    this.deliverIfOwned(peer, src, data.subarray(0, length), this.host.mac);
  }

  private fromBroadcast(origin: Address, data: Uint8Array): void {
    if (!this.running || origin === this.c.node.address) return;
    if (!this.broadcastIn.take(this.c.clock.now())) return this.drop('in-broadcast-rate');
    const ip = decodeIpv4(data);
    if (!ip.ok || ip.value.packet.length > this.init.tunnelMtu) return this.drop('in-malformed');
    const dst = ip.value.header.destination;
    let mac: Uint8Array;
    if (dst === IPV4_BROADCAST || dst === this.init.subnet.broadcast) mac = BROADCAST_MAC;
    else if (isMulticastIpv4(dst)) mac = Uint8Array.of(0x01, 0x00, 0x5e, (dst >>> 16) & 0x7f, (dst >>> 8) & 0xff, dst & 0xff);
    else return this.drop('in-not-for-us');
    this.stats.broadcastsIn++;
    this.deliverIfOwned(origin, ip.value.header.source, ip.value.packet, mac);
  }

  /** Anti-spoofing: a peer may only send from the virtual IP the DHT says it owns. */
  private deliverIfOwned(peer: Address, src: number, packet: Uint8Array, dstMac: Uint8Array): void {
    if (!isSubnetHost(this.init.subnet, src)) return this.drop('in-spoofed');
    const owner = this.resolver.lookup(src);
    if (owner === peer) {
      this.stats.packetsIn++;
      this.host.writePacket(packet, dstMac);
      return;
    }
    if (owner !== undefined && owner !== null) {
      // Someone else owns it (or our answer is stale): look again, but do not deliver this one.
      this.resolver.resolve(src, () => {});
      return this.drop('in-spoofed');
    }
    // Unknown: hold a copy until the lookup says who owns the address.
    if (!this.inbound.add(src, Uint8Array.from(packet), this.c.clock.now())) return;
    this.resolver.resolve(src, (found) => {
      const held = this.inbound.take(src);
      if (found !== peer) {
        for (let i = 0; i < held.length; i++) this.drop('in-spoofed');
        return;
      }
      for (const p of held) {
        this.stats.packetsIn++;
        this.host.writePacket(p, dstMac);
      }
    });
  }

  private unreachableFor(header: Ipv4Header | undefined, packet: Uint8Array): void {
    this.drop('no-owner');
    this.host.hostUnreachable(header, packet);
  }

  private closeIdleSessions(): void {
    const now = this.c.clock.now();
    for (const [peer, s] of this.sessions) {
      if (now - s.lastUsed < SESSION_IDLE_MS) continue;
      this.sessions.delete(peer);
      this.c.node.closeSession(peer);
    }
  }

  private drop(reason: BridgeDrop): void {
    this.stats.drops[reason] = (this.stats.drops[reason] ?? 0) + 1;
  }

  describe(): string {
    return `vip ${this.vip === undefined ? '-' : formatIpv4(this.vip)}, ${JSON.stringify(this.stats)}`;
  }
}

/** Version 4, a header length that fits, a total length that fits what arrived. */
function wellFormedIpv4(data: Uint8Array): boolean {
  if (data.length < 20) return false;
  const first = data[0] as number;
  if (first >>> 4 !== 4) return false;
  const ihl = (first & 0x0f) * 4;
  const total = readU16(data, 2);
  return ihl >= 20 && total >= ihl && total <= data.length;
}
