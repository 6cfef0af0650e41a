import type { Address } from '../address.js';
import type { Endpoint } from '../transport.js';
import { parseEndpoint } from '../transport.js';
import { MAX_ENDPOINTS_PER_PEER, NatKind, type NatKindValue } from '../wire/messages.js';

/** Peers whose reports are remembered; the oldest report is forgotten first. */
const MAX_REPORTERS = 32;

interface Report {
  observed: Endpoint;
  at: number;
}

/**
 * What this node knows of its own endpoints: the local ones (its socket's addresses) and the ones
 * its peers observe its datagrams coming from (a NAT's mapping, when there is one). From these it
 * builds the endpoint list of its own PeerRecord, best first, and its NAT kind:
 * - every peer sees a local endpoint: NONE (reachable as it is);
 * - peers see other endpoints, all the same port: ENDPOINT_INDEPENDENT (one public mapping);
 * - peers see one public address with different ports: ENDPOINT_DEPENDENT (symmetric NAT).
 * A peer on the same LAN sees the local endpoint; that says nothing about the NAT toward others,
 * so such reports are left out of the NAT verdict.
 */
export class EndpointBook {
  private readonly reports = new Map<Address, Report>();

  constructor(private readonly localEndpoints: () => Endpoint[]) {}

  get observationCount(): number {
    return this.reports.size;
  }

  /** A direct peer said where our datagrams come from. Returns true when our record changed. */
  report(from: Address, observed: Endpoint, now: number): boolean {
    if (parseEndpoint(observed) === null) return false;
    const before = this.signature();
    const previous = this.reports.get(from);
    // A peer that saw us elsewhere before: our address or NAT mapping changed, so what the other
    // peers saw is stale (and mixing old and new ports would look like a symmetric NAT).
    if (previous !== undefined && previous.observed !== observed) this.reports.clear();
    this.reports.delete(from);
    this.reports.set(from, { observed, at: now });
    if (this.reports.size > MAX_REPORTERS) {
      const oldest = this.reports.keys().next();
      if (oldest.done !== true) this.reports.delete(oldest.value);
    }
    return this.signature() !== before;
  }

  forget(peer: Address): void {
    this.reports.delete(peer);
  }

  /** The host's addresses changed (a new network): what peers saw before no longer holds. */
  clear(): void {
    this.reports.clear();
  }

  nat(): NatKindValue {
    const local = new Set(this.localEndpoints());
    const outside = [...this.reports.values()].map((r) => r.observed).filter((e) => !local.has(e));
    if (outside.length === 0) return NatKind.NONE;
    const byHost = new Map<string, Set<number>>();
    for (const e of outside) {
      const p = parseEndpoint(e);
      if (p === null) continue;
      let ports = byHost.get(p.host);
      if (ports === undefined) byHost.set(p.host, (ports = new Set()));
      ports.add(p.port);
    }
    for (const ports of byHost.values()) if (ports.size > 1) return NatKind.ENDPOINT_DEPENDENT;
    return NatKind.ENDPOINT_INDEPENDENT;
  }

  /**
   * Our endpoints, best first: the observed endpoint most peers agree on (newest on a tie), then
   * the local ones (a change of mapping clears older reports, see report()). Behind a symmetric NAT the observed port is useless to others, so only its
   * local endpoints and one observed endpoint (for the address) are listed.
   */
  endpoints(): Endpoint[] {
    const local = this.localEndpoints();
    const localSet = new Set(local);
    const votes = new Map<Endpoint, { count: number; at: number }>();
    for (const r of this.reports.values()) {
      if (localSet.has(r.observed)) continue;
      const v = votes.get(r.observed);
      if (v === undefined) votes.set(r.observed, { count: 1, at: r.at });
      else {
        v.count++;
        v.at = Math.max(v.at, r.at);
      }
    }
    const observed = [...votes.entries()].sort((a, b) => b[1].count - a[1].count || b[1].at - a[1].at).map(([e]) => e);
    const out: Endpoint[] = [];
    for (const e of [...observed.slice(0, 1), ...local]) {
      if (!out.includes(e) && parseEndpoint(e) !== null && !isUnspecified(e)) out.push(e);
      if (out.length >= MAX_ENDPOINTS_PER_PEER) break;
    }
    return out;
  }

  /** A stable summary, to tell whether the record changed. */
  private signature(): string {
    return `${this.nat()}|${this.endpoints().join(',')}`;
  }
}

/** 0.0.0.0 or :: (a socket bound to every address) is no endpoint anyone can send to. */
function isUnspecified(e: Endpoint): boolean {
  const p = parseEndpoint(e);
  return p !== null && (p.host === '0.0.0.0' || p.host === '::');
}
