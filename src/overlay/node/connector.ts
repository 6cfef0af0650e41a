import type { Address } from '../address.js';
import type { TimerHandle } from '../clock.js';
import type { LinkEvent } from '../links/types.js';
import { ConnectPurpose, NatKind, type PeerRecord, type RoutedBody, RouteMode } from '../wire/messages.js';
import { ConnectionFlag } from './connection-table.js';
import type { NodeContext } from './node-context.js';
import { relayOf } from './node-transport.js';
import type { RelayPaths } from './relay-paths.js';
import { directHopeless, natReason } from './relay-choice.js';
import type { RingMaintenance } from './ring-maintenance.js';
import type { Shortcuts } from './shortcuts.js';

/** Entries in each bookkeeping map (attempts, replies owed): peers cannot grow them without bound. */
export const MAX_PENDING_ENTRIES = 1024;
/** An outstanding connection attempt to one address blocks repeats for this long. */
const CONNECT_DEDUP_MS = 10_000;
/** A connect-reply waits this long for the link to the requester before it is routed anyway. */
const REPLY_WAIT_MS = 5_000;
/** Requests and sessions still unanswered after this long are forgotten (sessions: asked again). */
const REQUEST_MEMORY_MS = 30_000;
/**
 * Answering a connect-request from a peer behind a NAT, this node opens its own NAT toward the
 * peer (an opener) and lets the peer's INIT come first; its own full INITs wait this long, so they
 * cannot reach the peer's NAT before the peer has sent toward us (which spoils Linux NATs).
 */
const PUNCH_HOLD_MS = 3_000;
/**
 * Toward a peer behind a NAT (or from behind one), a relay is looked for when no direct handshake
 * has answered after this long, while the direct attempts go on: whichever path works first
 * carries the session, and a direct path found later takes over from the relay.
 */
const EARLY_RELAY_MS = 1_500;
/** Tokens of this module's connect-requests (coordination, sessions) live in the upper half of the u32 space. */
const FIRST_OWN_TOKEN = 0x8000_0000;

export type ConnectReason = 'near' | 'shortcut' | 'reply' | 'bootstrap' | 'relay' | 'session';

export interface ConnectorParts {
  ring: RingMaintenance;
  shortcuts: Shortcuts;
  relayPaths: RelayPaths;
  /** Relays may be looked for (OverlayNodeInit.useRelays). */
  useRelays: boolean;
  /** The relay module has work for its once-a-second tick. */
  relaysBusy(): void;
  running(): boolean;
}

/**
 * How this node links with others: connect-requests routed over the overlay and their answers,
 * links to the peers they name (every endpoint at once, NAT traversal), sessions the application
 * asks for, and the fall back to a relay when no direct path works.
 *
 * NAT traversal: a peer behind a NAT must send toward us before our INIT reaches its NAT, so
 * - answering its request, we send openers (IP TTL 2) and hold our INITs back (PUNCH_HOLD_MS);
 * - after it answered ours, we send INITs at once: it has opened its side;
 * - otherwise we first ask it, with a connect-request routed to it, to open its side.
 */
export class Connector {
  private readonly connecting = new Map<Address, number>();
  /** Requesters we answered: their link is INBOUND (they decide when it ends). */
  private readonly respondedTo = new Map<Address, number>();
  private readonly wantShortcut = new Map<Address, number>();
  private readonly sessionTokens = new Map<number, { peer: Address; at: number }>();
  private readonly wantSession = new Map<Address, number>();
  private readonly sessions = new Set<Address>();
  private readonly deferredReplies = new Map<Address, { body: RoutedBody; at: number; via: Address | null }>();
  /** Connect attempts in flight per peer: endpoints not yet failed, and what to do when all fail. */
  private readonly attempts = new Map<Address, { record: PeerRecord; left: number; relayOnFailure: boolean; via: Address | undefined }>();
  /** Peers that opened their NAT for us (they answered our connect-request): INITs go at once. */
  private readonly openedForUs = new Map<Address, number>();
  /**
   * A node linked with each peer we asked through it (the informant that named the peer): greedy
   * routing may not reach a peer whose ring neighbours cannot link with it (runs of members
   * behind symmetric NATs), so later requests to it (path requests for a relay) go the same way.
   */
  private readonly viaFor = new Map<Address, { via: Address; at: number }>();
  private nextToken = FIRST_OWN_TOKEN;
  private readonly earlyRelayTimers = new Map<Address, TimerHandle>();

  constructor(
    private readonly ctx: NodeContext,
    private readonly parts: ConnectorParts,
  ) {}

  /** See OverlayNode.openSession. */
  openSession(peer: Address, maxSessions: number): void {
    const { ctx } = this;
    if (peer === ctx.self) return;
    if (!this.sessions.has(peer) && this.sessions.size >= maxSessions) return;
    this.sessions.add(peer);
    if (ctx.table.has(peer)) {
      ctx.table.addFlags(peer, ConnectionFlag.SESSION);
      return;
    }
    if (this.sessionTokens.size >= MAX_PENDING_ENTRIES) return;
    const token = this.token();
    const now = ctx.clock.now();
    this.sessionTokens.set(token, { peer, at: now });
    this.wantSession.set(peer, now);
    ctx.route(peer, { type: 'connect-request', token, purpose: ConnectPurpose.SHORTCUT, requester: ctx.selfRecord(), via: this.returnVia() }, { mode: RouteMode.EXACT });
  }

  closeSession(peer: Address): void {
    const { table } = this.ctx;
    if (!this.sessions.delete(peer)) return;
    this.wantSession.delete(peer);
    if (!table.has(peer)) return;
    table.clearFlags(peer, ConnectionFlag.SESSION);
    if (table.get(peer)?.flags === 0) this.ctx.disconnect(peer, 'session closed');
  }

  /** A link came up: whether we answered the peer's request (so the link is INBOUND). Call before the table entry is made. */
  linkUp(peer: Address): { answeredPeer: boolean } {
    this.connecting.delete(peer);
    this.attempts.delete(peer);
    return { answeredPeer: this.respondedTo.delete(peer) };
  }

  /** After the table entry is made: adopt shortcuts and sessions, send the reply the peer waits for. */
  afterLinkUp(peer: Address): void {
    const { table } = this.ctx;
    if (this.wantShortcut.delete(peer)) this.parts.shortcuts.adopt(peer);
    if (this.sessions.has(peer)) {
      this.wantSession.delete(peer);
      table.addFlags(peer, ConnectionFlag.SESSION);
    }
  }

  flushDeferredReply(peer: Address): void {
    const d = this.deferredReplies.get(peer);
    if (d === undefined) return;
    this.deferredReplies.delete(peer);
    this.ctx.route(peer, d.body, { mode: RouteMode.EXACT });
  }

  /** One endpoint of an attempt failed; when all have, look for a relay. */
  onConnectFailed(e: Extract<LinkEvent, { kind: 'connect-failed' }>): void {
    if (e.expectedPeer === null) return;
    const attempt = this.attempts.get(e.expectedPeer);
    if (attempt !== undefined && --attempt.left > 0) return;
    this.attempts.delete(e.expectedPeer);
    this.connecting.delete(e.expectedPeer);
    if (attempt?.relayOnFailure === true && this.parts.useRelays && relayOf(e.endpoint) === null && this.parts.running()) {
      this.parts.relayPaths.onDirectFailed(attempt.record, natReason(attempt.record, this.ctx.selfRecord()), attempt.via);
      this.parts.relaysBusy();
    }
  }

  onConnectRequest(source: Address, body: RoutedBody & { type: 'connect-request' }): void {
    const { ctx } = this;
    const requester = body.requester;
    if (requester.address !== source || requester.address === ctx.self) return;
    const { left, right } = this.parts.ring.neighbourRecords(ctx.k + 1);
    const reply: RoutedBody = { type: 'connect-reply', token: body.token, responder: ctx.selfRecord(), left, right };
    const natted = (requester.nat ?? NatKind.NONE) !== NatKind.NONE;
    const link = ctx.links.get(requester.address);
    if (ctx.table.has(requester.address) || link !== undefined) {
      // Already linked (an upgrade of a relayed link, or a re-punch after the peer's endpoint
      // changed): open our NAT toward the peer's endpoints, then answer; the peer probes us
      // directly once the answer arrives.
      // (Without a NAT of our own there is nothing to open: an opener would only risk reaching the
      // peer's NAT on a short path and spoiling it.)
      const selfNatted = (ctx.selfRecord().nat ?? NatKind.NONE) !== NatKind.NONE;
      if (link !== undefined && selfNatted && (natted || relayOf(link.endpoint) !== null)) {
        for (const e of requester.endpoints) ctx.links.probePath(requester.address, e, { opener: true });
      }
      ctx.route(requester.address, reply, { mode: RouteMode.EXACT });
      return;
    }
    if (this.respondedTo.size >= MAX_PENDING_ENTRIES || this.deferredReplies.size >= MAX_PENDING_ENTRIES) return;
    this.respondedTo.set(requester.address, ctx.clock.now());
    // Openers (and held INITs) first: they must leave our NAT before the requester, told by the
    // reply, sends its INIT toward us (on a fast path the reply can win that race).
    this.connectTo(requester, 'reply');
    if (natted) {
      // Our INIT would reach the requester's NAT before the requester has sent toward us: answer
      // now; the requester's own INIT then comes through the NAT mapping our opener made.
      this.sendReply(requester.address, reply, body.via);
    } else {
      this.deferredReplies.set(requester.address, { body: reply, at: ctx.clock.now(), via: body.via });
    }
  }

  onConnectReply(body: RoutedBody & { type: 'connect-reply' }): void {
    const { ctx, parts } = this;
    const responder = body.responder;
    if (responder.address === ctx.self) return;
    // The responder has opened its NAT toward us (or needs nothing opened): our INITs may go now.
    if (this.openedForUs.size < MAX_PENDING_ENTRIES) this.openedForUs.set(responder.address, ctx.clock.now());
    // Its neighbour lists name nodes linked with it: one we are linked with too reaches it when greedy routing does not.
    if (!this.viaFor.has(responder.address) && this.viaFor.size < MAX_PENDING_ENTRIES) {
      const via = [...body.left, ...body.right].find((r) => r.address !== ctx.self && ctx.table.has(r.address) && relayOf(ctx.links.get(r.address)?.endpoint ?? 'relay:') === null);
      if (via !== undefined) this.viaFor.set(responder.address, { via: via.address, at: ctx.clock.now() });
    }
    if (parts.relayPaths.onConnectReply(body.token, responder)) {
      parts.relaysBusy();
      return;
    }
    const session = this.sessionTokens.get(body.token);
    if (session !== undefined && session.peer === responder.address) {
      this.sessionTokens.delete(body.token);
      if (ctx.table.has(responder.address)) ctx.table.addFlags(responder.address, ConnectionFlag.SESSION);
      else this.connectTo(responder, 'session');
      return;
    }
    if (parts.shortcuts.takeToken(body.token)) {
      const existing = ctx.table.get(responder.address);
      if (existing === undefined) {
        if (this.wantShortcut.size >= MAX_PENDING_ENTRIES) return;
        this.wantShortcut.set(responder.address, ctx.clock.now());
        this.connectTo(responder, 'shortcut');
      } else if ((existing.flags & ConnectionFlag.NEAR) === 0) {
        parts.shortcuts.adopt(responder.address);
      }
      return;
    }
    parts.ring.onNearReply(responder, body.left, body.right, parts.ring.joined ? ConnectPurpose.NEAR : ConnectPurpose.JOIN);
  }

  /** Links with a peer whose record we hold, trying each of its endpoints at once (the first to answer wins). */
  connectTo(record: PeerRecord, reason: ConnectReason, informant?: Address): void {
    const { ctx } = this;
    const a = record.address;
    if (a === ctx.self || ctx.table.has(a) || ctx.links.get(a) !== undefined) return;
    const now = ctx.clock.now();
    if (informant !== undefined && informant !== ctx.self && (this.viaFor.has(a) || this.viaFor.size < MAX_PENDING_ENTRIES)) {
      this.viaFor.set(a, { via: informant, at: now });
    }
    const known = this.viaFor.get(a)?.via;
    const via = informant ?? (known !== undefined && ctx.table.has(known) ? known : undefined);
    const since = this.connecting.get(a);
    const opened = this.openedForUs.has(a);
    // After the peer answered our request, INITs go at once, even if we were holding ours back
    // (links.connect is idempotent per endpoint and releases a held handshake).
    // Answering the peer's request while our own request to it is out (both asked at once): open
    // our side and hold, as any answer does.
    const answeringOnlyAsked = reason === 'reply' && !this.attempts.has(a);
    if (since !== undefined && now - since < CONNECT_DEDUP_MS && !opened && !answeringOnlyAsked) return;
    const candidates = record.endpoints;
    if (candidates.length === 0 || this.connecting.size >= MAX_PENDING_ENTRIES) return;
    this.connecting.set(a, now);
    const natted = (record.nat ?? NatKind.NONE) !== NatKind.NONE;
    if (natted && reason !== 'reply' && reason !== 'bootstrap' && !opened) {
      const request: RoutedBody = { type: 'connect-request', token: this.token(), purpose: ConnectPurpose.NEAR, requester: ctx.selfRecord(), via: this.returnVia() ?? via ?? null };
      this.routeToPeer(a, request, via);
      return;
    }
    const relayOnFailure = reason !== 'reply' && reason !== 'bootstrap';
    const previous = this.attempts.get(a);
    if (previous !== undefined) {
      previous.relayOnFailure ||= relayOnFailure;
      previous.via ??= via;
    } else if (this.attempts.size < MAX_PENDING_ENTRIES) this.attempts.set(a, { record, left: candidates.length, relayOnFailure, via });
    const self = ctx.selfRecord();
    const selfNatted = (self.nat ?? NatKind.NONE) !== NatKind.NONE;
    if (relayOnFailure && this.parts.useRelays && directHopeless(record, self)) {
      // Both sides' NATs pick ports nobody can predict: no probe can meet. Relay at once.
      this.parts.relayPaths.onDirectFailed(record, natReason(record, self), via);
      this.parts.relaysBusy();
      return;
    }
    // Answering a NATed requester: hold our INITs back; open our own NAT first if we have one.
    const options = natted && reason === 'reply' ? { opener: selfNatted, holdMs: PUNCH_HOLD_MS } : undefined;
    for (const endpoint of candidates) ctx.links.connect(endpoint, a, options);
    if (relayOnFailure && this.parts.useRelays && (natted || selfNatted) && this.earlyRelayTimers.size < MAX_PENDING_ENTRIES && !this.earlyRelayTimers.has(a)) {
      const timer = ctx.clock.setTimeout(() => {
        this.earlyRelayTimers.delete(a);
        if (!this.parts.running() || ctx.links.get(a) !== undefined || !this.attempts.has(a)) return;
        this.parts.relayPaths.onDirectFailed(record, natReason(record, ctx.selfRecord()), via);
        this.parts.relaysBusy();
      }, EARLY_RELAY_MS);
      this.earlyRelayTimers.set(a, timer);
    }
  }

  stop(): void {
    for (const t of this.earlyRelayTimers.values()) t.cancel();
    this.earlyRelayTimers.clear();
  }

  /** Where replies to our requests go while we have not joined: a leaf connection (our bootstrap peer). */
  returnVia(): Address | null {
    if (this.parts.ring.joined) return null;
    for (const c of this.ctx.table.all()) if ((c.flags & ConnectionFlag.LEAF) !== 0) return c.address;
    return null;
  }

  /** Routes a request to a peer, through `via` (a node linked with it) when one is known. */
  private routeToPeer(peer: Address, body: RoutedBody, via: Address | undefined): void {
    if (via !== undefined && via !== this.ctx.self) this.ctx.route(via, body, { mode: RouteMode.CLOSEST, forwardTo: peer });
    else this.ctx.route(peer, body, { mode: RouteMode.EXACT });
  }

  /** Routes a reply to a requester; one that has not joined yet is reached through `via`, its bootstrap peer. */
  sendReply(requester: Address, body: RoutedBody, via: Address | null): void {
    const { ctx } = this;
    if (via !== null && via !== ctx.self && !ctx.table.has(requester)) {
      ctx.route(via, body, { mode: RouteMode.CLOSEST, forwardTo: requester });
    } else {
      ctx.route(requester, body, { mode: RouteMode.EXACT });
    }
  }

  /** Housekeeping: forget old entries, re-ask for sessions still not linked, send replies that waited long enough. */
  expire(now: number, maxSessions: number): void {
    const { ctx } = this;
    for (const [a, t] of this.connecting) if (now - t > CONNECT_DEDUP_MS) this.connecting.delete(a);
    for (const [a, t] of this.openedForUs) if (now - t > CONNECT_DEDUP_MS) this.openedForUs.delete(a);
    for (const [a, v] of this.viaFor) if (now - v.at > REQUEST_MEMORY_MS) this.viaFor.delete(a);
    for (const a of this.attempts.keys()) if (!this.connecting.has(a) && ctx.links.get(a) === undefined) this.attempts.delete(a);
    for (const [a, t] of this.respondedTo) if (now - t > REQUEST_MEMORY_MS) this.respondedTo.delete(a);
    for (const [a, t] of this.wantShortcut) if (now - t > REQUEST_MEMORY_MS) this.wantShortcut.delete(a);
    for (const [token, s] of this.sessionTokens) if (now - s.at > REQUEST_MEMORY_MS) this.sessionTokens.delete(token);
    for (const [a, t] of this.wantSession) {
      if (!this.sessions.has(a)) this.wantSession.delete(a);
      else if (now - t > REQUEST_MEMORY_MS && !ctx.table.has(a)) {
        // Not linked yet: ask again (the request or its answer may have been lost).
        this.wantSession.delete(a);
        this.sessions.delete(a);
        this.openSession(a, maxSessions);
      }
    }
    for (const [a, d] of this.deferredReplies) {
      if (now - d.at > REPLY_WAIT_MS) {
        this.deferredReplies.delete(a);
        this.sendReply(a, d.body, d.via);
      }
    }
  }

  private token(): number {
    const t = this.nextToken;
    this.nextToken = (this.nextToken + 1) >>> 0 || FIRST_OWN_TOKEN;
    if (this.nextToken < FIRST_OWN_TOKEN) this.nextToken = FIRST_OWN_TOKEN;
    return t;
  }
}
