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
export function createGroupAdmission(init: GroupAdmissionInit): AdmissionCheck {
  if (init.ownCertificate.length > MAX_CREDENTIAL_BYTES) throw new RangeError('the certificate is too large to present');
  const credential = Uint8Array.from(init.ownCertificate);
  return {
    credential,
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
