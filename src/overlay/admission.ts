import type { Address } from './address.js';

/** What a peer presented in its handshake. */
export interface PeerCredentials {
  publicKey: Uint8Array;
  address: Address;
  /** Opaque proof of membership (a group certificate); empty on the public ring. */
  credential: Uint8Array;
}

export type AdmissionDecision = { ok: true } | { ok: false; reason: string };

/**
 * Decides who may link with this node. The public ring admits anyone; a group's private ring
 * admits holders of the group's certificates. `now` is milliseconds since the Unix epoch.
 */
export interface AdmissionCheck {
  /** The credential this node presents to its peers. At most 1024 bytes. */
  readonly credential: Uint8Array;
  admit(peer: PeerCredentials, now: number): AdmissionDecision;
}

export const MAX_CREDENTIAL_BYTES = 1024;

export const openAdmission: AdmissionCheck = {
  credential: new Uint8Array(0),
  admit: () => ({ ok: true }),
};
