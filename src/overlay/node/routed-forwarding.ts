import type { Address } from '../address.js';
import type { Clock } from '../clock.js';
import type { LinkLayer } from '../links/types.js';
import { type OverlayMessage, type RoutedBody, type RoutedMessage, RouteMode } from '../wire/messages.js';
import type { Connection, ConnectionTable } from './connection-table.js';
import type { RouteOptions } from './node-context.js';
import { decideRoute } from './router.js';

/** Silence beyond a link's keepalive interval after which routing avoids it under churn (a keepalive round trip is at most ~1 s). */
const SUSPECT_GRACE_MS = 1_500;

export interface RoutedForwardingParts {
  self: Address;
  clock: Clock;
  table: ConnectionTable;
  links: LinkLayer;
  /** Hops a routed message may take. */
  routeTtl: number;
  /** Counters this module adds to (the node's stats). */
  stats: { routedForwarded: number; routedDropped: number };
  /** Whether this node sees churn now (then silent links are suspects). */
  seesChurn(): boolean;
  /** The keepalive interval of a connection's link (its liveness profile). */
  keepaliveIdleMs(c: Connection): number;
  /** Routed messages to this peer avoid its direct link (its direct path broke; RelayPaths.avoidsDirect). */
  avoidsDirect(peer: Address): boolean;
  sendDirect(peer: Address, message: OverlayMessage): boolean;
  /** A routed message for this node. */
  deliver(m: RoutedMessage): void;
}

/** Greedy routing of routed messages: sending new ones, forwarding others', delivering ours. */
export class RoutedForwarding {
  constructor(private readonly parts: RoutedForwardingParts) {}

  route(destination: Address, body: RoutedBody, options: RouteOptions): void {
    const { parts } = this;
    const message: RoutedMessage = {
      kind: 'routed',
      source: parts.self,
      destination,
      mode: options.mode,
      excludeSource: options.excludeSource ?? false,
      ttl: parts.routeTtl,
      hops: 0,
      forwardTo: options.forwardTo ?? null,
      body,
    };
    if (options.firstHop !== undefined && parts.table.has(options.firstHop)) {
      this.send(options.firstHop, message);
      return;
    }
    this.forward(message, null);
  }

  forward(m: RoutedMessage, cameFrom: Address | null): void {
    const { parts } = this;
    const { table, self } = parts;
    if (m.forwardTo === self || (m.mode === RouteMode.EXACT && m.destination === self)) {
      parts.deliver(m);
      return;
    }
    // A peer whose direct path broke is reached around it (through nodes linked with it) until a relay carries the link.
    const avoid = table.has(m.destination) && parts.avoidsDirect(m.destination) ? m.destination : null;
    if (m.mode === RouteMode.EXACT && table.has(m.destination) && avoid === null) {
      this.send(m.destination, m);
      return;
    }
    const structured = this.candidates();
    let candidates = structured.length > 0 ? structured : [...table.all()].map((c) => c.address);
    if (avoid !== null) candidates = candidates.filter((c) => c !== avoid);
    // Around an avoided peer, the nearest other connection takes the message even when it is farther than this node.
    const excluded = avoid !== null ? self : m.excludeSource ? m.source : null;
    // The table keeps addressApprox of its ring: routing over the whole ring compares those first.
    const approx = candidates === table.structured() ? table.structuredApprox() : null;
    const decision = decideRoute(self, candidates, m.destination, m.mode, excluded, cameFrom, approx);
    if (decision.action === 'deliver') {
      if (m.forwardTo !== null && table.has(m.forwardTo)) this.send(m.forwardTo, m);
      else parts.deliver(m);
    } else if (decision.action === 'forward') {
      this.send(decision.nextHop, m);
    } else {
      parts.stats.routedDropped++;
    }
  }

  /**
   * Structured connections to route through. While this node sees churn, a link that has been
   * silent for longer than its keepalive interval plus SUSPECT_GRACE_MS has missed a keepalive
   * answer: its peer has probably crashed and the failure detector will say so soon. Routing
   * around such suspects (when any other connection is left) keeps requests from vanishing into a
   * dead hop during those seconds.
   */
  private candidates(): readonly Address[] {
    const { table, links } = this.parts;
    const structured = table.structured();
    if (!this.parts.seesChurn()) return structured;
    const now = this.parts.clock.now();
    let healthy: Address[] | null = null;
    for (let i = 0; i < structured.length; i++) {
      const a = structured[i] as Address;
      const c = table.get(a);
      const link = links.get(a);
      const suspect = c === undefined || link === undefined || now - link.lastReceivedAt > this.parts.keepaliveIdleMs(c) + SUSPECT_GRACE_MS;
      if (suspect && healthy === null) healthy = structured.slice(0, i) as Address[];
      else if (!suspect && healthy !== null) healthy.push(a);
    }
    return healthy === null || healthy.length === 0 ? structured : healthy;
  }

  private send(next: Address, m: RoutedMessage): void {
    if (m.ttl <= 0 || m.hops >= 255) {
      this.parts.stats.routedDropped++;
      return;
    }
    if (m.source !== this.parts.self) this.parts.stats.routedForwarded++;
    this.parts.sendDirect(next, { ...m, ttl: m.ttl - 1, hops: m.hops + 1 });
  }
}
