import type { OffloadHook, OffloadedSession } from './offload.js';
import type { Address } from '../address.js';
import type { AdmissionCheck } from '../admission.js';
import type { Clock } from '../clock.js';
import type { Identity } from '../identity.js';
import type { Logger } from '../log.js';
import type { Random } from '../random.js';
import type { DatagramTransport, Endpoint } from '../transport.js';

/** User-facing options of the link layer. Every default is documented with the reason for its value. */
export interface LinkLayerInit {
  /**
   * Identifies the overlay (public ring, or one group's private ring). 16 bytes. Peers of another
   * overlay are refused during the handshake.
   */
  networkId: Uint8Array;
  /**
   * Really encrypt payloads (default true). False ONLY for simulator scale runs, and INSECURE:
   * handshakes, signatures, counters and the replay window stay real, but DATA then carries the
   * plaintext as is, with no encryption and no authentication (anyone on the path can read, forge
   * or alter it); the simulator says so in its output.
   */
  encryptPayloads?: boolean;
  /**
   * Send a keepalive when nothing was received from a peer for this long (default 20 s: a two-way
   * UDP flow stays mapped for 120 s on Linux NATs and at least 30 s on most home routers).
   */
  keepaliveIdleMs?: number;
  /**
   * Declare a link dead when nothing was received for this long (default 30 s: the keepalive at
   * 20 s plus re-pings every 2 s give the peer five chances to answer before it is declared dead).
   */
  deadAfterMs?: number;
  /** Handshake retransmission interval (default 1 s) and attempts before `connect-failed` (default 5). */
  handshakeRetryMs?: number;
  handshakeAttempts?: number;
  /**
   * Key update (cheap, frequent): each sender moves its send key to the next epoch with its first
   * packet after this long (default 120 s, WireGuard's rekey interval; keepalives make that at
   * most keepaliveIdleMs late) or after this many messages sent in the epoch (default 2^40).
   * next key = BLAKE2b-256("ringvpn-key-update-v1" ‖ key): no handshake, no extra packet, no
   * event; the receiver follows the epoch number in the DATA header and wipes old keys (forward
   * secrecy within a session). Each direction updates on its own.
   */
  rekeyAfterMs?: number;
  rekeyAfterMessages?: number;
  /**
   * Full re-handshake (expensive, rare): a new signed ephemeral X25519 exchange after this long
   * (default 60 minutes, like IPsec's default child-SA lifetime). It heals after a compromise of
   * the session keys, which key updates cannot: their next keys follow from the current one. A
   * session that could not re-handshake stops sending at 1.5 times this age (sends queue).
   */
  handshakeRekeyAfterMs?: number;
  /** Messages queued per peer while no session may send (an overdue re-handshake; default 128); overflow closes the link. */
  maxQueuedPerPeer?: number;
  /** Handshake initiations accepted per source IP per second (default 20) before new ones are dropped. */
  handshakeRatePerSource?: number;
  /** IP TTL of opener probes (default 2: past this host's NAT, dead at the next router). */
  openerTtl?: number;
  /** How often the single maintenance tick runs (default 1 s). */
  tickMs?: number;
}

/** Injected dependencies. */
export interface LinkLayerComponents {
  clock: Clock;
  random: Random;
  transport: DatagramTransport;
  identity: Identity;
  admission: AdmissionCheck;
  log: Logger;
}

/** How a connect starts (NAT traversal). */
export interface ConnectOptions {
  /**
   * Send the first INIT as an opener (transport.sendOpener, a low IP TTL): it opens this host's
   * NAT mapping toward the endpoint without reaching the far NAT, so it cannot spoil the far side's
   * mapping. Full INITs follow after `holdMs`, unless the peer's own INIT arrives first.
   */
  opener?: boolean;
  /** Wait this long before the first full-TTL INIT (default 0; with an opener, the retry interval). */
  holdMs?: number;
}

export interface LinkLiveness {
  keepaliveIdleMs: number;
  deadAfterMs: number;
}

export interface LinkInfo {
  readonly peer: Address;
  readonly publicKey: Uint8Array;
  readonly credential: Uint8Array;
  /** Where the peer's datagrams come from now. */
  readonly endpoint: Endpoint;
  readonly establishedAt: number;
  readonly lastReceivedAt: number;
  /** Smoothed round-trip time from keepalives, null until measured. */
  readonly rttMs: number | null;
  /** True if this node sent the first handshake. */
  readonly initiator: boolean;
}

export type LinkEvent =
  | { kind: 'up'; link: LinkInfo }
  | { kind: 'down'; peer: Address; reason: string; /** True when the peer stopped answering (a failure, not a close). */ timedOut: boolean }
  | { kind: 'message'; peer: Address; payload: Uint8Array }
  | { kind: 'connect-failed'; endpoint: Endpoint; expectedPeer: Address | null; reason: string }
  /** The peer's authenticated packets now come from another endpoint (roaming: its network or NAT mapping changed). */
  | { kind: 'moved'; peer: Address; endpoint: Endpoint };

/** Counters of everything dropped; never reset. */
export interface LinkStats {
  packetsIn: number;
  packetsOut: number;
  droppedMalformed: number;
  droppedAuthFailed: number;
  droppedReplayed: number;
  droppedUnknownSession: number;
  droppedRateLimited: number;
  droppedQueueFull: number;
  handshakesRefused: number;
  handshakesCompleted: number;
}

export interface LinkLayer {
  /**
   * Start (or reuse) a session with whoever answers at `endpoint`. If `expectedPeer` is given, a
   * responder with another address is refused. The outcome arrives as an `up` or
   * `connect-failed` event. Idempotent while a handshake to the same endpoint is pending.
   */
  connect(endpoint: Endpoint, expectedPeer?: Address, options?: ConnectOptions): void;
  /**
   * Sends an authenticated keepalive on the peer's session to another endpoint (a path probe).
   * If it arrives, the peer moves its side of the link to that endpoint (roaming) and answers
   * there, and this side follows. No-op without a link.
   */
  probePath(peer: Address, endpoint: Endpoint, options?: { opener?: boolean }): void;
  /** Sends the link's traffic to `endpoint` from now on (a relay takes over, or another relay). */
  redirect(peer: Address, endpoint: Endpoint): void;
  /**
   * Send one payload to a linked peer. Returns false (and counts) when there is no link or its queue
   * is full. The payload is owned by the link layer after the call.
   */
  send(peer: Address, payload: Uint8Array): boolean;
  /** Tell the peer (authenticated) and drop the session; emits `down`. */
  close(peer: Address, reason: string): void;
  get(peer: Address): LinkInfo | undefined;
  /**
   * Faster failure detection for one link (near ring neighbours under churn): keepalive after
   * `keepaliveIdleMs` of silence and `down` after `deadAfterMs`. null restores the defaults.
   * Faster detection costs a keepalive exchange every keepaliveIdleMs on that link.
   */
  setLiveness(peer: Address, liveness: LinkLiveness | null): void;
  links(): Iterable<LinkInfo>;
  /**
   * Shares the current session with `peer` with a native data path (offload.ts), or refreshes
   * it (call again every fraction of a second with the same memory: it also carries the native
   * path's receive times into the link's liveness). Null (and nothing shared) when the link is
   * not up, payloads are not encrypted, or the session may no longer send.
   */
  offload?(peer: Address, memory: Uint8Array, hook: OffloadHook): OffloadedSession | null;
  readonly stats: LinkStats;
  /** Single subscriber: the node. */
  onEvent(handler: (event: LinkEvent) => void): void;
  /** Cancel every timer and forget every session, without events. Does not close the transport. */
  stop(): void;
}
