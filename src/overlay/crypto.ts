import sodiumModule from 'libsodium-wrappers';

/**
 * The one place that touches libsodium. Call {@link cryptoReady} once before anything else
 * in this module; every other function here is synchronous.
 */
export type Sodium = typeof sodiumModule;

let sodium: Sodium | null = null;

export async function cryptoReady(): Promise<Sodium> {
  if (sodium === null) {
    await sodiumModule.ready;
    sodium = sodiumModule;
  }
  return sodium;
}

export function getSodium(): Sodium {
  if (sodium === null) throw new Error('crypto not initialised: await cryptoReady() first');
  return sodium;
}

export const PUBLIC_KEY_BYTES = 32;
export const SECRET_KEY_BYTES = 64;
export const SIGNATURE_BYTES = 64;
export const KX_PUBLIC_KEY_BYTES = 32;
export const SESSION_KEY_BYTES = 32;
export const AEAD_TAG_BYTES = 16;
export const AEAD_NONCE_BYTES = 12;

export interface SigningKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** Ed25519 key pair from a 32-byte seed (the seed comes from the injected Random). */
export function signingKeyPairFromSeed(seed: Uint8Array): SigningKeyPair {
  const kp = getSodium().crypto_sign_seed_keypair(seed);
  return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

export function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return getSodium().crypto_sign_detached(message, secretKey);
}

/** Never throws: a malformed key or signature is simply not valid. */
export function verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  try {
    return getSodium().crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    return false;
  }
}

/** BLAKE2b with the given output length (16..64 bytes). */
export function blake2b(outputBytes: number, ...parts: Uint8Array[]): Uint8Array {
  const s = getSodium();
  if (parts.length === 1) return s.crypto_generichash(outputBytes, parts[0] as Uint8Array, null);
  const state = s.crypto_generichash_init(null, outputBytes);
  for (const p of parts) s.crypto_generichash_update(state, p);
  return s.crypto_generichash_final(state, outputBytes);
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** An X25519 key pair for crypto_kx (ephemeral handshake keys). */
export interface KxKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** X25519 key pair from a 32-byte seed (the seed comes from the injected Random, never libsodium's). */
export function kxKeyPairFromSeed(seed: Uint8Array): KxKeyPair {
  const kp = getSodium().crypto_kx_seed_keypair(seed);
  return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

/**
 * crypto_kx session keys (`rx` to receive, `tx` to send) between `own` and the peer's public key,
 * as the client (initiator) or the server (responder). Never throws: null when the peer's key is
 * unusable (wrong length, low-order point).
 */
export function kxSessionKeys(
  role: 'client' | 'server',
  own: KxKeyPair,
  peerPublicKey: Uint8Array,
): { rx: Uint8Array; tx: Uint8Array } | null {
  if (peerPublicKey.length !== KX_PUBLIC_KEY_BYTES) return null;
  try {
    const s = getSodium();
    const keys =
      role === 'client'
        ? s.crypto_kx_client_session_keys(own.publicKey, own.secretKey, peerPublicKey)
        : s.crypto_kx_server_session_keys(own.publicKey, own.secretKey, peerPublicKey);
    return { rx: keys.sharedRx, tx: keys.sharedTx };
  } catch {
    return null;
  }
}

/** ChaCha20-Poly1305-IETF: ciphertext followed by the 16-byte tag. */
export function aeadEncrypt(plaintext: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array {
  return getSodium().crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
}

/** Never throws: null when the tag does not verify. */
export function aeadDecrypt(ciphertext: Uint8Array, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null {
  if (ciphertext.length < AEAD_TAG_BYTES) return null;
  try {
    return getSodium().crypto_aead_chacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, key);
  } catch {
    return null;
  }
}
