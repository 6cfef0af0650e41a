import { BROADCAST_MAC, IPV4_BROADCAST, MAC_BYTES, macEquals } from './packets/addresses.js';
import {
  BootpOp,
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  type DhcpMessage,
  type DhcpMessageInit,
  DhcpMessageType,
  decodeDhcp,
  encodeDhcp,
} from './packets/dhcp.js';
import { EtherType, decodeEthernet } from './packets/ethernet.js';
import { encodeUdpFrame } from './packets/frames.js';
import { IpProtocol, decodeIpv4 } from './packets/ipv4.js';
import { decodeUdp } from './packets/udp.js';
import { type Ipv4Subnet, isSubnetHost } from './subnet.js';

/**
 * The virtual DHCP server on the TAP device. The only client is the node's own host, and the only
 * address it hands out is the node's virtual IP (claimed over the DHT elsewhere): discover -> offer,
 * request -> ack for that address, nak for any other. Replies come from the services address (the
 * subnet's lowest host address, e.g. 10.254.0.1) and the node's local MAC.
 */
export interface DhcpServerInit {
  readonly subnet: Ipv4Subnet;
  /** The node's virtual IP: the address offered. */
  readonly clientAddress: number;
  readonly leaseSeconds: number;
  /** The MAC replies come from (the same local MAC the ARP responder answers with). */
  readonly serverMac: Uint8Array;
  /** Only this client (the TAP interface's MAC) is answered, if given. */
  readonly clientMac?: Uint8Array;
  /** Sent as the router option only when set: a router would make the host route everything here. */
  readonly router?: number;
  readonly dnsServers?: readonly number[];
  /** Sent as the interface MTU option when set (the TAP MTU that leaves room for the overlay headers). */
  readonly interfaceMtu?: number;
}

export type DhcpIgnoreReason =
  | 'not-dhcp'
  | 'malformed'
  | 'not-a-request'
  | 'other-client'
  | 'other-server'
  | 'release'
  | 'decline'
  | 'unexpected-type';

export type DhcpOutcome =
  | { kind: 'reply'; frame: Uint8Array; messageType: number; request: DhcpMessage }
  | { kind: 'ignored'; reason: DhcpIgnoreReason };

/** Leases shorter than a minute would have the host renew constantly; longer than a day outlive a claim. */
const MIN_LEASE_SECONDS = 60;
const MAX_LEASE_SECONDS = 86_400;

export class DhcpServer {
  private readonly init: DhcpServerInit;
  private clientAddress: number;
  private readonly leaseSeconds: number;
  readonly counters = { offers: 0, acks: 0, naks: 0, ignored: 0 };

  constructor(init: DhcpServerInit) {
    if (init.serverMac.length !== MAC_BYTES) throw new RangeError('The server MAC must be 6 bytes.');
    if (!isSubnetHost(init.subnet, init.clientAddress) || init.clientAddress === init.subnet.servicesAddress) {
      throw new RangeError('The client address must be a host address of the subnet other than the services address.');
    }
    this.init = init;
    this.clientAddress = init.clientAddress;
    this.leaseSeconds = Math.min(MAX_LEASE_SECONDS, Math.max(MIN_LEASE_SECONDS, Math.floor(init.leaseSeconds)));
  }

  /** The node's virtual IP changed: later requests for the old one get a nak, so the host moves over. */
  setClientAddress(address: number): void {
    this.clientAddress = address;
  }

  /** Looks at one frame from the TAP device; returns the reply frame to write back, if any. */
  handle(frame: Uint8Array): DhcpOutcome {
    const outcome = this.decide(frame);
    if (outcome.kind === 'ignored') this.counters.ignored++;
    else if (outcome.messageType === DhcpMessageType.OFFER) this.counters.offers++;
    else if (outcome.messageType === DhcpMessageType.ACK) this.counters.acks++;
    else this.counters.naks++;
    return outcome;
  }

  private decide(frame: Uint8Array): DhcpOutcome {
    const ethernet = decodeEthernet(frame);
    if (!ethernet.ok || ethernet.value.etherType !== EtherType.IPV4) return { kind: 'ignored', reason: 'not-dhcp' };
    const ip = decodeIpv4(ethernet.value.payload);
    if (!ip.ok) return { kind: 'ignored', reason: 'malformed' };
    const { header } = ip.value;
    if (header.protocol !== IpProtocol.UDP || header.moreFragments || header.fragmentOffset !== 0) return { kind: 'ignored', reason: 'not-dhcp' };
    const udp = decodeUdp(ip.value.payload, header.source, header.destination);
    if (!udp.ok) return { kind: 'ignored', reason: 'malformed' };
    if (udp.value.destinationPort !== DHCP_SERVER_PORT) return { kind: 'ignored', reason: 'not-dhcp' };
    const decoded = decodeDhcp(udp.value.payload);
    if (!decoded.ok) return { kind: 'ignored', reason: 'malformed' };
    const request = decoded.value;
    if (request.op !== BootpOp.REQUEST) return { kind: 'ignored', reason: 'not-a-request' };
    if (this.init.clientMac !== undefined && !macEquals(request.clientMac, this.init.clientMac)) return { kind: 'ignored', reason: 'other-client' };
    const services = this.init.subnet.servicesAddress;
    switch (request.messageType) {
      case DhcpMessageType.DISCOVER:
        return this.reply(request, DhcpMessageType.OFFER);
      case DhcpMessageType.REQUEST: {
        // A server id naming another server: the client took someone else's offer.
        if (request.serverId !== undefined && request.serverId !== services) return { kind: 'ignored', reason: 'other-server' };
        const wanted = request.requestedIp ?? request.clientAddress;
        return this.reply(request, wanted === this.clientAddress ? DhcpMessageType.ACK : DhcpMessageType.NAK);
      }
      case DhcpMessageType.INFORM:
        return this.reply(request, DhcpMessageType.ACK, true);
      case DhcpMessageType.RELEASE:
        return { kind: 'ignored', reason: 'release' };
      case DhcpMessageType.DECLINE:
        return { kind: 'ignored', reason: 'decline' };
      default:
        return { kind: 'ignored', reason: 'unexpected-type' };
    }
  }

  private reply(request: DhcpMessage, messageType: number, inform = false): DhcpOutcome {
    const { subnet } = this.init;
    const services = subnet.servicesAddress;
    const nak = messageType === DhcpMessageType.NAK;
    const lease = nak || inform ? undefined : this.leaseSeconds;
    const message: DhcpMessageInit = {
      op: BootpOp.REPLY,
      xid: request.xid,
      broadcast: request.broadcast,
      clientAddress: inform ? request.clientAddress : 0,
      yourAddress: nak || inform ? 0 : this.clientAddress,
      relayAddress: request.relayAddress,
      clientMac: request.clientMac,
      messageType,
      serverId: services,
      leaseSeconds: lease,
      renewalSeconds: lease === undefined ? undefined : Math.floor(lease / 2),
      rebindingSeconds: lease === undefined ? undefined : Math.floor((lease * 7) / 8),
      subnetMask: nak ? undefined : subnet.mask,
      routers: nak || this.init.router === undefined ? undefined : [this.init.router],
      dnsServers: nak ? undefined : this.init.dnsServers,
      interfaceMtu: nak ? undefined : this.init.interfaceMtu,
      message: nak ? 'requested address is not this host\'s virtual address' : undefined,
    };
    // RFC 2131 4.1: a nak, a client asking for broadcast, or one with no address yet is answered by
    // broadcast at the IP level; the Ethernet frame goes to the client's MAC unless it asked for broadcast.
    let destinationIp: number;
    if (nak || request.broadcast) destinationIp = IPV4_BROADCAST;
    else if (request.clientAddress !== 0) destinationIp = request.clientAddress;
    else destinationIp = inform ? IPV4_BROADCAST : this.clientAddress;
    const destinationMac = request.broadcast || nak ? BROADCAST_MAC : request.clientMac;
    const frame = encodeUdpFrame(
      {
        destinationMac,
        sourceMac: this.init.serverMac,
        sourceIp: services,
        destinationIp,
        sourcePort: DHCP_SERVER_PORT,
        destinationPort: DHCP_CLIENT_PORT,
      },
      encodeDhcp(message),
    );
    return { kind: 'reply', frame, messageType, request };
  }
}
