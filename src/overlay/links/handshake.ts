import { type KxKeyPair, blake2b, kxKeyPairFromSeed, kxSessionKeys, sign, verify } from '../crypto.js';
import type { Identity } from '../identity.js';
import {
  type HandshakeInit,
  type HandshakeResp,
  INIT_FIXED_BYTES,
  SIGNATURE_BYTES,
  encodeInit,
  encodeResp,
} from './packet-codec.js';

/**
 * The 1-RTT handshake: signed ephemeral X25519, a simplified SIGMA / Noise-XX.
 *
 *   initiator                                                  responder
 *   INIT = idx_i, e_i, S_i, networkId, time, cred_i, sig_i(INIT)       ─▶
 *                                                                       checks, admission
 *   ◀─  RESP = idx_r, idx_i, e_r, S_r, cred_r, sig_r(hash(INIT) ‖ RESP)
 *
 *   keys = BLAKE2b(label ‖ crypto_kx(e_i, e_r) ‖ hash(INIT ‖ RESP))
 *
 * Each static key signs its own ephemeral (and the responder also the whole INIT), so the keys
 * are bound to both identities and to this exact exchange; the transcript hash mixed into the
 * kx keys binds them to everything either side said. The initiator's timestamp stops replays of
 * old INITs (the responder keeps the last one accepted per peer). Labels separate these
 * signatures from anything else the same Ed25519 key signs (DHT records, ...).
 *
 * This module is pure: no state, no clock, no randomness of its own (seeds come in).
 */
const encoder = new TextEncoder();
const INIT_LABEL = encoder.encode('ringvpn link init v1');
const RESP_LABEL = encoder.encode('ringvpn link resp v1');
const KEY_LABEL = encoder.encode('ringvpn link keys v1');
const HASH_BYTES = 32;

export interface SessionKeys {
  send: Uint8Array;
  receive: Uint8Array;
}

export interface InitiatorHandshake {
  readonly localIndex: number;
  readonly ephemeral: KxKeyPair;
  /** The INIT datagram; retransmitted as is. */
  readonly packet: Uint8Array;
  readonly initHash: Uint8Array;
}

export interface InitParams {
  identity: Identity;
  networkId: Uint8Array;
  credential: Uint8Array;
  localIndex: number;
  timestamp: number;
  ephemeralSeed: Uint8Array;
}

export function createInit(p: InitParams): InitiatorHandshake {
  const ephemeral = kxKeyPairFromSeed(p.ephemeralSeed);
  const packet = encodeInit(
    {
      senderIndex: p.localIndex,
      ephemeral: ephemeral.publicKey,
      staticKey: p.identity.publicKey,
      networkId: p.networkId,
      timestamp: p.timestamp,
      credential: p.credential,
    },
    (signed) => sign(concat(INIT_LABEL, signed), p.identity.secretKey),
  );
  const authenticatedLength = INIT_FIXED_BYTES + p.credential.length + SIGNATURE_BYTES;
  return { localIndex: p.localIndex, ephemeral, packet, initHash: blake2b(HASH_BYTES, packet.subarray(0, authenticatedLength)) };
}

/** The INIT's identity in the transcript: its signed bytes and signature, padding excluded. */
export function hashInit(init: HandshakeInit): Uint8Array {
  return blake2b(HASH_BYTES, init.authenticated);
}

export function verifyInit(init: HandshakeInit): boolean {
  return verify(init.signature, concat(INIT_LABEL, init.signed), init.staticKey);
}

export interface RespParams {
  identity: Identity;
  credential: Uint8Array;
  localIndex: number;
  ephemeralSeed: Uint8Array;
  init: HandshakeInit;
  initHash: Uint8Array;
}

/** The responder's half: its RESP and the session keys, or null when the INIT's ephemeral is unusable. */
export function respond(p: RespParams): { packet: Uint8Array; keys: SessionKeys } | null {
  const ephemeral = kxKeyPairFromSeed(p.ephemeralSeed);
  const kx = kxSessionKeys('server', ephemeral, p.init.ephemeral);
  if (kx === null) return null;
  const packet = encodeResp(
    {
      senderIndex: p.localIndex,
      receiverIndex: p.init.senderIndex,
      ephemeral: ephemeral.publicKey,
      staticKey: p.identity.publicKey,
      credential: p.credential,
    },
    (signed) => sign(concat(RESP_LABEL, p.initHash, signed), p.identity.secretKey),
  );
  const transcript = blake2b(HASH_BYTES, p.initHash, packet);
  return { packet, keys: mixKeys(kx, transcript) };
}

export function verifyResp(resp: HandshakeResp, initHash: Uint8Array): boolean {
  return verify(resp.signature, concat(RESP_LABEL, initHash, resp.signed), resp.staticKey);
}

/** The initiator's keys once the RESP is verified; null when the responder's ephemeral is unusable. */
export function completeInit(hs: InitiatorHandshake, resp: HandshakeResp, respPacket: Uint8Array): SessionKeys | null {
  const kx = kxSessionKeys('client', hs.ephemeral, resp.ephemeral);
  if (kx === null) return null;
  return mixKeys(kx, blake2b(HASH_BYTES, hs.initHash, respPacket));
}

function mixKeys(kx: { rx: Uint8Array; tx: Uint8Array }, transcript: Uint8Array): SessionKeys {
  const keys = {
    send: blake2b(HASH_BYTES, KEY_LABEL, kx.tx, transcript),
    receive: blake2b(HASH_BYTES, KEY_LABEL, kx.rx, transcript),
  };
  // The raw kx outputs would give the epoch-0 keys back: wipe them (key updates rely on that).
  kx.tx.fill(0);
  kx.rx.fill(0);
  return keys;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
