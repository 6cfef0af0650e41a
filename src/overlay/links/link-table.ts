import type { Address } from '../address.js';
import type { Endpoint } from '../transport.js';
import { PREVIOUS_SESSION_GRACE_MS } from './config.js';
import type { Session } from './session.js';
import type { LinkInfo } from './types.js';

/** The link layer's record of one peer. Owned by {@link LinkTable}; others read it or go through the table. */
export interface Link {
  readonly peer: Address;
  readonly publicKey: Uint8Array;
  credential: Uint8Array;
  endpoint: Endpoint;
  readonly establishedAt: number;
  lastReceivedAt: number;
  /** When an authenticated packet last came from `endpoint` (the path the link uses). */
  lastFromEndpointAt: number;
  rttMs: number | null;
  readonly initiator: boolean;
  /**
   * The peer has proven it holds the session keys and receives at `endpoint`: true at once on the
   * initiator (the RESP did), on the responder with the initiator's first authenticated packet.
   * Until then the responder neither sends (a packet could overtake the RESP and be dropped) nor
   * reports the link (`up`), so INITs from a spoofed or flooding source add no peers.
   */
  confirmed: boolean;
  /** The session used for sending. */
  current: Session;
  /** Responder side of a rekey: the new session, used once the initiator sends on it. */
  next: Session | null;
  /** The session before the last rekey, still accepted for receiving until previousExpiresAt. */
  previous: Session | null;
  previousExpiresAt: number;
  /** Local index of this node's pending rekey handshake, if any. */
  rekeyIndex: number | null;
  /** No rekey attempt before this time (back-off after a failed one). */
  rekeyNotBefore: number;
  /** Payloads waiting for a session that may send (bounded by maxQueuedPerPeer). */
  queue: Uint8Array[];
  pingId: number;
  /** When the outstanding ping was sent, -1 if none is outstanding. */
  pingSentAt: number;
  lastPingSentAt: number;
  /** Per-link liveness (LinkLayer.setLiveness); null = the layer's defaults. */
  liveness: { keepaliveIdleMs: number; deadAfterMs: number; since: number } | null;
  /** The maintenance tick skips this link until then (see maintenance.ts). */
  nextCheckAt: number;
  /** Responder side: hash of the last INIT answered and the RESP sent, to answer a retransmission again. */
  lastInitHash: Uint8Array | null;
  lastResp: Uint8Array | null;
  /** How often lastResp was sent again: at most handshakeAttempts, so a captured INIT cannot make this node a reflector. */
  lastRespResends: number;
}

export interface NewLink {
  peer: Address;
  publicKey: Uint8Array;
  credential: Uint8Array;
  endpoint: Endpoint;
  initiator: boolean;
  now: number;
}

/** Owns the links (by peer address) and the sessions (by local index). */
export class LinkTable {
  readonly links = new Map<Address, Link>();
  readonly sessions = new Map<number, Session>();

  /** Creates and registers a link whose first session `makeSession` builds. */
  create(n: NewLink, makeSession: (link: Link) => Session): Link {
    const link = {
      peer: n.peer,
      publicKey: n.publicKey,
      credential: n.credential,
      endpoint: n.endpoint,
      establishedAt: n.now,
      lastReceivedAt: n.now,
      lastFromEndpointAt: n.now,
      rttMs: null,
      initiator: n.initiator,
      confirmed: n.initiator,
      next: null,
      previous: null,
      previousExpiresAt: 0,
      rekeyIndex: null,
      rekeyNotBefore: 0,
      queue: [],
      pingId: 0,
      pingSentAt: -1,
      lastPingSentAt: n.now,
      liveness: null,
      nextCheckAt: 0,
      lastInitHash: null,
      lastResp: null,
      lastRespResends: 0,
    } as Omit<Link, 'current'> as Link;
    link.current = makeSession(link);
    this.sessions.set(link.current.localIndex, link.current);
    this.links.set(link.peer, link);
    return link;
  }

  /** Makes `session` the sending session; the old one stays receivable for the grace period. */
  replaceCurrent(link: Link, session: Session, now: number): void {
    if (link.next === session) link.next = null;
    // The old session only receives from now on: the native data path (if any) lets go of it.
    link.current.releaseOffload();
    this.retire(link, link.current, now);
    link.current = session;
    this.sessions.set(session.localIndex, session);
  }

  /** Responder side of a rekey: keep sending on the current session until the peer uses this one. */
  setNext(link: Link, session: Session): void {
    if (link.next !== null) this.forget(link.next);
    link.next = session;
    this.sessions.set(session.localIndex, session);
  }

  /** The peer sent on the next session: it becomes current. */
  promoteNext(link: Link, now: number): void {
    if (link.next !== null) this.replaceCurrent(link, link.next, now);
  }

  /** Drops the previous session after its grace period and a next session the peer never used. */
  expireSessions(link: Link, now: number, unconfirmedTimeoutMs: number): void {
    if (link.previous !== null && now >= link.previousExpiresAt) {
      this.forget(link.previous);
      link.previous = null;
    }
    if (link.next !== null && now - link.next.createdAt >= unconfirmedTimeoutMs) {
      this.forget(link.next);
      link.next = null;
    }
  }

  remove(link: Link): void {
    this.forget(link.current);
    if (link.next !== null) this.forget(link.next);
    if (link.previous !== null) this.forget(link.previous);
    link.queue.length = 0;
    if (this.links.get(link.peer) === link) this.links.delete(link.peer);
  }

  clear(): void {
    for (const session of this.sessions.values()) session.wipe();
    this.links.clear();
    this.sessions.clear();
  }

  /** Unregisters a session and zeroes its keys (forward secrecy: nothing keeps a dead session's keys). */
  private forget(session: Session): void {
    this.sessions.delete(session.localIndex);
    session.wipe();
  }

  private retire(link: Link, old: Session, now: number): void {
    if (link.previous !== null) this.forget(link.previous);
    link.previous = old;
    link.previousExpiresAt = now + PREVIOUS_SESSION_GRACE_MS;
  }
}

/** A read-only snapshot for the node. */
export function linkInfo(link: Link): LinkInfo {
  return {
    peer: link.peer,
    publicKey: link.publicKey,
    credential: link.credential,
    endpoint: link.endpoint,
    establishedAt: link.establishedAt,
    lastReceivedAt: link.lastReceivedAt,
    rttMs: link.rttMs,
    initiator: link.initiator,
  };
}
