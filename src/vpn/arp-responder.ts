import { type ArpPacket, ArpOperation, decodeArp, encodeArp } from './packets/arp.js';
import { MAC_BYTES } from './packets/addresses.js';
import { EtherType, decodeEthernet, encodeEthernet } from './packets/ethernet.js';
import { type Ipv4Subnet, isSubnetHost, subnetContains } from './subnet.js';

/**
 * Answers ARP requests from the host on the TAP device for every address of the virtual subnet with
 * one local MAC: the node acts as a transparent gateway to the whole subnet, so the host sends every
 * subnet packet to that MAC and the node forwards it over the overlay.
 *
 * Never answered: the host's own address (that would tell it its address is taken), probes from
 * 0.0.0.0 (RFC 5227 duplicate address detection), gratuitous ARP (target = sender), requests from
 * outside the subnet, and the subnet's network and broadcast addresses.
 */
export interface ArpResponderInit {
  readonly subnet: Ipv4Subnet;
  /** The MAC the node answers with (not the TAP interface's own MAC). */
  readonly localMac: Uint8Array;
  /** The host's virtual address, if known. */
  readonly hostAddress?: number;
}

export type ArpIgnoreReason =
  | 'malformed'
  | 'not-arp'
  | 'not-request'
  | 'probe'
  | 'gratuitous'
  | 'own-address'
  | 'sender-outside-subnet'
  | 'target-outside-subnet';

export type ArpOutcome = { kind: 'reply'; frame: Uint8Array; request: ArpPacket } | { kind: 'ignored'; reason: ArpIgnoreReason };

export class ArpResponder {
  private readonly subnet: Ipv4Subnet;
  private readonly localMac: Uint8Array;
  private hostAddress: number | undefined;
  readonly counters = { replies: 0, ignored: 0 };

  constructor(init: ArpResponderInit) {
    if (init.localMac.length !== MAC_BYTES) throw new RangeError('The local MAC must be 6 bytes.');
    this.subnet = init.subnet;
    this.localMac = Uint8Array.from(init.localMac);
    this.hostAddress = init.hostAddress;
  }

  /** The host's address changed (e.g. after an address conflict was resolved). */
  setHostAddress(address: number | undefined): void {
    this.hostAddress = address;
  }

  /** Looks at one frame from the TAP device; returns the reply frame to write back, if any. */
  answer(frame: Uint8Array): ArpOutcome {
    const outcome = this.decide(frame);
    if (outcome.kind === 'reply') this.counters.replies++;
    else this.counters.ignored++;
    return outcome;
  }

  private decide(frame: Uint8Array): ArpOutcome {
    const ethernet = decodeEthernet(frame);
    if (!ethernet.ok) return { kind: 'ignored', reason: 'malformed' };
    if (ethernet.value.etherType !== EtherType.ARP) return { kind: 'ignored', reason: 'not-arp' };
    const decoded = decodeArp(ethernet.value.payload);
    if (!decoded.ok) return { kind: 'ignored', reason: 'malformed' };
    const request = decoded.value;
    if (request.operation !== ArpOperation.REQUEST) return { kind: 'ignored', reason: 'not-request' };
    if (request.senderIp === 0) return { kind: 'ignored', reason: 'probe' };
    if (request.targetIp === request.senderIp) return { kind: 'ignored', reason: 'gratuitous' };
    if (request.targetIp === this.hostAddress) return { kind: 'ignored', reason: 'own-address' };
    if (!subnetContains(this.subnet, request.senderIp)) return { kind: 'ignored', reason: 'sender-outside-subnet' };
    if (!isSubnetHost(this.subnet, request.targetIp)) return { kind: 'ignored', reason: 'target-outside-subnet' };
    const requesterMac = Uint8Array.from(request.senderMac);
    const reply = encodeArp({
      operation: ArpOperation.REPLY,
      senderMac: this.localMac,
      senderIp: request.targetIp,
      targetMac: requesterMac,
      targetIp: request.senderIp,
    });
    return { kind: 'reply', frame: encodeEthernet(requesterMac, this.localMac, EtherType.ARP, reply), request };
  }
}
