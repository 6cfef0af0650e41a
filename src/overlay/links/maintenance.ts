import { KEEPALIVE_REPING_MS, type LinkConfig } from './config.js';
import type { LinkContext } from './context.js';
import type { DataPath } from './data-path.js';
import type { Initiator } from './initiator.js';
import type { Link } from './link-table.js';
import type { Responder } from './responder.js';

/**
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
): void {
  const { config } = ctx;
  parts.initiator.tick(now);
  for (const link of ctx.table.links.values()) {
    const idle = now - link.lastReceivedAt;
    if (idle >= config.deadAfterMs) {
      ctx.dropLink(link, 'peer stopped answering');
      continue;
    }
    ctx.table.expireSessions(link, now, config.unconfirmedSessionTimeoutMs);
    link.current.expireKeys(now);
    link.previous?.expireKeys(now);
    if (rekeyDue(link, now, config)) parts.initiator.startRekey(link);
    const sincePing = now - link.lastPingSentAt;
    // Ping a quiet peer (and again every 2 s while it stays quiet), and every link now and then
    // so that its RTT stays fresh and NAT mappings stay open from this side too.
    if (sincePing >= config.keepaliveIdleMs || (idle >= config.keepaliveIdleMs && sincePing >= KEEPALIVE_REPING_MS)) {
      parts.data.sendPing(link);
    }
    if (link.queue.length > 0) parts.data.flushQueue(link);
  }
  parts.responder.limiter.expire(now);
}

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
