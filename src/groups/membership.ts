import type { AdmissionCheck } from '../overlay/admission.js';
import type { Identity } from '../overlay/identity.js';
import { bytesEqual, fromBase64Url } from './binary.js';
import { type Certificate, type TrustAnchor, checkCertificateBytes } from './certificate.js';
import { createGroupAdmission } from './admission.js';
import { GroupError } from './errors.js';
import { GroupApiClient } from './group-api-client.js';
import { GroupStateDir, loadOrCreateNodeIdentity } from './group-state.js';
import type { RequestOptions } from './pinned-http.js';
import { RevocationSet, decodeCrl, decodeRevocationRecord } from './revocation.js';

/** Everything a node needs to enter its group's private ring. */
export interface GroupMembership {
  groupId: string;
  groupName: string;
  identity: Identity;
  anchor: TrustAnchor;
  certificate: Certificate;
  revocations: RevocationSet;
  /** The admission check for the private ring: presents our certificate, checks the peer's. */
  admission: AdmissionCheck;
}

/** Loads a joined group from the state directory and checks our own certificate at `now`. */
export function loadMembership(stateDir: string, groupId: string, now: number = Date.now()): GroupMembership {
  const state = new GroupStateDir(stateDir, groupId);
  const bytes = state.certificateBytes();
  if (bytes === null) throw new GroupError('not-joined', 'this computer has not joined that group yet');
  const anchor = state.anchor();
  const identity = loadOrCreateNodeIdentity(stateDir);
  const revocations = new RevocationSet(anchor);
  const crlBytes = state.crlBytes();
  if (crlBytes !== null) {
    const crl = decodeCrl(crlBytes);
    if (crl.ok) revocations.applyCrl(crl.value);
  }
  for (const recordBytes of state.revocationRecords()) {
    const record = decodeRevocationRecord(recordBytes);
    if (record.ok) revocations.applyRecord(record.value);
  }
  const checked = checkCertificateBytes(bytes, anchor, now, revocations);
  if (!checked.ok) {
    const why = checked.error.code === 'revoked' ? 'an admin removed this computer from the group' : checked.error.message;
    throw new GroupError(`certificate-${checked.error.code}`, `this computer's membership is not valid: ${why}`);
  }
  if (!bytesEqual(checked.value.publicKey, identity.publicKey)) {
    throw new GroupError('state-corrupt', "the saved certificate is for another key than this computer's");
  }
  return {
    groupId,
    groupName: state.group().name,
    identity,
    anchor,
    certificate: checked.value,
    revocations,
    admission: createGroupAdmission({ anchor, ownCertificate: bytes, revocations }),
  };
}

/**
 * Fetches the group's CRL (and single revocation records), verifies them against the group's CA,
 * and saves the CRL when it is newer. Applies them to `revocations` when given (a live membership).
 */
export async function refreshCrl(
  stateDir: string,
  groupId: string,
  options: RequestOptions & { revocations?: RevocationSet } = {},
): Promise<{ sequence: number; updated: boolean }> {
  const state = new GroupStateDir(stateDir, groupId);
  const anchor = state.anchor();
  const answer = await new GroupApiClient(state.invitation(), options).crl();
  const bytes = fromBase64Url(answer.crl, 1 << 20);
  const decoded = bytes === null ? null : decodeCrl(bytes);
  if (decoded === null || !decoded.ok) throw new GroupError('bad-answer', 'the group server sent a damaged revocation list');
  const target = options.revocations ?? new RevocationSet(anchor);
  const saved = state.crlBytes();
  const savedCrl = saved === null ? null : decodeCrl(saved);
  const savedSequence = savedCrl !== null && savedCrl.ok ? savedCrl.value.sequence : -1;
  if (decoded.value.sequence < savedSequence) return { sequence: savedSequence, updated: false };
  if (!target.applyCrl(decoded.value)) throw new GroupError('bad-answer', "the revocation list is not signed by the group's authority");
  for (const r of answer.revocations) {
    const recordBytes = fromBase64Url(r, 4096);
    const record = recordBytes === null ? null : decodeRevocationRecord(recordBytes);
    if (record !== null && record.ok) target.applyRecord(record.value);
  }
  const updated = decoded.value.sequence > savedSequence;
  if (updated) state.saveCrl(decoded.value.bytes);
  return { sequence: decoded.value.sequence, updated };
}

/**
 * Fetches this node's current certificate (it changes when an admin turns the gateway role on or
 * off) and saves it when it is valid, ours and newer. Returns the certificate in force.
 */
export async function refreshCertificate(stateDir: string, groupId: string, options: RequestOptions & { now?: number } = {}): Promise<Certificate> {
  const state = new GroupStateDir(stateDir, groupId);
  const join = state.joinRequest();
  if (join === null) throw new GroupError('not-joined', 'this computer has not joined that group yet');
  const status = await new GroupApiClient(state.invitation(), { timeoutMs: options.timeoutMs, signal: options.signal }).requestStatus(join.requestId);
  if (status.state === 'denied') throw new GroupError('removed', 'this computer is no longer a member of the group');
  const current = loadMembership(stateDir, groupId, options.now);
  if (status.certificate === undefined) return current.certificate;
  const bytes = fromBase64Url(status.certificate, 2048);
  if (bytes === null) throw new GroupError('bad-answer', 'the group server sent a damaged certificate');
  const checked = checkCertificateBytes(bytes, current.anchor, options.now ?? Date.now(), current.revocations);
  if (!checked.ok) throw new GroupError('bad-answer', `the group server sent a certificate that does not verify: ${checked.error.message}`);
  if (!bytesEqual(checked.value.publicKey, current.identity.publicKey)) throw new GroupError('bad-answer', 'the group server sent a certificate for another key');
  if (checked.value.serial > current.certificate.serial) state.saveCertificate(bytes);
  return checked.value.serial > current.certificate.serial ? checked.value : current.certificate;
}
