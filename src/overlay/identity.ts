import { type Address, addressFromPublicKey } from './address.js';
import { signingKeyPairFromSeed } from './crypto.js';
import type { Random } from './random.js';

/** A node's long-term identity: its Ed25519 key pair and the overlay address derived from it. */
export interface Identity {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
  readonly address: Address;
}

export function identityFromSeed(seed: Uint8Array): Identity {
  const kp = signingKeyPairFromSeed(seed);
  return { publicKey: kp.publicKey, secretKey: kp.secretKey, address: addressFromPublicKey(kp.publicKey) };
}

export function generateIdentity(random: Random): Identity {
  return identityFromSeed(random.bytes(32));
}
