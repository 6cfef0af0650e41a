import type { Identity } from '../overlay/identity.js';
import { bytesEqual, fromBase64Url } from './binary.js';
import { type Certificate, type TrustAnchor, checkCertificateBytes, decodeCertificate } from './certificate.js';
import { type GroupAdmission, createGroupAdmission } from './admission.js';
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
  admission: GroupAdmission;
}

/** Loads a joined group from the state directory and checks our own certificate at `now`. */
export function loadMembership(stateDir: string, groupId: string, now: number = Date.now()): GroupMembership {
  const state = new GroupStateDir(stateDir, groupId);
  const bytes = state.certificateBytes();
  if (bytes === null) throw new GroupError('not-joined', 'this computer has not joined that group yet');
  const anchor = state.anchor();
  const identity = loadOrCreateNodeIdentity(stateDir);
  const revocations = loadRevocations(state, anchor);
  const checked = checkCertificateBytes(bytes, anchor, now, revocations);
  if (!checked.ok) {
    const why = checked.error.code === 'revoked' ? 'an admin removed this computer from the group, or changed its role' : checked.error.message;
    const next = checked.error.code === 'revoked' || checked.error.code === 'expired' ? ' (run "ringvpn join" with the invitation again: it fetches a current certificate, or asks to join again)' : '';
    throw new GroupError(`certificate-${checked.error.code}`, `this computer's membership is not valid: ${why}${next}`);
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
 * Takes a certificate the group server sent as this node's own when it verifies (this group, in
 * validity, not revoked, this node's key) and is newer than the one held: saves it, and a live
 * membership presents it from the next handshake on. Returns the certificate in force afterwards,
 * and whether it changed.
 */
export function adoptCertificate(
  stateDir: string,
  groupId: string,
  held: { certificate: Certificate; identity: Identity; anchor: TrustAnchor; revocations: RevocationSet },
  bytes: Uint8Array,
  now: number = Date.now(),
): { certificate: Certificate; changed: boolean } {
  const checked = checkCertificateBytes(bytes, held.anchor, now, held.revocations);
  if (!checked.ok) throw new GroupError('bad-answer', `the group server sent a certificate that does not verify: ${checked.error.message}`);
  if (!bytesEqual(checked.value.publicKey, held.identity.publicKey)) throw new GroupError('bad-answer', 'the group server sent a certificate for another key');
  if (checked.value.serial <= held.certificate.serial) return { certificate: held.certificate, changed: false };
  new GroupStateDir(stateDir, groupId).saveCertificate(checked.value.bytes);
  return { certificate: checked.value, changed: true };
}

/**
 * Fetches this node's current certificate (it changes when an admin turns the gateway role on or
 * off: turning it off revokes the one held) and saves it when it is valid, ours and newer. Works
 * also when the held certificate is revoked or expired. Returns the certificate in force; throws
 * GroupError 'removed' when the server no longer counts this computer as a member.
 */
export async function refreshCertificate(stateDir: string, groupId: string, options: RequestOptions & { now?: number } = {}): Promise<Certificate> {
  const state = new GroupStateDir(stateDir, groupId);
  const join = state.joinRequest();
  const bytes = state.certificateBytes();
  if (join === null || bytes === null) throw new GroupError('not-joined', 'this computer has not joined that group yet');
  const anchor = state.anchor();
  const decoded = decodeCertificate(bytes);
  if (!decoded.ok) throw new GroupError('state-corrupt', `the saved certificate of group ${groupId} is damaged`);
  const status = await new GroupApiClient(state.invitation(), { timeoutMs: options.timeoutMs, signal: options.signal }).requestStatus(join.requestId);
  if (status.state === 'denied') throw new GroupError('removed', 'this computer is no longer a member of the group');
  if (status.certificate === undefined) return decoded.value;
  const fresh = fromBase64Url(status.certificate, 2048);
  if (fresh === null) throw new GroupError('bad-answer', 'the group server sent a damaged certificate');
  const held = { certificate: decoded.value, identity: loadOrCreateNodeIdentity(stateDir), anchor, revocations: loadRevocations(state, anchor) };
  return adoptCertificate(stateDir, groupId, held, fresh, options.now).certificate;
}

/** The revocations saved in a group's state directory: the newest CRL and the records learned since. */
export function loadRevocations(state: GroupStateDir, anchor: TrustAnchor): RevocationSet {
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
  return revocations;
}
