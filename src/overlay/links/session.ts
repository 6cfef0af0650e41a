import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES, SESSION_KEY_BYTES, aeadDecrypt, aeadEncrypt, blake2b } from '../crypto.js';
import { type LinkConfig, MAX_EPOCH_SKIP, PREVIOUS_EPOCH_GRACE_MS } from './config.js';
import type { SessionKeys } from './handshake.js';
import type { Link } from './link-table.js';
import { DATA_HEADER_BYTES, readDataEpoch, writeDataHeader, writeU64 } from './packet-codec.js';
import { OFFLOAD_MEMORY_BYTES, OffloadCell, type OffloadHook, type OffloadedSession, REPLAY_BITMAP_OFFSET } from './offload.js';
import { ReplayWindow } from './replay-window.js';
import type { Endpoint } from '../transport.js';

/** Why {@link Session.open} refused a DATA packet (each maps to a stats counter). */
export const OpenFailure = {
  MALFORMED: 1,
  /** A counter seen before or too old, or an epoch whose key is already wiped. */
  REPLAYED: 2,
  AUTH_FAILED: 3,
} as const;
export type OpenFailureValue = (typeof OpenFailure)[keyof typeof OpenFailure];

/** What a session reads from the link layer's settings (a shared reference: no per-session copy). */
export type SessionPolicy = Pick<LinkConfig, 'encryptPayloads' | 'keyUpdateAfterMs' | 'keyUpdateAfterMessages'>;

const KEY_UPDATE_LABEL = new TextEncoder().encode('ringvpn-key-update-v1');
/** Label ‖ key, hashed in one call; the key part is zeroed right after. */
const scratchKdf = new Uint8Array(KEY_UPDATE_LABEL.length + SESSION_KEY_BYTES);
scratchKdf.set(KEY_UPDATE_LABEL);

/**
 * The key of the next epoch: BLAKE2b-256("ringvpn-key-update-v1" ‖ key). One-way: a key does
 * not give the keys of earlier epochs, so wiping them gives forward secrecy within a session.
 */
export function nextEpochKey(key: Uint8Array): Uint8Array {
  scratchKdf.set(key, KEY_UPDATE_LABEL.length);
  const next = blake2b(SESSION_KEY_BYTES, scratchKdf);
  scratchKdf.fill(0, KEY_UPDATE_LABEL.length);
  return next;
}

/**
 * Scratch buffers shared by every session: each is filled and consumed within one synchronous
 * call (libsodium copies them in), and the simulator holds ~200,000 sessions.
 */
const scratchNonce = new Uint8Array(AEAD_NONCE_BYTES);
const scratchHeader = new Uint8Array(DATA_HEADER_BYTES);

/**
 * One handshake's keys between two nodes: the sending counter, the receiving replay window, the
 * key epochs of both directions, and the DATA packet's seal/open. A link has one current
 * session, plus briefly the previous one (still accepted for receiving after a full
 * re-handshake) and, on the responder's side of a re-handshake, the next one.
 *
 * Key updates (two tiers, as Signal's and QUIC's): every keyUpdateAfterMs, or keyUpdateAfterMessages
 * sent in an epoch, the sender moves its send key to {@link nextEpochKey} of it, wipes the old
 * one and writes the new epoch (mod 256) in each DATA header. Each direction updates on its own.
 * The receiver tries the key of the epoch the header names: the current one, the previous one
 * (kept PREVIOUS_EPOCH_GRACE_MS for reordered packets, then wiped), or one up to MAX_EPOCH_SKIP
 * ahead, derived for the attempt and adopted only once the packet authenticates; then it wipes
 * every older key but the previous one. No handshake, no extra packet, no event. The rare full
 * re-handshake (a new Session) brings fresh ephemerals.
 *
 * The nonce is 4 zero bytes then the 8-byte counter; counters keep increasing across epochs (one
 * replay window for the whole session) and the link layer re-handshakes long before 2^53.
 *
 * !!! INSECURE MODE: with `encryptPayloads` false, DATA carries the plaintext as is, with NO
 * !!! encryption and NO authentication: anyone on the path can read, forge or alter it. Only the
 * !!! counter and replay checks remain; epochs are still numbered on sending but no key is
 * !!! derived and the receiver ignores them. It exists only so the simulator can run 10,000
 * !!! nodes; never use it on a real network.
 */
export class Session {
  private ownCounter = 0;
  /** While offloaded (offload.ts): the memory shared with the native data path, else null. */
  private shared: Float64Array<ArrayBufferLike> | null = null;
  private offloadHook: OffloadHook | null = null;
  readonly replay = new ReplayWindow();
  /** Key updates of each direction since the handshake (headers carry the send epoch mod 256). */
  sendEpoch = 0;
  receiveEpoch = 0;
  /** True once {@link wipe} ran: the session never seals again. */
  wiped = false;
  private sendKey: Uint8Array;
  private receiveKey: Uint8Array;
  /** The receive key of epoch receiveEpoch - 1 while its grace period lasts, else null. */
  private previousReceiveKey: Uint8Array | null = null;
  private previousKeyExpiresAt = 0;
  private sendEpochStartedAt: number;
  private sendEpochFirstCounter = 0;

  constructor(
    readonly localIndex: number,
    readonly remoteIndex: number,
    keys: SessionKeys,
    readonly createdAt: number,
    /** True if this node sent the INIT of this session. */
    readonly initiatedHere: boolean,
    readonly link: Link,
    private readonly policy: SessionPolicy,
  ) {
    this.sendKey = keys.send;
    this.receiveKey = keys.receive;
    this.sendEpochStartedAt = createdAt;
  }

  /** The next send counter (while offloaded, shared with the native data path). */
  get sendCounter(): number {
    return this.shared === null ? this.ownCounter : (this.shared[OffloadCell.SEND_COUNTER] as number);
  }

  set sendCounter(value: number) {
    if (this.shared === null) this.ownCounter = value;
    else this.shared[OffloadCell.SEND_COUNTER] = value;
  }

  get offloaded(): boolean {
    return this.shared !== null;
  }

  /**
   * Shares this session with a native data path (offload.ts): its counter and replay window move
   * into `memory`, the send limits are written there, and `hook` hears of key changes and of the
   * end. Called again with the same memory, it only refreshes the limits. Returns copies of the
   * keys. The caller has checked that the session may send and that payloads are encrypted.
   */
  offload(memory: Uint8Array, hook: OffloadHook, endpoint: Endpoint, limits: { rejectAfterMs: number; rejectAfterMessages: number; handshakeRekeyAfterMessages: number }): OffloadedSession {
    if (memory.byteLength < OFFLOAD_MEMORY_BYTES || memory.byteOffset % 8 !== 0) throw new RangeError('offload memory must be 328 bytes, 8-byte aligned');
    const cells = new Float64Array(memory.buffer, memory.byteOffset, REPLAY_BITMAP_OFFSET / 8);
    if (this.shared === null || this.shared.buffer !== memory.buffer || this.shared.byteOffset !== memory.byteOffset) {
      this.releaseOffload(false);
      cells.fill(0);
      cells[OffloadCell.SEND_COUNTER] = this.ownCounter;
      this.replay.share(new Uint32Array(memory.buffer, memory.byteOffset + REPLAY_BITMAP_OFFSET, 65), cells, OffloadCell.REPLAY_HIGHEST);
      this.shared = cells;
    }
    this.offloadHook = hook;
    const { policy } = this;
    cells[OffloadCell.SEND_LIMIT] = Math.min(
      this.sendEpochFirstCounter + policy.keyUpdateAfterMessages,
      limits.rejectAfterMessages,
      limits.handshakeRekeyAfterMessages,
    );
    cells[OffloadCell.SEND_DEADLINE] = Math.min(this.sendEpochStartedAt + policy.keyUpdateAfterMs, this.createdAt + limits.rejectAfterMs);
    return {
      localIndex: this.localIndex,
      remoteIndex: this.remoteIndex,
      endpoint,
      sendKey: Uint8Array.from(this.sendKey),
      sendEpoch: this.sendEpoch & 0xff,
      receiveKey: Uint8Array.from(this.receiveKey),
      receiveEpoch: this.receiveEpoch & 0xff,
    };
  }

  /** Something the native data path holds changed outside the session (the link's endpoint): install it again. */
  offloadChanged(): void {
    this.offloadHook?.changed();
  }

  /** Takes the counter and replay window back from the native data path and tells it (if `notify`). */
  releaseOffload(notify = true): void {
    const hook = this.offloadHook;
    if (this.shared !== null) {
      this.ownCounter = this.shared[OffloadCell.SEND_COUNTER] as number;
      this.replay.unshare();
      this.shared = null;
    }
    this.offloadHook = null;
    if (notify) hook?.released();
  }

  /** The smallest DATA packet this session can accept. */
  get minPacketBytes(): number {
    return DATA_HEADER_BYTES + 1 + (this.policy.encryptPayloads ? AEAD_TAG_BYTES : 0);
  }

  /**
   * Builds the DATA packet carrying `contentType` followed by `body`, using the next counter,
   * after a key update if one is due.
   */
  seal(contentType: number, body: Uint8Array, now: number): Uint8Array {
    const { policy } = this;
    const epochMessages = this.sendCounter - this.sendEpochFirstCounter;
    if (epochMessages >= policy.keyUpdateAfterMessages || now - this.sendEpochStartedAt >= policy.keyUpdateAfterMs) {
      this.updateSendKey(now);
    }
    const counter = this.sendCounter++;
    if (!policy.encryptPayloads) {
      const out = new Uint8Array(DATA_HEADER_BYTES + 1 + body.length);
      writeDataHeader(out, this.remoteIndex, this.sendEpoch, counter);
      out[DATA_HEADER_BYTES] = contentType;
      out.set(body, DATA_HEADER_BYTES + 1);
      return out;
    }
    const plain = new Uint8Array(1 + body.length);
    plain[0] = contentType;
    plain.set(body, 1);
    writeDataHeader(scratchHeader, this.remoteIndex, this.sendEpoch, counter);
    writeU64(scratchNonce, 4, counter);
    const sealed = aeadEncrypt(plain, scratchHeader, scratchNonce, this.sendKey);
    const out = new Uint8Array(DATA_HEADER_BYTES + sealed.length);
    out.set(scratchHeader, 0);
    out.set(sealed, DATA_HEADER_BYTES);
    return out;
  }

  /** Moves the sending direction to the next epoch; the old send key is wiped at once. */
  updateSendKey(now: number): void {
    if (this.policy.encryptPayloads) {
      const old = this.sendKey;
      this.sendKey = nextEpochKey(old);
      old.fill(0);
    }
    this.sendEpoch++;
    this.sendEpochStartedAt = now;
    this.sendEpochFirstCounter = this.sendCounter;
    this.offloadHook?.changed();
  }

  /**
   * Checks and opens a DATA packet addressed to this session (`counter` already read from its
   * header). Returns the plaintext (content byte first) or the reason for refusing it. The
   * replay window and the receive epoch only move for authenticated packets.
   */
  open(packet: Uint8Array, counter: number, now: number): Uint8Array | OpenFailureValue {
    if (packet.length < this.minPacketBytes) return OpenFailure.MALFORMED;
    if (!this.replay.check(counter)) return OpenFailure.REPLAYED;
    if (!this.policy.encryptPayloads) {
      return this.replay.commit(counter) ? packet.subarray(DATA_HEADER_BYTES) : OpenFailure.REPLAYED;
    }
    const ahead = (readDataEpoch(packet) - this.receiveEpoch) & 0xff;
    let key = this.receiveKey;
    /** When ahead: the derived key of the epoch before the packet's (kept as the previous key). */
    let before: Uint8Array | null = null;
    if (ahead === 0xff) {
      if (this.previousReceiveKey === null || now >= this.previousKeyExpiresAt) return OpenFailure.REPLAYED;
      key = this.previousReceiveKey;
    } else if (ahead > MAX_EPOCH_SKIP) {
      return OpenFailure.AUTH_FAILED;
    } else if (ahead > 0) {
      for (let i = 0; i < ahead; i++) {
        if (before !== null) before.fill(0);
        before = i === 0 ? null : key;
        key = nextEpochKey(key);
      }
    }
    writeU64(scratchNonce, 4, counter);
    const plain = aeadDecrypt(packet.subarray(DATA_HEADER_BYTES), packet.subarray(0, DATA_HEADER_BYTES), scratchNonce, key);
    if (plain === null || !this.replay.commit(counter)) {
      if (ahead > 0 && ahead <= MAX_EPOCH_SKIP) {
        key.fill(0);
        before?.fill(0);
      }
      return plain === null ? OpenFailure.AUTH_FAILED : OpenFailure.REPLAYED;
    }
    if (ahead > 0 && ahead <= MAX_EPOCH_SKIP) this.advanceReceive(ahead, key, before, now);
    return plain;
  }

  /** Wipes the previous epoch's receive key once its grace period is over (the maintenance tick calls this). */
  expireKeys(now: number): void {
    if (this.previousReceiveKey !== null && now >= this.previousKeyExpiresAt) {
      this.previousReceiveKey.fill(0);
      this.previousReceiveKey = null;
    }
  }

  /** Zeroes every key; the session is forgotten right after (it is no longer in the session table). */
  wipe(): void {
    this.releaseOffload();
    this.wiped = true;
    this.sendKey.fill(0);
    this.receiveKey.fill(0);
    this.previousReceiveKey?.fill(0);
    this.previousReceiveKey = null;
  }

  /** Adopts an authenticated epoch `ahead` of the current one; keeps the key just before it for the grace period. */
  private advanceReceive(ahead: number, key: Uint8Array, before: Uint8Array | null, now: number): void {
    this.previousReceiveKey?.fill(0);
    if (before === null) {
      this.previousReceiveKey = this.receiveKey;
    } else {
      this.receiveKey.fill(0);
      this.previousReceiveKey = before;
    }
    this.receiveKey = key;
    this.receiveEpoch += ahead;
    this.previousKeyExpiresAt = now + PREVIOUS_EPOCH_GRACE_MS;
    this.offloadHook?.changed();
  }
}

/** True while the session may still send: not wiped, and under both hard limits (reject-after age and count). */
export function canSendOn(session: Session, now: number, config: Pick<LinkConfig, 'rejectAfterMs' | 'rejectAfterMessages'>): boolean {
  return !session.wiped && session.sendCounter < config.rejectAfterMessages && now - session.createdAt < config.rejectAfterMs;
}
