import { type AdmissionCheck, type AdmissionDecision, MAX_CREDENTIAL_BYTES, type PeerCredentials } from '../overlay/admission.js';
import { bytesEqual } from './binary.js';
import { type RevocationView, type TrustAnchor, checkCertificateBytes } from './certificate.js';

export interface GroupAdmissionInit {
  anchor: TrustAnchor;
  /** This node's own encoded certificate: what it presents to peers. */
  ownCertificate: Uint8Array;
  /** Consulted on every handshake, so revocations learned later take effect for new links at once. */
  revocations: RevocationView;
}

/**
 * The private ring's admission check: a peer gets in only with a certificate of this group that
 * verifies at `now`, is not revoked, and names exactly the key and address of the handshake.
 */
export interface GroupAdmission extends AdmissionCheck {
  /**
   * Presents another certificate from the next handshake on (the server issued a new one: an
   * admin changed this member's roles, or the old one neared its end). Links made earlier keep
   * what they were made with.
   */
  setOwnCertificate(bytes: Uint8Array): void;
}

export function createGroupAdmission(init: GroupAdmissionInit): GroupAdmission {
  const copy = (bytes: Uint8Array): Uint8Array => {
    if (bytes.length > MAX_CREDENTIAL_BYTES) throw new RangeError('the certificate is too large to present');
    return Uint8Array.from(bytes);
  };
  let credential = copy(init.ownCertificate);
  return {
    get credential() {
      return credential;
    },
    setOwnCertificate(bytes: Uint8Array) {
      credential = copy(bytes);
    },
    admit(peer: PeerCredentials, now: number): AdmissionDecision {
      if (peer.credential.length === 0) return { ok: false, reason: 'the peer presented no group certificate' };
      const checked = checkCertificateBytes(peer.credential, init.anchor, now, init.revocations);
      if (!checked.ok) return { ok: false, reason: checked.error.message };
      const cert = checked.value;
      if (!bytesEqual(cert.publicKey, peer.publicKey) || cert.address !== peer.address) {
        return { ok: false, reason: "the certificate names another node's key" };
      }
      return { ok: true };
    },
  };
}
