import { NETWORK_ID_BYTES } from './packet-codec.js';
import type { LinkLayerInit } from './types.js';

/** Defaults of {@link LinkLayerInit}; the reasons are in types.ts next to each option. */
export const LINK_DEFAULTS = {
  encryptPayloads: true,
  keepaliveIdleMs: 20_000,
  deadAfterMs: 30_000,
  handshakeRetryMs: 1_000,
  handshakeAttempts: 5,
  rekeyAfterMs: 120_000,
  rekeyAfterMessages: 2 ** 40,
  handshakeRekeyAfterMs: 60 * 60_000,
  maxQueuedPerPeer: 128,
  handshakeRatePerSource: 20,
  tickMs: 1_000,
  openerTtl: 2,
} as const;

/** Re-ping an idle peer this often once the first keepalive went unanswered (a lost ping is not a dead peer). */
export const KEEPALIVE_REPING_MS = 2_000;
/** Handshakes this node initiates and waits on at once; beyond it the oldest is dropped (a burst of connects cannot grow memory). */
export const MAX_PENDING_HANDSHAKES = 256;
/** Source addresses with their own handshake rate bucket; the rest share one (rate-limiter.ts). */
export const MAX_RATE_LIMITED_SOURCES = 4_096;
/**
 * Peers whose last accepted INIT timestamp is remembered (replay protection across link
 * lifetimes). Beyond it the least recent is forgotten: a replayed INIT of a forgotten peer can at
 * worst open a session whose keys nobody holds, which goes `down` after `deadAfterMs`.
 */
export const MAX_REMEMBERED_PEERS = 16_384;
/** Old keys stay valid for receiving this long after a full re-handshake (packets in flight, reordering). */
export const PREVIOUS_SESSION_GRACE_MS = 15_000;
/**
 * After a key update, the receiver keeps the previous epoch's key this long for packets that
 * were reordered or delayed around the change (far more than any path reorders), then wipes it.
 * Older epochs' keys are wiped at once.
 */
export const PREVIOUS_EPOCH_GRACE_MS = 10_000;
/**
 * How many epochs ahead of its own a receiver tries (the packet authenticates or nothing moves).
 * One is the normal case; more only when every packet of an epoch was lost (there are no ACKs,
 * so the sender cannot know). Bounded, like Signal's MAX_SKIP, so a forged epoch byte costs at
 * most this many hashes. A receiver that falls further behind stops hearing the peer, and the
 * link goes down after deadAfterMs.
 */
export const MAX_EPOCH_SKIP = 4;
/**
 * A full re-handshake after this many messages on one session, whatever its age: counters
 * continue across key updates and must stay under 2^53 (the reject limit is 1.5 times this).
 */
export const HANDSHAKE_REKEY_AFTER_MESSAGES = 2 ** 51;
/** Largest payload one DATA packet carries: a datagram minus header, content byte and tag. */
export const MAX_PAYLOAD_BYTES = 65_507 - 14 - 1 - 16;

export interface LinkConfig {
  networkId: Uint8Array;
  encryptPayloads: boolean;
  keepaliveIdleMs: number;
  deadAfterMs: number;
  handshakeRetryMs: number;
  handshakeAttempts: number;
  /** A sender moves its send key to the next epoch after this long or this many messages in the epoch (cheap). */
  keyUpdateAfterMs: number;
  keyUpdateAfterMessages: number;
  /** A full re-handshake (fresh ephemerals) after this long or this many messages on the session (expensive). */
  handshakeRekeyAfterMs: number;
  handshakeRekeyAfterMessages: number;
  /** The session's initiator re-handshakes when due; the responder waits this much longer, so both rarely start at once. */
  responderRekeyDelayMs: number;
  /** A session stops sending at 1.5 times its re-handshake age or count; sends queue until the re-handshake is done. */
  rejectAfterMs: number;
  rejectAfterMessages: number;
  /** A responder's new session that the initiator never used is dropped after this long. */
  unconfirmedSessionTimeoutMs: number;
  maxQueuedPerPeer: number;
  handshakeRatePerSource: number;
  tickMs: number;
  openerTtl: number;
}

/** Applies the defaults and validates; throws RangeError on nonsense (a programming error, at start-up). */
export function resolveConfig(init: LinkLayerInit): LinkConfig {
  if (init.networkId.length !== NETWORK_ID_BYTES) throw new RangeError(`networkId must be ${NETWORK_ID_BYTES} bytes`);
  const positive = (name: string, value: number | undefined, fallback: number): number => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a positive number, got ${v}`);
    return v;
  };
  const keepaliveIdleMs = positive('keepaliveIdleMs', init.keepaliveIdleMs, LINK_DEFAULTS.keepaliveIdleMs);
  const deadAfterMs = positive('deadAfterMs', init.deadAfterMs, LINK_DEFAULTS.deadAfterMs);
  const handshakeRetryMs = positive('handshakeRetryMs', init.handshakeRetryMs, LINK_DEFAULTS.handshakeRetryMs);
  const handshakeAttempts = Math.floor(positive('handshakeAttempts', init.handshakeAttempts, LINK_DEFAULTS.handshakeAttempts));
  const keyUpdateAfterMs = positive('rekeyAfterMs', init.rekeyAfterMs, LINK_DEFAULTS.rekeyAfterMs);
  const keyUpdateAfterMessages = Math.max(
    1,
    Math.floor(positive('rekeyAfterMessages', init.rekeyAfterMessages, LINK_DEFAULTS.rekeyAfterMessages)),
  );
  const handshakeRekeyAfterMs = positive('handshakeRekeyAfterMs', init.handshakeRekeyAfterMs, LINK_DEFAULTS.handshakeRekeyAfterMs);
  return {
    networkId: Uint8Array.from(init.networkId),
    encryptPayloads: init.encryptPayloads ?? LINK_DEFAULTS.encryptPayloads,
    keepaliveIdleMs,
    deadAfterMs,
    handshakeRetryMs,
    handshakeAttempts: Math.max(1, handshakeAttempts),
    keyUpdateAfterMs,
    keyUpdateAfterMessages,
    handshakeRekeyAfterMs,
    handshakeRekeyAfterMessages: HANDSHAKE_REKEY_AFTER_MESSAGES,
    responderRekeyDelayMs: handshakeRekeyAfterMs / 4,
    rejectAfterMs: handshakeRekeyAfterMs * 1.5,
    rejectAfterMessages: HANDSHAKE_REKEY_AFTER_MESSAGES * 1.5,
    unconfirmedSessionTimeoutMs: handshakeRetryMs * (handshakeAttempts + 1),
    maxQueuedPerPeer: Math.floor(positive('maxQueuedPerPeer', init.maxQueuedPerPeer, LINK_DEFAULTS.maxQueuedPerPeer)),
    handshakeRatePerSource: positive('handshakeRatePerSource', init.handshakeRatePerSource, LINK_DEFAULTS.handshakeRatePerSource),
    tickMs: positive('tickMs', init.tickMs, LINK_DEFAULTS.tickMs),
    openerTtl: Math.min(255, Math.floor(positive('openerTtl', init.openerTtl, LINK_DEFAULTS.openerTtl))),
  };
}
