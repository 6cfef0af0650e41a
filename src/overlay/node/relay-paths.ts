import { type Address, shortAddress } from '../address.js';
import type { TimerHandle } from '../clock.js';
import type { Endpoint } from '../transport.js';
import { type NeighbourInfo, MAX_PATH_NEIGHBOURS, type PeerRecord, RouteMode } from '../wire/messages.js';
import { ConnectionFlag } from './connection-table.js';
import type { NodeContext } from './node-context.js';
import { relayOf, relayPath } from './node-transport.js';
import { type RelayStrategy, UNKNOWN_RTT_MS, directHopeless, isNatted, natReason, rankRelays } from './relay-choice.js';

/** A relayed link silent this long moves to the next relay (RELAYED_LIVENESS pings it every second). */
export const RELAY_SILENCE_MS = 2_500;
export const RELAYED_LIVENESS = { keepaliveIdleMs: 1_000, deadAfterMs: 20_000 } as const;
/**
 * A direct link between two peers that are both behind NATs (a punched path) breaks silently when
 * either NAT's mapping changes (a NAT restart, a new network). Such links are pinged after 10 s of
 * silence (also what holds the mappings open) and count as broken after PUNCHED_BROKEN_AFTER_MS:
 * a keepalive and two re-pings went unanswered. The deadline stays long: a broken punched path
 * moves to a relay, it does not end the session.
 */
export const PUNCHED_LIVENESS = { keepaliveIdleMs: 10_000, deadAfterMs: 60_000 } as const;
const PUNCHED_BROKEN_AFTER_MS = PUNCHED_LIVENESS.keepaliveIdleMs + 5_000;
/**
 * After a punched path broke, no direct packet goes to the peer for this long before punching
 * again: our last packets from the new mapping reached the peer's NAT unsolicited, and a Linux NAT
 * keeps such an "unreplied" entry (which spoils a punch) for 30 s after the last of them.
 */
const QUIET_BEFORE_REPUNCH_MS = 35_000;
/** Relays kept in reserve behind the one in use. */
const RESERVES = 2;
/**
 * Between attempts to upgrade a relayed link to a direct one. A failed attempt's probes may reach
 * the far NAT unsolicited and leave an entry there that spoils the next punch for 30 s (Linux's
 * unreplied-UDP timeout), so attempts are further apart than that, and than QUIET_BEFORE_REPUNCH_MS.
 */
const UPGRADE_INTERVAL_MS = 45_000;
const PATH_REQUEST_TIMEOUT_MS = 5_000;
/** A path request for a session whose direct path broke is sent again after this long, this many times at most. */
const FALLBACK_RETRY_MS = 1_500;
const FALLBACK_RETRIES = 3;
/** Plans and requests in flight, at most. */
const MAX_PLANS = 256;
const MAX_TOKENS = 256;
/** Path requests sent for one peer before giving up (each after creating overlap, if there was none). */
const MAX_PATH_ATTEMPTS = 3;

export interface PathState {
  path: 'direct' | 'relayed';
  via: Address | null;
  reason: string;
}

interface Plan {
  peer: PeerRecord;
  /** Relays, best first, as both sides rank them from the same two neighbour lists. */
  ranking: Address[];
  reason: string;
  lastSwitchAt: number;
  nextUpgradeAt: number;
  attempts: number;
  upgraded: boolean;
}

interface Waiting {
  peer: PeerRecord;
  /** A node linked with the peer that the request went through (kept for retries). */
  via: Address | undefined;
  neighbours: NeighbourInfo[];
  sentAt: number;
  reason: string;
  retries: number;
}

/**
 * Autonomic relays, the client side. When no direct path to a peer works, the two sides swap
 * their connection lists (path-request / path-reply, routed over the overlay), and both rank the
 * relays they share the same way: the best carries the session, the next ones stand in reserve.
 * With no common neighbour, each side links to some of the other's neighbours and asks again.
 * A relayed session moves to a reserve when its relay goes silent, and tries every minute to
 * become direct again (coordinated probes); a direct path that goes silent falls back to relays.
 */
export class RelayPaths {
  private readonly plans = new Map<Address, Plan>();
  private readonly waiting = new Map<number, Waiting>();
  /** Tokens of connect-requests sent to make a relay candidate, or to upgrade a relayed link. */
  private readonly linkTokens = new Map<number, { kind: 'relay-candidate' | 'upgrade'; peer: Address; at: number }>();
  /** Peers this node asked to link with as relay candidates (flagged RELAY when the link comes up). */
  private readonly wantRelayLink = new Map<Address, number>();
  /** Tokens of relay-candidate and upgrade requests: their own range, apart from the ring's and the connector's. */
  private nextToken = 0x4000_0000;
  /** Peers whose direct path broke (or is known to be stale): moved to a relay as soon as one is known. */
  private readonly fallingBack = new Map<Address, number>();
  private readonly timers = new Set<TimerHandle>();
  readonly stats = { pathRequests: 0, relayedLinks: 0, failovers: 0, upgrades: 0, fallbacks: 0 };

  constructor(
    private readonly ctx: NodeContext,
    private readonly strategy: RelayStrategy = 'balanced',
  ) {}

  /** What the node reports for a linked peer. */
  describe(peer: Address, endpoint: Endpoint): PathState {
    const relay = relayOf(endpoint);
    const plan = this.plans.get(peer);
    if (relay !== null) return { path: 'relayed', via: relay, reason: `relayed via ${shortAddress(relay)}: ${plan?.reason ?? 'the peer reached us through a relay'}` };
    if (plan?.upgraded === true) return { path: 'direct', via: null, reason: 'direct: punched through NAT (upgraded from a relay)' };
    return { path: 'direct', via: null, reason: `direct: linked at ${endpoint}` };
  }

  /** Whether anything here needs the once-a-second tick. */
  get busy(): boolean {
    return (
      this.plans.size > 0 || this.waiting.size > 0 || this.linkTokens.size > 0 || this.wantRelayLink.size > 0 || this.fallingBack.size > 0 || this.watchesAny()
    );
  }

  /**
   * Whether the link with `peer` is a punched path this module watches: direct, no relay plan, and
   * both sides behind NATs (`selfNatted` is passed in: callers ask for many peers at once).
   */
  watches(peer: Address, selfNatted: boolean): boolean {
    if (!selfNatted || this.plans.has(peer)) return false;
    const link = this.ctx.links.get(peer);
    return link !== undefined && relayOf(link.endpoint) === null && isNatted(this.ctx.peerRecord(peer));
  }

  /**
   * The direct path to a linked peer is broken, or about to be (this host moved, or its NAT
   * mapping changed, so the peer's NAT will drop our packets): carry the session over a relay
   * now, without another direct packet, and punch again once the NATs have forgotten the broken
   * path (QUIET_BEFORE_REPUNCH_MS).
   */
  fallBack(peer: Address, reason: string): void {
    const link = this.ctx.links.get(peer);
    if (link === undefined || relayOf(link.endpoint) !== null || this.fallingBack.has(peer)) return;
    if (this.fallingBack.size >= MAX_PLANS) return;
    this.fallingBack.set(peer, this.ctx.clock.now());
    this.stats.fallbacks++;
    this.ctx.log.info('direct path lost, moving to a relay', { peer: shortAddress(peer), reason });
    const plan = this.plans.get(peer);
    if (plan !== undefined) {
      plan.reason = reason;
      if (this.switchToRelay(plan, null)) return;
    }
    for (const w of this.waiting.values()) if (w.peer.address === peer) return;
    this.sendPathRequest(this.ctx.peerRecord(peer), reason);
  }

  stop(): void {
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    this.plans.clear();
    this.waiting.clear();
    this.linkTokens.clear();
    this.wantRelayLink.clear();
    this.fallingBack.clear();
  }

  hasPlan(peer: Address): boolean {
    return this.plans.has(peer);
  }

  /** No direct path to `peer` worked: find a relay. */
  onDirectFailed(peer: PeerRecord, reason: string, via?: Address): void {
    if (this.plans.has(peer.address) && this.ctx.links.get(peer.address) !== undefined) return;
    for (const w of this.waiting.values()) if (w.peer.address === peer.address) return;
    this.sendPathRequest(peer, reason, via);
  }

  onPathRequest(source: Address, body: { token: number; requester: PeerRecord; neighbours: NeighbourInfo[]; via: Address | null; directBroken: boolean }): void {
    if (body.requester.address !== source) return;
    const link = this.ctx.links.get(source);
    // The requester says our direct link broke: it is broken here too (the reply must go around it).
    const broken = body.directBroken && link !== undefined && relayOf(link.endpoint) === null;
    if (broken && !this.fallingBack.has(source) && this.fallingBack.size < MAX_PLANS) {
      this.fallingBack.set(source, this.ctx.clock.now());
      this.stats.fallbacks++;
    }
    const mine = this.neighbourInfos(source);
    this.ctx.sendReply(source, { type: 'path-reply', token: body.token, responder: this.ctx.selfRecord(), neighbours: mine }, body.via);
    const ranking = rankRelays(body.neighbours, mine, this.strategy, () => this.ctx.random.float());
    const reason = broken ? 'the direct path stopped answering (a NAT on the way forgot or changed its mapping)' : natReason(body.requester, this.ctx.selfRecord());
    const plan = this.adopt(body.requester, ranking, reason);
    if (ranking.length === 0) this.createOverlap(body.neighbours, source);
    else if (broken) this.switchToRelay(plan, null);
  }

  /** Routed messages to `peer` avoid its direct link: the path broke and no relay carries the link yet. */
  avoidsDirect(peer: Address): boolean {
    return this.fallingBack.has(peer);
  }

  onPathReply(body: { token: number; responder: PeerRecord; neighbours: NeighbourInfo[] }): void {
    const w = this.waiting.get(body.token);
    if (w === undefined || w.peer.address !== body.responder.address) return;
    this.waiting.delete(body.token);
    const ranking = rankRelays(w.neighbours, body.neighbours, this.strategy, () => this.ctx.random.float());
    this.ctx.log.debug('path reply', { peer: shortAddress(body.responder.address), common: ranking.length, theirs: body.neighbours.length, ours: w.neighbours.length });
    const plan = this.adopt(body.responder, ranking, w.reason);
    if (ranking.length === 0) {
      this.createOverlap(body.neighbours, body.responder.address);
      if (plan.attempts < MAX_PATH_ATTEMPTS && this.timers.size < MAX_TOKENS) {
        const retry = this.ctx.clock.setTimeout(() => {
          this.timers.delete(retry);
          if (this.ctx.links.get(plan.peer.address) === undefined) this.sendPathRequest(plan.peer, plan.reason, w.via);
        }, 3_000);
        this.timers.add(retry);
      }
      return;
    }
    if (this.ctx.links.get(body.responder.address) === undefined) {
      for (const relay of ranking.slice(0, 1 + RESERVES)) this.ctx.links.connect(relayPath(relay, body.responder.address), body.responder.address);
    } else if (this.fallingBack.has(body.responder.address)) {
      this.switchToRelay(plan, null);
    }
  }

  /** A connect-reply arrived: true when it answered one of our tokens (handled here). */
  onConnectReply(token: number, responder: PeerRecord): boolean {
    const t = this.linkTokens.get(token);
    if (t === undefined) return false;
    this.linkTokens.delete(token);
    if (t.kind === 'relay-candidate') {
      if (this.ctx.table.has(responder.address)) this.ctx.table.addFlags(responder.address, ConnectionFlag.RELAY);
      else {
        if (this.wantRelayLink.size < MAX_TOKENS) this.wantRelayLink.set(responder.address, this.ctx.clock.now());
        this.ctx.connectTo(responder, 'relay');
      }
      return true;
    }
    // Upgrade or re-punch: the peer has opened its NAT toward us; probe its endpoints directly.
    if (this.ctx.links.get(t.peer) !== undefined) {
      this.ctx.log.debug('peer opened its NAT, probing it directly', { peer: shortAddress(t.peer), endpoint: responder.endpoints.join(',') });
      for (const e of responder.endpoints) this.ctx.links.probePath(t.peer, e);
    }
    return true;
  }

  /** A link came up: flags for relay candidates; a relayed peer's plan notes how it is reached. */
  onLinkUp(peer: Address): void {
    if (this.wantRelayLink.delete(peer)) this.ctx.table.addFlags(peer, ConnectionFlag.RELAY);
    const link = this.ctx.links.get(peer);
    if (link !== undefined && relayOf(link.endpoint) !== null) this.stats.relayedLinks++;
  }

  /** A link went down: a relayed peer's plan ends with its link, a relay's loss is handled by tick. */
  onLinkDown(peer: Address): void {
    this.plans.delete(peer);
    this.fallingBack.delete(peer);
    this.releaseUnneededRelays();
  }

  /**
   * Once a second: failover of relayed (and upgraded) links that went silent, upgrade attempts,
   * and expiry of requests.
   */
  tick(): void {
    const now = this.ctx.clock.now();
    for (const [token, w] of this.waiting) {
      const age = now - w.sentAt;
      if (age > FALLBACK_RETRY_MS && w.retries < FALLBACK_RETRIES && this.fallingBack.has(w.peer.address)) {
        // A session without a working path: ask again soon (the request or its answer may have
        // crossed a link that has not followed a move yet).
        this.waiting.delete(token);
        this.sendPathRequest(w.peer, w.reason, w.via, w.retries + 1);
        continue;
      }
      if (age <= PATH_REQUEST_TIMEOUT_MS) continue;
      this.waiting.delete(token);
      this.ctx.log.debug('path request unanswered', { peer: shortAddress(w.peer.address), via: w.via === undefined ? null : shortAddress(w.via) });
    }
    for (const [token, t] of this.linkTokens) if (now - t.at > PATH_REQUEST_TIMEOUT_MS * 2) this.linkTokens.delete(token);
    for (const [a, at] of this.wantRelayLink) if (now - at > 30_000) this.wantRelayLink.delete(a);
    for (const [a, at] of this.fallingBack) if (now - at > PATH_REQUEST_TIMEOUT_MS * 2) this.fallingBack.delete(a);
    this.watchPunchedPaths(now);
    for (const plan of this.plans.values()) {
      const link = this.ctx.links.get(plan.peer.address);
      if (link === undefined) continue;
      const relay = relayOf(link.endpoint);
      const relayGone = relay !== null && !this.ctx.table.has(relay);
      const silent = now - link.lastReceivedAt > RELAY_SILENCE_MS;
      const broken = relay === null && this.fallingBack.has(plan.peer.address);
      if (broken || ((relayGone || silent) && now - plan.lastSwitchAt > RELAY_SILENCE_MS)) {
        if (this.switchToRelay(plan, relay)) this.stats.failovers++;
      } else if (relay !== null && now >= plan.nextUpgradeAt && !directHopeless(plan.peer, this.ctx.selfRecord())) {
        plan.nextUpgradeAt = now + 2 * UPGRADE_INTERVAL_MS * this.upgradeJitter();
        this.tryUpgrade(plan);
      } else if (relay === null && !plan.upgraded && !silent) {
        plan.upgraded = true;
        this.stats.upgrades++;
        this.ctx.log.info('path changed', { peer: shortAddress(plan.peer.address), path: 'direct', endpoint: link.endpoint });
      }
    }
  }

  /** Moves a plan's link to its best live relay other than `current`; false when none is left. */
  private switchToRelay(plan: Plan, current: Address | null): boolean {
    const next = this.nextRelay(plan, current);
    if (next === null) return false;
    const now = this.ctx.clock.now();
    plan.lastSwitchAt = now;
    if (current === null) {
      plan.upgraded = false;
      if (this.fallingBack.delete(plan.peer.address)) {
        plan.nextUpgradeAt = now + this.upgradeDelay(plan.peer.address, QUIET_BEFORE_REPUNCH_MS);
      }
    }
    const endpoint = relayPath(next, plan.peer.address);
    this.ctx.log.info('path changed', { peer: shortAddress(plan.peer.address), path: 'relayed', relay: shortAddress(next), reason: plan.reason });
    this.ctx.links.redirect(plan.peer.address, endpoint);
    this.ctx.links.probePath(plan.peer.address, endpoint);
    return true;
  }

  /** Punched paths whose keepalives went unanswered fall back to a relay (see PUNCHED_LIVENESS). */
  private watchPunchedPaths(now: number): void {
    if (!isNatted(this.ctx.selfRecord())) return;
    for (const c of this.ctx.table.all()) {
      if (!this.watches(c.address, true)) continue;
      const link = this.ctx.links.get(c.address);
      if (link !== undefined && now - link.lastReceivedAt > PUNCHED_BROKEN_AFTER_MS) {
        this.fallBack(c.address, 'the direct path stopped answering (a NAT on the way forgot or changed its mapping)');
      }
    }
  }

  private watchesAny(): boolean {
    if (!isNatted(this.ctx.selfRecord())) return false;
    for (const c of this.ctx.table.all()) if (this.watches(c.address, true)) return true;
    return false;
  }

  /** The relays this node keeps links to for its plans (flagged RELAY so they are not closed). */
  private releaseUnneededRelays(): void {
    const needed = new Set<Address>();
    for (const p of this.plans.values()) for (const r of p.ranking.slice(0, 1 + RESERVES)) needed.add(r);
    for (const c of [...this.ctx.table.all()]) {
      if ((c.flags & ConnectionFlag.RELAY) === 0 || needed.has(c.address) || this.wantRelayLink.has(c.address)) continue;
      this.ctx.table.clearFlags(c.address, ConnectionFlag.RELAY);
      if (this.ctx.table.get(c.address)?.flags === 0) this.ctx.disconnect(c.address, 'relay no longer needed');
    }
  }

  private adopt(peer: PeerRecord, ranking: Address[], reason: string): Plan {
    let plan = this.plans.get(peer.address);
    if (plan === undefined) {
      if (this.plans.size >= MAX_PLANS) {
        const oldest = this.plans.keys().next();
        if (oldest.done !== true) this.plans.delete(oldest.value);
      }
      const now = this.ctx.clock.now();
      plan = { peer, ranking, reason, lastSwitchAt: now, nextUpgradeAt: now + this.upgradeDelay(peer.address, UPGRADE_INTERVAL_MS), attempts: 0, upgraded: false };
      this.plans.set(peer.address, plan);
    } else {
      plan.peer = peer;
      plan.ranking = ranking;
      plan.reason = reason;
    }
    for (const r of ranking.slice(0, 1 + RESERVES)) if (this.ctx.table.has(r)) this.ctx.table.addFlags(r, ConnectionFlag.RELAY);
    return plan;
  }

  private nextRelay(plan: Plan, current: Address | null): Address | null {
    const live = plan.ranking.filter((r) => r !== current && this.ctx.table.has(r) && relayOf(this.ctx.links.get(r)?.endpoint ?? 'relay:') === null);
    return live[0] ?? null;
  }

  /** `via`: a node linked with the peer, for a peer greedy routing cannot reach from here (see NodeContext.connectTo). */
  private sendPathRequest(peer: PeerRecord, reason: string, via?: Address, retries = 0): void {
    if (this.waiting.size >= MAX_TOKENS) return;
    const plan = this.plans.get(peer.address);
    if (plan !== undefined) plan.attempts++;
    const token = this.nextToken++ >>> 0;
    const neighbours = this.neighbourInfos(peer.address);
    this.waiting.set(token, { peer, via, neighbours, sentAt: this.ctx.clock.now(), reason, retries });
    this.stats.pathRequests++;
    this.ctx.log.debug('path request', { peer: shortAddress(peer.address), via: via === undefined ? null : shortAddress(via), reason });
    const directBroken = this.fallingBack.has(peer.address);
    const body = { type: 'path-request', token, requester: this.ctx.selfRecord(), neighbours, via: this.ctx.returnVia() ?? via ?? null, directBroken } as const;
    if (via !== undefined && via !== this.ctx.self) this.ctx.route(via, body, { mode: RouteMode.CLOSEST, forwardTo: peer.address });
    else this.ctx.route(peer.address, body, { mode: RouteMode.EXACT });
  }

  /** No common neighbour: link to a few of the other side's (lowest latency first). */
  private createOverlap(theirs: NeighbourInfo[], peer: Address): void {
    const picks = [...theirs]
      .filter((n) => n.address !== this.ctx.self && !this.ctx.table.has(n.address))
      .sort((a, b) => (a.rttMs ?? UNKNOWN_RTT_MS) - (b.rttMs ?? UNKNOWN_RTT_MS))
      .slice(0, 2);
    for (const n of picks) {
      if (this.linkTokens.size >= MAX_TOKENS) return;
      const token = this.nextToken++ >>> 0;
      this.linkTokens.set(token, { kind: 'relay-candidate', peer, at: this.ctx.clock.now() });
      this.ctx.route(n.address, { type: 'connect-request', token, purpose: 2, requester: this.ctx.selfRecord(), via: this.ctx.returnVia() }, { mode: RouteMode.EXACT });
    }
  }

  /**
   * When to try to punch a relayed link first. Both sides hold a plan, and two punches started at
   * once by both ends get in each other's way (each side's probes can reach the other's NAT before
   * that side's opener), so the sides take turns: the one with the lower address first, the other
   * UPGRADE_INTERVAL_MS later, each then every 2 * UPGRADE_INTERVAL_MS. When one direction keeps
   * failing (a NAT state on one side), the other direction gets its chance too.
   */
  private upgradeDelay(peer: Address, base: number): number {
    return (this.ctx.self < peer ? base : base + UPGRADE_INTERVAL_MS) * this.upgradeJitter();
  }

  /** Little enough that the two sides' turns never come within 30 s of each other. */
  private upgradeJitter(): number {
    return 1 + this.ctx.random.float() * 0.1;
  }

  private tryUpgrade(plan: Plan): void {
    this.ctx.log.debug('trying to punch a direct path', { peer: shortAddress(plan.peer.address) });
    this.repunch(plan.peer.address);
  }

  /**
   * Asks a linked peer to open its NAT toward our endpoints (it sends openers, then answers) and
   * probes it directly when the answer comes: a relayed link becomes direct, and a direct link
   * whose endpoints changed (a new network, a NAT that restarted) is punched again.
   */
  repunch(peer: Address): void {
    if (this.linkTokens.size >= MAX_TOKENS) return;
    const token = this.nextToken++ >>> 0;
    this.linkTokens.set(token, { kind: 'upgrade', peer, at: this.ctx.clock.now() });
    this.ctx.route(peer, { type: 'connect-request', token, purpose: 1, requester: this.ctx.selfRecord(), via: null }, { mode: RouteMode.EXACT });
  }

  /** This node's directly linked connections, for a peer choosing a relay (never the peer itself, never relayed ones). */
  private neighbourInfos(exclude: Address): NeighbourInfo[] {
    const now = this.ctx.clock.now();
    const out: NeighbourInfo[] = [];
    for (const c of this.ctx.table.all()) {
      if (c.address === exclude) continue;
      const link = this.ctx.links.get(c.address);
      if (link === undefined || relayOf(link.endpoint) !== null) continue;
      out.push({
        address: c.address,
        ageSeconds: Math.max(0, Math.min(0xffffffff, Math.floor((now - c.since) / 1000))),
        rttMs: link.rttMs === null ? null : Math.min(0xfffe, Math.round(link.rttMs)),
      });
    }
    out.sort((a, b) => (a.rttMs ?? UNKNOWN_RTT_MS) - (b.rttMs ?? UNKNOWN_RTT_MS) || (a.address < b.address ? -1 : 1));
    return out.slice(0, MAX_PATH_NEIGHBOURS);
  }
}
