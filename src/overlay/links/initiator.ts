import { type Address, addressFromPublicKey, shortAddress } from '../address.js';
import { type Endpoint, isRelayEndpoint, parseEndpoint } from '../transport.js';
import { MAX_PENDING_HANDSHAKES } from './config.js';
import type { LinkContext } from './context.js';
import { type InitiatorHandshake, completeInit, createInit, verifyResp } from './handshake.js';
import type { Link } from './link-table.js';
import { linkInfo } from './link-table.js';
import type { HandshakeResp } from './packet-codec.js';
import type { ConnectOptions } from './types.js';
import { Session } from './session.js';

/** A handshake this node started: a connect (link null) or a rekey of `link`. */
export interface PendingHandshake {
  readonly hs: InitiatorHandshake;
  readonly endpoint: Endpoint;
  readonly expectedPeer: Address | null;
  readonly link: Link | null;
  attempts: number;
  lastSentAt: number;
  /** No full-TTL INIT before this time (an opener went first). */
  holdUntil: number;
}

/**
 * The initiator's side of handshakes: connects and rekeys this node started, their
 * retransmissions (driven by the maintenance tick), and the RESPs that complete them.
 * Holds at most MAX_PENDING_HANDSHAKES; the oldest is dropped first.
 */
export class Initiator {
  private readonly pending = new Map<number, PendingHandshake>();
  private readonly connectsByEndpoint = new Map<Endpoint, PendingHandshake>();
  /** INIT timestamps strictly increase, so two handshakes in one millisecond are not mistaken for a replay. */
  private lastTimestamp = 0;

  constructor(private readonly ctx: LinkContext) {}

  get size(): number {
    return this.pending.size;
  }

  has(index: number): boolean {
    return this.pending.has(index);
  }

  connect(endpoint: Endpoint, expectedPeer: Address | null, options: ConnectOptions = {}): void {
    const { ctx } = this;
    if (parseEndpoint(endpoint) === null && !isRelayEndpoint(endpoint)) return this.failEarly(endpoint, expectedPeer, 'malformed endpoint');
    if (expectedPeer === ctx.identity.address) return this.failEarly(endpoint, expectedPeer, 'cannot link to itself');
    if (expectedPeer !== null && ctx.table.links.has(expectedPeer)) return;
    if (expectedPeer === null) {
      for (const link of ctx.table.links.values()) if (link.endpoint === endpoint) return;
    }
    const pending = this.connectsByEndpoint.get(endpoint);
    if (pending !== undefined) {
      // A plain connect releases a handshake held back after an opener: its INIT goes now.
      const now = ctx.clock.now();
      if (options.opener !== true && options.holdMs === undefined && pending.holdUntil > now) {
        pending.holdUntil = now;
        pending.attempts++;
        pending.lastSentAt = now;
        ctx.sendDatagram(endpoint, pending.hs.packet);
      }
      return;
    }
    this.start(endpoint, expectedPeer, null, options);
  }

  startRekey(link: Link): void {
    if (link.rekeyIndex !== null) return;
    this.start(link.endpoint, link.peer, link);
  }

  /** Pending handshakes that aim at `peer` (by expected address, by rekey, or sent to `from` blind). */
  matching(peer: Address, from: Endpoint): PendingHandshake[] {
    const out: PendingHandshake[] = [];
    for (const p of this.pending.values()) {
      if (p.link !== null ? p.link.peer === peer : p.expectedPeer === peer || (p.expectedPeer === null && p.endpoint === from)) {
        out.push(p);
      }
    }
    return out;
  }

  /** Where the handshake's INIT goes: the link's endpoint for a rekey (it may have moved). */
  targetOf(p: PendingHandshake): Endpoint {
    return p.link !== null ? p.link.endpoint : p.endpoint;
  }

  /** Sends the INIT again, to `to` (where the peer was just seen), without counting an attempt. */
  resendTo(p: PendingHandshake, to: Endpoint): void {
    const now = this.ctx.clock.now();
    if (p.holdUntil > now) {
      p.holdUntil = now;
      p.attempts++;
      p.lastSentAt = now;
    }
    this.ctx.sendDatagram(to, p.hs.packet);
  }

  /** Forgets a pending handshake without any event. */
  cancel(p: PendingHandshake): void {
    this.pending.delete(p.hs.localIndex);
    if (this.connectsByEndpoint.get(p.endpoint) === p) this.connectsByEndpoint.delete(p.endpoint);
    if (p.link !== null && p.link.rekeyIndex === p.hs.localIndex) p.link.rekeyIndex = null;
  }

  cancelRekey(link: Link): void {
    if (link.rekeyIndex === null) return;
    const p = this.pending.get(link.rekeyIndex);
    if (p !== undefined) this.cancel(p);
    link.rekeyIndex = null;
  }

  onResp(resp: HandshakeResp, packet: Uint8Array, from: Endpoint): void {
    const { ctx } = this;
    const p = this.pending.get(resp.receiverIndex);
    if (p === undefined) {
      ctx.stats.droppedUnknownSession++;
      return;
    }
    if (!verifyResp(resp, p.hs.initHash)) {
      ctx.stats.droppedAuthFailed++;
      return;
    }
    const peer = addressFromPublicKey(resp.staticKey);
    if (peer === ctx.identity.address) return this.refuse(p, 'answered by this node itself');
    if (p.link !== null && p.link.peer !== peer) return this.refuse(p, 'rekey answered by another peer');
    if (p.expectedPeer !== null && p.expectedPeer !== peer) {
      return this.refuse(p, `answered by ${shortAddress(peer)}, not the expected peer`);
    }
    const now = ctx.clock.now();
    const publicKey = resp.staticKey.slice();
    const credential = resp.credential.slice();
    const decision = ctx.admission.admit({ publicKey, address: peer, credential }, now);
    if (!decision.ok) return this.refuse(p, `refused by admission: ${decision.reason}`);
    const keys = completeInit(p.hs, resp, packet);
    if (keys === null) return this.refuse(p, 'peer sent an unusable ephemeral key');
    this.cancel(p);
    ctx.stats.handshakesCompleted++;

    const makeSession = (l: Link): Session =>
      new Session(p.hs.localIndex, resp.senderIndex, keys, now, true, l, ctx.config);
    let link = ctx.table.links.get(peer);
    if (link === undefined) {
      link = ctx.table.create({ peer, publicKey, credential, endpoint: from, initiator: true, now }, makeSession);
      // Other connects to this peer are moot, except direct ones while this link is relayed: a
      // direct path that answers later takes over (below).
      const relayed = isRelayEndpoint(from);
      for (const other of this.matching(peer, '')) {
        if (other.link === null && (!relayed || isRelayEndpoint(other.endpoint))) this.cancel(other);
      }
      ctx.log.info('link up', { peer: shortAddress(peer), endpoint: from, initiator: true });
      ctx.emit({ kind: 'up', link: linkInfo(link) });
    } else if (p.link === null && ctx.identity.address > peer && !(isRelayEndpoint(link.endpoint) && !isRelayEndpoint(from))) {
      // Both sides connected at once along paths the tie-break could not pair up: the session
      // initiated by the lower address wins on both sides, so this one is not used.
      ctx.log.debug('extra session discarded', { peer: shortAddress(peer) });
      return;
    } else {
      ctx.table.replaceCurrent(link, makeSession(link), now);
      link.endpoint = from;
      link.credential = credential;
      if (!link.confirmed) {
        // Our own handshake completed on a link the peer had opened and not yet used: it is ours now.
        link.confirmed = true;
        ctx.log.info('link up', { peer: shortAddress(peer), endpoint: from, initiator: true });
        ctx.emit({ kind: 'up', link: linkInfo(link) });
        if (ctx.table.links.get(peer) !== link) return;
      }
      ctx.log.debug(p.link !== null ? 'rekeyed' : 'session replaced', { peer: shortAddress(peer) });
    }
    // Key confirmation for the responder and a first RTT sample.
    ctx.sendPing(link);
    ctx.flushQueue(link);
  }

  /** Retransmissions and give-ups; called by the maintenance tick. */
  tick(now: number): void {
    const { config } = this.ctx;
    for (const p of this.pending.values()) {
      if (now - p.lastSentAt < config.handshakeRetryMs || now < p.holdUntil) continue;
      if (p.attempts >= config.handshakeAttempts) {
        this.abandon(p, `no answer after ${p.attempts} handshake attempts`);
        continue;
      }
      p.attempts++;
      p.lastSentAt = now;
      this.ctx.sendDatagram(this.targetOf(p), p.hs.packet);
    }
  }

  clear(): void {
    this.pending.clear();
    this.connectsByEndpoint.clear();
  }

  private start(endpoint: Endpoint, expectedPeer: Address | null, link: Link | null, options: ConnectOptions = {}): void {
    const { ctx } = this;
    if (this.pending.size >= MAX_PENDING_HANDSHAKES) {
      const oldest = this.pending.values().next();
      if (oldest.done !== true) this.abandon(oldest.value, 'too many handshakes pending');
    }
    const now = ctx.clock.now();
    // Whole milliseconds on the wire (u64): a virtual clock may return fractions.
    const timestamp = Math.max(Math.floor(now), this.lastTimestamp + 1);
    this.lastTimestamp = timestamp;
    const hs = createInit({
      identity: ctx.identity,
      networkId: ctx.config.networkId,
      credential: ctx.admission.credential,
      localIndex: ctx.newIndex(),
      timestamp,
      ephemeralSeed: ctx.random.bytes(32),
    });
    const holdMs = options.holdMs ?? (options.opener === true ? ctx.config.handshakeRetryMs : 0);
    const p: PendingHandshake = { hs, endpoint, expectedPeer, link, attempts: 1, lastSentAt: now, holdUntil: now + holdMs };
    this.pending.set(hs.localIndex, p);
    if (link === null) this.connectsByEndpoint.set(endpoint, p);
    else link.rekeyIndex = hs.localIndex;
    if (options.opener === true && ctx.sendOpener(endpoint, hs.packet)) {
      // The opener is not an attempt: the full-TTL INITs after the hold still get every try.
      p.attempts = 0;
      p.lastSentAt = now - ctx.config.handshakeRetryMs;
    } else if (holdMs > 0) {
      p.attempts = 0;
      p.lastSentAt = now - ctx.config.handshakeRetryMs;
    } else {
      ctx.sendDatagram(endpoint, hs.packet);
    }
  }

  /** Gives up: `connect-failed` for a connect, a later retry for a rekey. */
  private abandon(p: PendingHandshake, reason: string): void {
    this.cancel(p);
    if (p.link !== null) {
      p.link.rekeyNotBefore = this.ctx.clock.now() + this.ctx.config.handshakeRetryMs * this.ctx.config.handshakeAttempts;
      return;
    }
    this.ctx.log.debug('connect failed', { endpoint: p.endpoint, reason });
    this.ctx.emit({ kind: 'connect-failed', endpoint: p.endpoint, expectedPeer: p.expectedPeer, reason });
  }

  /** An authenticated RESP that this node will not accept. */
  private refuse(p: PendingHandshake, reason: string): void {
    this.ctx.stats.handshakesRefused++;
    this.cancel(p);
    if (p.link !== null) {
      this.ctx.dropLink(p.link, reason);
      return;
    }
    this.ctx.log.info('handshake refused', { endpoint: p.endpoint, reason });
    this.ctx.emit({ kind: 'connect-failed', endpoint: p.endpoint, expectedPeer: p.expectedPeer, reason });
  }

  private failEarly(endpoint: Endpoint, expectedPeer: Address | null, reason: string): void {
    this.ctx.emit({ kind: 'connect-failed', endpoint, expectedPeer, reason });
  }
}
