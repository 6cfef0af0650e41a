import { type Address, addressFromPublicKey, shortAddress } from '../address.js';
import type { Endpoint } from '../transport.js';
import { BoundedMap } from './bounded-map.js';
import { MAX_RATE_LIMITED_SOURCES, MAX_REMEMBERED_PEERS } from './config.js';
import type { LinkContext } from './context.js';
import { hashInit, respond, verifyInit } from './handshake.js';
import type { Initiator } from './initiator.js';
import type { Link } from './link-table.js';
import type { HandshakeInit } from './packet-codec.js';
import { SourceRateLimiter, sourceOf } from './rate-limiter.js';
import { Session, canSendOn } from './session.js';

/**
 * The responder's side of handshakes. Checks run cheapest first, so that a flood costs little:
 * networkId, the per-source rate limit, the address derived from the key, a retransmission of an
 * INIT already answered, the replay timestamp; only then the signature, then admission.
 * A RESP is never larger than the INIT that caused it.
 */
export class Responder {
  readonly limiter: SourceRateLimiter;
  /** Last accepted INIT timestamp per peer (see MAX_REMEMBERED_PEERS for what forgetting costs). */
  readonly lastTimestamps = new BoundedMap<Address, number>(MAX_REMEMBERED_PEERS);

  constructor(
    private readonly ctx: LinkContext,
    private readonly initiator: Initiator,
  ) {
    const rate = ctx.config.handshakeRatePerSource;
    this.limiter = new SourceRateLimiter(rate, Math.max(1, rate), MAX_RATE_LIMITED_SOURCES, ctx.clock.now());
  }

  onInit(init: HandshakeInit, packet: Uint8Array, from: Endpoint): void {
    const { ctx } = this;
    const { stats } = ctx;
    if (!sameBytes(init.networkId, ctx.config.networkId)) {
      stats.handshakesRefused++;
      return;
    }
    const now = ctx.clock.now();
    if (!this.limiter.take(sourceOf(from), now)) {
      stats.droppedRateLimited++;
      return;
    }
    const peer = addressFromPublicKey(init.staticKey);
    if (peer === ctx.identity.address) {
      stats.handshakesRefused++;
      return;
    }
    const initHash = hashInit(init);
    const link = ctx.table.links.get(peer);
    if (link !== undefined && link.lastInitHash !== null && link.lastResp !== null && sameBytes(link.lastInitHash, initHash)) {
      // The initiator did not get our RESP: send the same one again (never more than it sent,
      // and no more often than a genuine initiator retransmits).
      if (link.lastResp.length <= packet.length && link.lastRespResends < ctx.config.handshakeAttempts) {
        link.lastRespResends++;
        ctx.sendDatagram(from, link.lastResp);
      } else {
        stats.droppedReplayed++;
      }
      return;
    }
    const last = this.lastTimestamps.get(peer);
    if (last !== undefined && init.timestamp <= last) {
      stats.droppedReplayed++;
      return;
    }
    if (!verifyInit(init)) {
      stats.droppedAuthFailed++;
      return;
    }
    const publicKey = init.staticKey.slice();
    const credential = init.credential.slice();
    const decision = ctx.admission.admit({ publicKey, address: peer, credential }, now);
    if (!decision.ok) {
      stats.handshakesRefused++;
      ctx.log.info('handshake refused', { peer: shortAddress(peer), endpoint: from, reason: decision.reason });
      return;
    }
    // Simultaneous open (or rekey): keep the handshake initiated by the lower address.
    const ours = this.initiator.matching(peer, from);
    if (ours.length > 0) {
      if (ctx.identity.address < peer) {
        // Ours wins: drop theirs; the peer drops its own handshake when ours arrives. If ours
        // went to another endpoint than the one the peer writes from (a NAT, a stale address),
        // send it where the peer is, too.
        // A handshake of ours held back after an opener is released now: the peer has sent toward us.
        const first = ours[0] as (typeof ours)[0];
        if (this.initiator.targetOf(first) !== from || first.holdUntil > now) this.initiator.resendTo(first, from);
        return;
      }
      for (const p of ours) this.initiator.cancel(p);
    }
    const localIndex = ctx.newIndex();
    const answer = respond({
      identity: ctx.identity,
      credential: ctx.admission.credential,
      localIndex,
      ephemeralSeed: ctx.random.bytes(32),
      init,
      initHash,
    });
    if (answer === null || answer.packet.length > packet.length) {
      stats.handshakesRefused++;
      return;
    }
    this.lastTimestamps.set(peer, init.timestamp);
    ctx.sendDatagram(from, answer.packet);
    stats.handshakesCompleted++;

    const makeSession = (l: Link): Session =>
      new Session(localIndex, init.senderIndex, answer.keys, now, false, l, ctx.config);
    if (link === undefined) {
      const created = ctx.table.create({ peer, publicKey, credential, endpoint: from, initiator: false, now }, makeSession);
      created.lastInitHash = initHash;
      created.lastResp = answer.packet;
      created.lastRespResends = 0;
      // `up` comes with the initiator's first authenticated packet (data-path.ts).
      return;
    }
    // A rekey (or the peer restarted, or connected again): new keys on the same link, no events.
    // The INIT is signed and fresh, so the peer is at `from` now.
    link.endpoint = from;
    link.credential = credential;
    link.lastInitHash = initHash;
    link.lastResp = answer.packet;
    link.lastRespResends = 0;
    const session = makeSession(link);
    if (canSendOn(link.current, now, ctx.config)) {
      ctx.table.setNext(link, session);
    } else {
      ctx.table.replaceCurrent(link, session, now);
      ctx.flushQueue(link);
    }
  }

  clear(): void {
    this.lastTimestamps.clear();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
