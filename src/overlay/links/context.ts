import type { AdmissionCheck } from '../admission.js';
import type { Clock } from '../clock.js';
import type { Identity } from '../identity.js';
import type { Logger } from '../log.js';
import type { Random } from '../random.js';
import type { Endpoint } from '../transport.js';
import type { LinkConfig } from './config.js';
import type { Link, LinkTable } from './link-table.js';
import type { LinkEvent, LinkStats } from './types.js';

/**
 * What the link layer's parts share: settings, injected components, the one link table, the
 * counters, and the few actions every part needs. Built once by createLinkLayer.
 */
export interface LinkContext {
  readonly config: LinkConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly identity: Identity;
  readonly admission: AdmissionCheck;
  readonly log: Logger;
  readonly table: LinkTable;
  readonly stats: LinkStats;
  /** Sends one datagram and counts it. */
  sendDatagram(to: Endpoint, bytes: Uint8Array): void;
  /** Sends one datagram with the opener TTL; false when the transport cannot (nothing sent). */
  sendOpener(to: Endpoint, bytes: Uint8Array): boolean;
  emit(event: LinkEvent): void;
  /** A fresh local session index, unused by any session or pending handshake. */
  newIndex(): number;
  /** Sends a keepalive ping on the link (a no-op when no session may send). */
  sendPing(link: Link): void;
  /** Sends what waits in the link's queue, if a session may send. */
  flushQueue(link: Link): void;
  /** Forgets the link (and its pending rekey); emits `down` when `reason` is given. */
  dropLink(link: Link, reason: string | null): void;
}

export function emptyStats(): LinkStats {
  return {
    packetsIn: 0,
    packetsOut: 0,
    droppedMalformed: 0,
    droppedAuthFailed: 0,
    droppedReplayed: 0,
    droppedUnknownSession: 0,
    droppedRateLimited: 0,
    droppedQueueFull: 0,
    handshakesRefused: 0,
    handshakesCompleted: 0,
  };
}
