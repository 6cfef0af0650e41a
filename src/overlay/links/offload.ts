import type { Endpoint } from '../transport.js';

/**
 * Handing an established session's bulk DATA packets to a native data path (the VPN's, in
 * native-helpers/tap/src/fastpath.c), while handshakes, key updates, rekeys, keepalives, roaming
 * and everything else stay here.
 *
 * The session and the native path share one block of memory (same thread: they never run at the
 * same time), so that both draw from one send counter and check one replay window:
 *
 *     f64[SEND_COUNTER]     the next send counter (Session.sendCounter reads it while shared)
 *     f64[SEND_LIMIT]       the native path seals only while the counter is below this (the next
 *                           key update, reject-after or re-handshake count)...
 *     f64[SEND_DEADLINE]    ...and only before this time (Date.now() ms: the next key update or
 *                           reject-after time); past either, packets come here and the JS path
 *                           does the key update, after which the native path gets the new key
 *     f64[PACKETS_IN]       packets the native path delivered / sent (counters)
 *     f64[PACKETS_OUT]
 *     f64[LAST_RECEIVED_AT] last authenticated packet the native path took (Date.now() ms)
 *     f64[REPLAY_HIGHEST]   the replay window's highest counter (-1: none)
 *     u32 from REPLAY_BITMAP_OFFSET: the replay window's 65 bitmap words
 *
 * The native path must keep every rule of session.ts for what it handles: the same wire format
 * and AEAD, counters strictly increasing, the replay window checked before and committed only
 * after authentication, only the current send and receive epochs (others come here).
 */
export const OffloadCell = {
  SEND_COUNTER: 0,
  SEND_LIMIT: 1,
  SEND_DEADLINE: 2,
  PACKETS_IN: 3,
  PACKETS_OUT: 4,
  LAST_RECEIVED_AT: 5,
  REPLAY_HIGHEST: 6,
} as const;
export const REPLAY_BITMAP_OFFSET = 64;
/** Bytes of one shared block (a multiple of 8). */
export const OFFLOAD_MEMORY_BYTES = 328;

/** Told by the session when the native path must be updated. */
export interface OffloadHook {
  /** Keys or epochs changed (a key update either way): install the session's state again. */
  changed(): void;
  /** The session no longer sends (replaced by a re-handshake, or wiped): remove it from the native path now. */
  released(): void;
}

/** What the native path needs to seal and open the session's DATA packets. Keys are copies. */
export interface OffloadedSession {
  readonly localIndex: number;
  readonly remoteIndex: number;
  /** Where the peer is now (the native path sends only to, and accepts only from, this endpoint). */
  readonly endpoint: Endpoint;
  readonly sendKey: Uint8Array;
  /** Mod 256, as in the DATA header. */
  readonly sendEpoch: number;
  readonly receiveKey: Uint8Array;
  readonly receiveEpoch: number;
}
