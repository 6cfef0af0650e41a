import { KEEPALIVE_REPING_MS, type LinkConfig } from './config.js';
import type { LinkContext } from './context.js';
import type { DataPath } from './data-path.js';
import type { Initiator } from './initiator.js';
import type { Link } from './link-table.js';
import type { Responder } from './responder.js';

/**
 * Returns how soon the next tick is needed (handshakes in flight, queues: tickMs; a link on fast
 * liveness: half its keepalive time), or null when nothing is pressing.
 * The link layer's single periodic job (one clock interval per link layer, never one timer per
 * link or per packet: the simulator runs 10,000 nodes with ~20 links each). In order:
 * handshake retransmissions and give-ups, dead links, expiry of old and unconfirmed sessions and
 * of previous-epoch keys, full re-handshakes, keepalives, queued payloads, and rate-limiter
 * buckets of quiet sources. (Key updates need no tick: a sender moves to the next epoch when it
 * seals a packet after keyUpdateAfterMs.)
 */
export function runMaintenance(
  ctx: LinkContext,
  parts: { initiator: Initiator; responder: Responder; data: DataPath },
  now: number,
): number | null {
  const { config } = ctx;
  parts.initiator.tick(now);
  let soonest: number | null = parts.initiator.size > 0 ? config.tickMs : null;
  for (const link of ctx.table.links.values()) {
    if (link.queue.length > 0) soonest = Math.min(soonest ?? Infinity, config.tickMs);
    if (link.liveness !== null) soonest = Math.min(soonest ?? Infinity, config.tickMs, link.liveness.keepaliveIdleMs / 2);
    // Most links need nothing on most ticks; skipping them is what keeps 10,000 simulated nodes fast.
    if (now < link.nextCheckAt && link.queue.length === 0) continue;
    if (!link.confirmed) {
      // A responder's link whose initiator never used it (lost, spoofed or abandoned): forget it quietly.
      if (now - link.establishedAt >= config.unconfirmedSessionTimeoutMs) ctx.dropLink(link, null);
      else link.nextCheckAt = link.establishedAt + config.unconfirmedSessionTimeoutMs;
      continue;
    }
    const idle = now - link.lastReceivedAt;
    const keepaliveIdleMs = pingAfter(link, config);
    const silentFor = link.liveness === null ? idle : now - Math.max(link.lastReceivedAt, link.liveness.since);
    if (silentFor >= (link.liveness?.deadAfterMs ?? config.deadAfterMs)) {
      ctx.dropLink(link, PEER_STOPPED_ANSWERING);
      continue;
    }
    ctx.table.expireSessions(link, now, config.unconfirmedSessionTimeoutMs);
    link.current.expireKeys(now);
    link.previous?.expireKeys(now);
    if (rekeyDue(link, now, config)) parts.initiator.startRekey(link);
    const sincePing = now - link.lastPingSentAt;
    // Ping a quiet peer, and again while it stays quiet (a lost ping is not a dead peer). Traffic
    // either way keeps NAT mappings open, so a busy link needs no keepalive; each side still pings
    // once a minute so that its RTT stays fresh.
    const reping = Math.min(KEEPALIVE_REPING_MS, keepaliveIdleMs / 2);
    if ((idle >= keepaliveIdleMs && sincePing >= reping) || sincePing >= RTT_REFRESH_MS) {
      parts.data.sendPing(link);
    }
    if (link.queue.length > 0) parts.data.flushQueue(link);
    link.nextCheckAt = nextCheck(link, now, config, keepaliveIdleMs);
  }
  parts.responder.limiter.expire(now);
  return parts.initiator.size > 0 ? Math.min(soonest ?? Infinity, config.tickMs) : soonest;
}

export const PEER_STOPPED_ANSWERING = 'peer stopped answering';
/** A busy link's initiator measures the RTT at least this often. */
const RTT_REFRESH_MS = 60_000;

/**
 * How long the link may be quiet before this side pings. The side that started the link pings
 * first; the other waits halfway to the deadline, so one keepalive exchange serves both ends
 * (two sides pinging in the same tick would double the traffic) and either end still notices a
 * dead peer in time.
 */
function pingAfter(link: Link, config: LinkConfig): number {
  const keepalive = link.liveness?.keepaliveIdleMs ?? config.keepaliveIdleMs;
  if (link.initiator) return keepalive;
  const dead = link.liveness?.deadAfterMs ?? config.deadAfterMs;
  return keepalive + (dead - keepalive) / 2;
}

/**
 * When the link next needs the tick: its keepalive (or re-ping) time, RTT refresh, or re-handshake,
 * and at least every MAX_CHECK_GAP_MS for the rest (grace periods of old keys and sessions, which
 * may so end up to that much later than their nominal time). Traffic that arrives meanwhile only
 * makes the link need less; every change that needs the tick sooner resets nextCheckAt.
 */
function nextCheck(link: Link, now: number, config: LinkConfig, keepaliveIdleMs: number): number {
  let at = now + MAX_CHECK_GAP_MS;
  const quietAt = link.lastReceivedAt + keepaliveIdleMs;
  at = Math.min(at, quietAt > now ? quietAt : now + Math.min(KEEPALIVE_REPING_MS, keepaliveIdleMs / 2));
  at = Math.min(at, link.lastPingSentAt + RTT_REFRESH_MS);
  const session = link.current;
  const rekeyAt =
    session.createdAt + (session.initiatedHere ? config.handshakeRekeyAfterMs : config.handshakeRekeyAfterMs + config.responderRekeyDelayMs);
  return Math.min(at, Math.max(rekeyAt, link.rekeyNotBefore));
}

const MAX_CHECK_GAP_MS = 5_000;

/** Whether this node may start a full re-handshake of the link now (also used when a send finds the session spent). */
export function rekeyAllowed(link: Link, now: number): boolean {
  return link.rekeyIndex === null && link.next === null && now >= link.rekeyNotBefore;
}

function rekeyDue(link: Link, now: number, config: LinkConfig): boolean {
  if (!rekeyAllowed(link, now)) return false;
  const session = link.current;
  const due = session.initiatedHere ? config.handshakeRekeyAfterMs : config.handshakeRekeyAfterMs + config.responderRekeyDelayMs;
  return now - session.createdAt >= due || session.sendCounter >= config.handshakeRekeyAfterMessages;
}
