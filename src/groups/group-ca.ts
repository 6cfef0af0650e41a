import { randomBytes } from 'node:crypto';
import { signingKeyPairFromSeed } from '../overlay/crypto.js';
import { type Certificate, type CertificateFields, signCertificate } from './certificate.js';
import { type Crl, type CrlFields, type RevocationRecord, type RevocationRecordFields, signCrl, signRevocationRecord } from './revocation.js';
import { GROUP_ID_BYTES } from './records.js';
import type { TrustAnchor } from './certificate.js';

/** A group's certificate authority: its id and Ed25519 key pair. The secret key never leaves the group server. */
export interface GroupCa extends TrustAnchor {
  groupId: Uint8Array;
  /** The 32-byte seed the key pair derives from: what gets stored. */
  seed: Uint8Array;
  caPublicKey: Uint8Array;
  caSecretKey: Uint8Array;
}

/** `randomSource` is injectable for tests; real use takes the CSPRNG. Call cryptoReady() first. */
export function createGroupCa(randomSource: (n: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n))): GroupCa {
  return groupCaFromSeed(randomSource(GROUP_ID_BYTES), randomSource(32));
}

export function groupCaFromSeed(groupId: Uint8Array, seed: Uint8Array): GroupCa {
  if (groupId.length !== GROUP_ID_BYTES) throw new RangeError(`a group id is ${GROUP_ID_BYTES} bytes`);
  const kp = signingKeyPairFromSeed(seed);
  return { groupId: Uint8Array.from(groupId), seed: Uint8Array.from(seed), caPublicKey: kp.publicKey, caSecretKey: kp.secretKey };
}

export function issueCertificate(ca: GroupCa, fields: Omit<CertificateFields, 'groupId'>): Certificate {
  return signCertificate({ ...fields, groupId: ca.groupId }, ca.caSecretKey);
}

export function issueCrl(ca: GroupCa, fields: Omit<CrlFields, 'groupId'>): Crl {
  return signCrl({ ...fields, groupId: ca.groupId }, ca.caSecretKey);
}

export function issueRevocationRecord(ca: GroupCa, fields: Omit<RevocationRecordFields, 'groupId'>): RevocationRecord {
  return signRevocationRecord({ ...fields, groupId: ca.groupId }, ca.caSecretKey);
}
