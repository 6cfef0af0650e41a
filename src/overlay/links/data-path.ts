import { type Address, shortAddress } from '../address.js';
import { type Endpoint, isRelayEndpoint } from '../transport.js';
import { MAX_PAYLOAD_BYTES } from './config.js';
import { ContentType, closeBody, decodeContent, keepaliveBody } from './content-codec.js';
import type { LinkContext } from './context.js';
import { type Link, linkInfo } from './link-table.js';
import { MIN_DATA_BYTES, readDataCounter, readDataReceiverIndex } from './packet-codec.js';
import { OpenFailure, type Session, canSendOn } from './session.js';

/** Weight of a new RTT sample in the smoothed average (TCP's SRTT uses 1/8). */
const RTT_GAIN = 0.125;

/**
 * DATA packets: sending payloads and control content on a link's session, queueing while no
 * session may send, and the receive path (session lookup by index, replay window, key epoch,
 * AEAD, roaming, content dispatch). Key updates happen inside the session's seal/open.
 * This is the hot path: no per-packet maps, closures or timers.
 */
export class DataPath {
  constructor(
    private readonly ctx: LinkContext,
    /** Starts a full re-handshake of the link unless one is pending or backing off. */
    private readonly requestRekey: (link: Link, now: number) => void,
  ) {}

  send(peer: Address, payload: Uint8Array): boolean {
    const { ctx } = this;
    const link = ctx.table.links.get(peer);
    if (link === undefined) {
      // No counter for "no link": counted with the packets that name an unknown session.
      ctx.stats.droppedUnknownSession++;
      return false;
    }
    if (payload.length > MAX_PAYLOAD_BYTES) {
      ctx.stats.droppedMalformed++;
      return false;
    }
    const now = ctx.clock.now();
    if (link.queue.length > 0) this.flushQueue(link);
    const session = link.queue.length === 0 && link.confirmed ? this.sendingSession(link, now) : null;
    if (session === null) {
      if (link.queue.length >= ctx.config.maxQueuedPerPeer) {
        ctx.stats.droppedQueueFull++;
        ctx.dropLink(link, 'send queue overflow');
        return false;
      }
      link.queue.push(payload);
      if (link.confirmed) this.requestRekey(link, now);
      return true;
    }
    this.transmit(link, session, ContentType.PAYLOAD, payload, now);
    // Key updates happen inside seal(); only a session's counter space calls for a handshake.
    if (session.sendCounter >= ctx.config.handshakeRekeyAfterMessages) this.requestRekey(link, now);
    return true;
  }

  /** The session to send on: the current one, else the next one if the current is spent; null if none. */
  sendingSession(link: Link, now: number): Session | null {
    if (canSendOn(link.current, now, this.ctx.config)) return link.current;
    if (link.next !== null && canSendOn(link.next, now, this.ctx.config)) {
      this.ctx.table.promoteNext(link, now);
      return link.current;
    }
    return null;
  }

  flushQueue(link: Link): void {
    if (link.queue.length === 0 || !link.confirmed) return;
    const now = this.ctx.clock.now();
    let sent = 0;
    while (sent < link.queue.length) {
      const session = this.sendingSession(link, now);
      if (session === null) break;
      this.transmit(link, session, ContentType.PAYLOAD, link.queue[sent] as Uint8Array, now);
      sent++;
    }
    link.queue.splice(0, sent);
  }

  sendPing(link: Link): void {
    const now = this.ctx.clock.now();
    const session = this.sendingSession(link, now);
    if (session === null) return;
    link.pingId = (link.pingId + 1) >>> 0;
    link.pingSentAt = now;
    link.lastPingSentAt = now;
    this.transmit(link, session, ContentType.KEEPALIVE_PING, keepaliveBody(link.pingId), now);
  }

  /** A keepalive ping to another endpoint than the link's (a path probe); its pong measures that path. */
  sendPingTo(link: Link, endpoint: Endpoint, opener: boolean): void {
    const now = this.ctx.clock.now();
    const session = this.sendingSession(link, now);
    if (session === null) return;
    const packet = session.seal(ContentType.KEEPALIVE_PING, keepaliveBody((link.pingId + 1) >>> 0), now);
    if (opener) {
      // Meant to die on the way (it only opens our NAT): not a ping whose answer we wait for.
      this.ctx.sendOpener(endpoint, packet);
      return;
    }
    link.pingId = (link.pingId + 1) >>> 0;
    link.pingSentAt = now;
    link.lastPingSentAt = now;
    this.ctx.sendDatagram(endpoint, packet);
  }

  /**
   * The responder's link is confirmed by the initiator's first authenticated packet: report it and
   * send what waited. False when the node closed it from its `up` handler.
   */
  private confirm(link: Link): boolean {
    link.confirmed = true;
    this.ctx.log.info('link up', { peer: shortAddress(link.peer), endpoint: link.endpoint, initiator: false });
    this.ctx.emit({ kind: 'up', link: linkInfo(link) });
    if (this.ctx.table.links.get(link.peer) !== link) return false;
    this.flushQueue(link);
    return true;
  }

  /** Tells the peer (if a session may send) and forgets the link. */
  close(link: Link, reason: string): void {
    const now = this.ctx.clock.now();
    const session = this.sendingSession(link, now);
    if (session !== null) this.transmit(link, session, ContentType.CLOSE, closeBody(reason), now);
    this.ctx.dropLink(link, reason);
  }

  onData(bytes: Uint8Array, from: Endpoint): void {
    const { ctx } = this;
    const { stats } = ctx;
    if (bytes.length < MIN_DATA_BYTES) {
      stats.droppedMalformed++;
      return;
    }
    const session = ctx.table.sessions.get(readDataReceiverIndex(bytes));
    if (session === undefined) {
      stats.droppedUnknownSession++;
      return;
    }
    const counter = readDataCounter(bytes);
    if (counter < 0) {
      stats.droppedMalformed++;
      return;
    }
    const now = ctx.clock.now();
    const plain = session.open(bytes, counter, now);
    if (typeof plain === 'number') {
      if (plain === OpenFailure.REPLAYED) stats.droppedReplayed++;
      else if (plain === OpenFailure.AUTH_FAILED) stats.droppedAuthFailed++;
      else stats.droppedMalformed++;
      return;
    }
    const link = session.link;
    link.lastReceivedAt = now;
    if (!link.confirmed && !this.confirm(link)) return;
    if (session === link.next) {
      // The initiator of the rekey uses the new keys: they are confirmed.
      ctx.table.promoteNext(link, now);
      this.flushQueue(link);
    }
    if (from === link.endpoint) link.lastFromEndpointAt = now;
    else if (counter === session.replay.highestSeen && !keepsDirectPath(link, from, now)) {
      // Roaming: the newest authenticated packet says where the peer is now.
      ctx.log.info('peer moved', { peer: shortAddress(link.peer), endpoint: from });
      link.endpoint = from;
      link.lastFromEndpointAt = now;
      link.current.offloadChanged();
      ctx.emit({ kind: 'moved', peer: link.peer, endpoint: from });
      if (ctx.table.links.get(link.peer) !== link) return;
    }
    if (plain[0] === ContentType.PAYLOAD) {
      ctx.emit({ kind: 'message', peer: link.peer, payload: plain.subarray(1) });
      return;
    }
    const content = decodeContent(plain);
    if (!content.ok) {
      stats.droppedMalformed++;
      return;
    }
    const c = content.value;
    switch (c.type) {
      case ContentType.KEEPALIVE_PING: {
        const reply = this.sendingSession(link, now);
        if (reply !== null) this.transmit(link, reply, ContentType.KEEPALIVE_PONG, keepaliveBody(c.pingId), now);
        return;
      }
      case ContentType.KEEPALIVE_PONG:
        if (c.pingId === link.pingId && link.pingSentAt >= 0) {
          const sample = now - link.pingSentAt;
          link.rttMs = link.rttMs === null ? sample : link.rttMs + RTT_GAIN * (sample - link.rttMs);
          link.pingSentAt = -1;
        }
        return;
      case ContentType.CLOSE:
        ctx.dropLink(link, `closed by peer: ${c.reason}`);
        return;
      case ContentType.PAYLOAD:
        return; // handled above
    }
  }

  private transmit(link: Link, session: Session, contentType: number, body: Uint8Array, now: number): void {
    this.ctx.sendDatagram(link.endpoint, session.seal(contentType, body, now));
  }
}

/**
 * A direct path that answered within this long is kept when a newer packet arrives through a
 * relay: while a relayed link is upgraded, the peer's packets sealed just after its direct probe
 * still come through the relay, and following them would undo the upgrade on one side (each side
 * then follows the other back to the relay). A direct path that really broke goes silent, and the
 * relayed packets are followed after this long; RelayPaths also moves the link explicitly.
 */
const DIRECT_PREFERENCE_MS = 3_000;

function keepsDirectPath(link: Link, from: Endpoint, now: number): boolean {
  return isRelayEndpoint(from) && !isRelayEndpoint(link.endpoint) && now - link.lastFromEndpointAt < DIRECT_PREFERENCE_MS;
}
