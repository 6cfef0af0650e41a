import type { Address } from '../address.js';
import { type NeighbourInfo, NatKind, type PeerRecord } from '../wire/messages.js';

/** How relays are ranked (the simulator compares them; nodes use `balanced`). */
export type RelayStrategy = 'balanced' | 'lowest-latency' | 'most-stable' | 'random';

/** A relay candidate younger than this scores worse (it may be churning). */
const YOUNG_CONNECTION_S = 120;
/** The RTT assumed for a neighbour whose RTT is not measured yet. */
export const UNKNOWN_RTT_MS = 500;

/**
 * Common neighbours of the two sides, best first. Both sides call this with the same two lists
 * (requester's first), so they agree on the order without another message.
 * - lowest-latency: sum of both sides' RTTs to the relay;
 * - most-stable: the longer the younger of the two connections has lasted, the better;
 * - balanced (default): latency, plus a penalty for a connection younger than 2 minutes;
 * - random: any common neighbour (a baseline for the simulator's comparison).
 */
export function rankRelays(requester: NeighbourInfo[], responder: NeighbourInfo[], strategy: RelayStrategy, random: () => number): Address[] {
  const theirs = new Map(responder.map((n) => [n.address, n]));
  const common: { address: Address; score: number }[] = [];
  for (const a of requester) {
    const b = theirs.get(a.address);
    if (b === undefined) continue;
    const latency = (a.rttMs ?? UNKNOWN_RTT_MS) + (b.rttMs ?? UNKNOWN_RTT_MS);
    const age = Math.min(a.ageSeconds, b.ageSeconds);
    let score: number;
    switch (strategy) {
      case 'lowest-latency':
        score = latency;
        break;
      case 'most-stable':
        score = -age;
        break;
      case 'random':
        score = random();
        break;
      default:
        score = latency + (age < YOUNG_CONNECTION_S ? 2_000 : 0);
    }
    common.push({ address: a.address, score });
  }
  common.sort((x, y) => x.score - y.score || (x.address < y.address ? -1 : 1));
  return common.map((c) => c.address);
}

export function isNatted(r: PeerRecord): boolean {
  return (r.nat ?? NatKind.NONE) !== NatKind.NONE;
}

function isSymmetric(r: PeerRecord): boolean {
  return r.nat === NatKind.ENDPOINT_DEPENDENT;
}


/** Plain words for why two nodes could not link directly. */
export function natReason(peer: PeerRecord, self: PeerRecord): string {
  if (isSymmetric(peer) && isSymmetric(self)) return 'no direct path: both sides are behind NATs that change ports per destination (symmetric)';
  if (isSymmetric(peer)) return 'no direct path: the peer is behind a NAT that changes ports per destination (symmetric)';
  if (isSymmetric(self)) return 'no direct path: this node is behind a NAT that changes ports per destination (symmetric)';
  if ((peer.nat ?? NatKind.NONE) !== NatKind.NONE || (self.nat ?? NatKind.NONE) !== NatKind.NONE) return 'no direct path: hole punching through the NATs got no answer';
  return 'no direct path: direct handshakes got no answer (a firewall?)';
}

/**
 * No direct path can work: one side's NAT maps every destination to a new port (symmetric) and
 * the other is behind a NAT too, so neither side's probes can reach a mapping the other opened.
 * (A full-cone NAT on the other side would work, but nobody can tell it from a port-restricted one.)
 */
export function directHopeless(peer: PeerRecord, self: PeerRecord): boolean {
  const p = peer.nat ?? NatKind.NONE;
  const s = self.nat ?? NatKind.NONE;
  return (p === NatKind.ENDPOINT_DEPENDENT && s !== NatKind.NONE) || (s === NatKind.ENDPOINT_DEPENDENT && p !== NatKind.NONE);
}
