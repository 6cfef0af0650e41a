import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES, aeadDecrypt, aeadEncrypt } from '../crypto.js';
import type { LinkConfig } from './config.js';
import type { SessionKeys } from './handshake.js';
import type { Link } from './link-table.js';
import { DATA_HEADER_BYTES, writeDataHeader, writeU64 } from './packet-codec.js';
import { ReplayWindow } from './replay-window.js';

/** Why {@link Session.open} refused a DATA packet (each maps to a stats counter). */
export const OpenFailure = {
  MALFORMED: 1,
  REPLAYED: 2,
  AUTH_FAILED: 3,
} as const;
export type OpenFailureValue = (typeof OpenFailure)[keyof typeof OpenFailure];

/**
 * One set of keys between two nodes: the sending counter, the receiving replay window, and the
 * DATA packet's seal/open. A link has one current session, plus briefly the previous one (still
 * accepted for receiving after a rekey) and, on the responder's side of a rekey, the next one.
 *
 * The nonce is 4 zero bytes then the 8-byte counter; a counter is never reused with one key
 * (the link layer rekeys long before MAX_MESSAGES_PER_SESSION).
 *
 * !!! INSECURE MODE: with `encrypt` false (LinkLayerInit.encryptPayloads = false), DATA carries the
 * !!! plaintext as is, with NO encryption and NO authentication: anyone on the path can read,
 * !!! forge or alter it. Only the counter and replay checks remain. It exists only so the
 * !!! simulator can run 10,000 nodes; never use it on a real network.
 */
/**
 * Scratch buffers shared by every session: each is filled and consumed within one synchronous
 * call (libsodium copies them in), and the simulator holds ~200,000 sessions.
 */
const scratchNonce = new Uint8Array(AEAD_NONCE_BYTES);
const scratchHeader = new Uint8Array(DATA_HEADER_BYTES);

export class Session {
  sendCounter = 0;
  readonly replay = new ReplayWindow();

  constructor(
    readonly localIndex: number,
    readonly remoteIndex: number,
    private readonly keys: SessionKeys,
    readonly createdAt: number,
    /** True if this node sent the INIT of this session. */
    readonly initiatedHere: boolean,
    readonly link: Link,
    private readonly encrypt: boolean,
  ) {}

  /** The smallest DATA packet this session can accept. */
  get minPacketBytes(): number {
    return DATA_HEADER_BYTES + 1 + (this.encrypt ? AEAD_TAG_BYTES : 0);
  }

  /** Builds the DATA packet carrying `contentType` followed by `body`, using the next counter. */
  seal(contentType: number, body: Uint8Array): Uint8Array {
    const counter = this.sendCounter++;
    if (!this.encrypt) {
      const out = new Uint8Array(DATA_HEADER_BYTES + 1 + body.length);
      writeDataHeader(out, this.remoteIndex, counter);
      out[DATA_HEADER_BYTES] = contentType;
      out.set(body, DATA_HEADER_BYTES + 1);
      return out;
    }
    const plain = new Uint8Array(1 + body.length);
    plain[0] = contentType;
    plain.set(body, 1);
    writeDataHeader(scratchHeader, this.remoteIndex, counter);
    writeU64(scratchNonce, 4, counter);
    const sealed = aeadEncrypt(plain, scratchHeader, scratchNonce, this.keys.send);
    const out = new Uint8Array(DATA_HEADER_BYTES + sealed.length);
    out.set(scratchHeader, 0);
    out.set(sealed, DATA_HEADER_BYTES);
    return out;
  }

  /**
   * Checks and opens a DATA packet addressed to this session (`counter` already read from its
   * header). Returns the plaintext (content byte first) or the reason for refusing it. The
   * replay window only moves for authenticated packets.
   */
  open(packet: Uint8Array, counter: number): Uint8Array | OpenFailureValue {
    if (packet.length < this.minPacketBytes) return OpenFailure.MALFORMED;
    if (!this.replay.check(counter)) return OpenFailure.REPLAYED;
    let plain: Uint8Array | null;
    if (this.encrypt) {
      writeU64(scratchNonce, 4, counter);
      plain = aeadDecrypt(
        packet.subarray(DATA_HEADER_BYTES),
        packet.subarray(0, DATA_HEADER_BYTES),
        scratchNonce,
        this.keys.receive,
      );
      if (plain === null) return OpenFailure.AUTH_FAILED;
    } else {
      plain = packet.subarray(DATA_HEADER_BYTES);
    }
    if (!this.replay.commit(counter)) return OpenFailure.REPLAYED;
    return plain;
  }
}

/** True while the session may still send: under both hard limits (reject-after age and count). */
export function canSendOn(session: Session, now: number, config: Pick<LinkConfig, 'rejectAfterMs' | 'rejectAfterMessages'>): boolean {
  return session.sendCounter < config.rejectAfterMessages && now - session.createdAt < config.rejectAfterMs;
}
