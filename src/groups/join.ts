import { setTimeout as sleep } from 'node:timers/promises';
import { cryptoReady } from '../overlay/crypto.js';
import { parseJoinCode } from './api-protocol.js';
import { bytesEqual, fromBase64Url } from './binary.js';
import { type Certificate, type TrustAnchor, checkCertificateBytes, decodeCertificate } from './certificate.js';
import { GroupError } from './errors.js';
import { GroupApiClient } from './group-api-client.js';
import { GroupStateDir, loadOrCreateNodeIdentity } from './group-state.js';
import { type Invitation, formatInvitationLink, parseInvitation } from './invitation.js';
import { memberNameProblem } from './member-name.js';
import { loadRevocations, refreshCertificate, refreshCrl } from './membership.js';

export type JoinProgress =
  | { kind: 'contacting-server'; serverUrl: string }
  | { kind: 'group-found'; groupName: string }
  | { kind: 'request-sent'; requestId: string }
  | { kind: 'resuming'; requestId: string }
  | { kind: 'waiting-for-approval' }
  | { kind: 'approved' }
  | { kind: 'certificate-saved'; serial: number }
  | { kind: 'revocations-updated'; sequence: number }
  /** The certificate held was revoked (an admin removed this computer): a new request follows. */
  | { kind: 'membership-ended' };

export interface JoinOptions {
  /** A ringvpn://join?... link, the contents of an invitation file, or a parsed invitation. */
  invitation: string | Invitation;
  name: string;
  email: string;
  stateDir: string;
  /** The code shown by the web join page, when the person asked there before having the app. */
  joinCode?: string;
  onProgress?: (event: JoinProgress) => void;
  signal?: AbortSignal;
  /** How often to ask whether an admin decided (default 3 s). */
  pollIntervalMs?: number;
  /** Give up waiting for approval after this long (default: wait until cancelled). */
  approvalTimeoutMs?: number;
  /** Per-request timeout (default 15 s). */
  requestTimeoutMs?: number;
}

export interface JoinResult {
  groupId: string;
  groupName: string;
  certificate: Certificate;
}

const DEFAULT_POLL_MS = 3_000;

/**
 * The whole join flow of a client: talk to the pinned server, ask to join (or resume a request
 * made earlier, or use a join code from the web page), prove possession of this node's key, wait
 * for an admin, then verify and save the certificate and the group's revocation list. The private
 * key never leaves the state directory. Errors are GroupErrors with plain-word messages.
 */
export async function joinGroup(o: JoinOptions): Promise<JoinResult> {
  await cryptoReady();
  const progress = o.onProgress ?? (() => {});
  const invitation = typeof o.invitation === 'string' ? parseOrThrow(o.invitation) : o.invitation;
  const nameProblem = memberNameProblem(o.name.trim());
  if (o.joinCode === undefined && nameProblem !== null) throw new GroupError('bad-name', `Please choose another name: ${nameProblem}.`);
  const requestOptions = { signal: o.signal, timeoutMs: o.requestTimeoutMs };
  const client = new GroupApiClient(invitation, requestOptions);

  progress({ kind: 'contacting-server', serverUrl: invitation.serverUrl });
  const info = await client.groupInfo();
  const caPublicKey = fromBase64Url(info.caPublicKey, 32);
  if (caPublicKey === null || caPublicKey.length !== 32) throw new GroupError('bad-answer', "the group server sent a damaged group key");
  if (invitation.caPublicKey !== null && invitation.caPublicKey !== info.caPublicKey) {
    throw new GroupError('server-not-trusted', "the group server's key for this group does not match the invitation; ask an admin for a new invitation");
  }
  progress({ kind: 'group-found', groupName: info.name });
  const anchor: TrustAnchor = { groupId: new Uint8Array(Buffer.from(invitation.groupId, 'hex')), caPublicKey };

  const state = new GroupStateDir(o.stateDir, invitation.groupId);
  state.ensure();
  state.saveInvitation(formatInvitationLink(invitation));
  state.saveGroup({ groupId: invitation.groupId, name: info.name, caPublicKey: info.caPublicKey });
  const identity = loadOrCreateNodeIdentity(o.stateDir);

  // Already a member (joining twice, or a retry after the certificate was saved): nothing to ask,
  // but the certificate held may have been replaced (an admin changed the roles, or it was
  // renewed) or revoked (removed: then this asks to join again).
  const existing = state.certificateBytes();
  if (existing !== null && o.joinCode === undefined) {
    const held = decodeCertificate(existing);
    if (held.ok && bytesEqual(held.value.publicKey, identity.publicKey)) {
      const crl = await refreshCrl(o.stateDir, invitation.groupId, requestOptions);
      progress({ kind: 'revocations-updated', sequence: crl.sequence });
      // The one held, unless the server has a newer one or says the membership ended; a damaged
      // answer keeps the one held (it is checked below like any other).
      let current: Certificate | null = held.value;
      try {
        current = await refreshCertificate(o.stateDir, invitation.groupId, requestOptions);
      } catch (e) {
        if (e instanceof GroupError && e.code === 'removed') current = null;
        else if (!(e instanceof GroupError) || (e.code !== 'bad-answer' && e.code !== 'not-joined')) throw e;
      }
      const inForce = current === null ? null : checkCertificateBytes(current.bytes, anchor, Date.now(), loadRevocations(state, anchor));
      if (inForce !== null && inForce.ok) {
        if (current !== null && current.serial !== held.value.serial) progress({ kind: 'certificate-saved', serial: current.serial });
        return { groupId: invitation.groupId, groupName: info.name, certificate: inForce.value };
      }
      state.forgetMembership();
      progress({ kind: 'membership-ended' });
    }
  }

  let request = state.joinRequest();
  if (o.joinCode !== undefined) {
    const code = parseJoinCode(o.joinCode);
    if (code === null) throw new GroupError('bad-join-code', 'the join code is not right: copy it again from the web page (it starts with rvj1.)');
    request = code;
    state.saveJoinRequest(request);
  }
  if (request?.secret !== undefined) {
    progress({ kind: 'resuming', requestId: request.requestId });
  } else {
    const created = await client.submitJoin(o.name.trim(), o.email.trim());
    request = { requestId: created.requestId, secret: created.secret };
    state.saveJoinRequest(request);
    progress({ kind: 'request-sent', requestId: created.requestId });
  }
  const { requestId, secret } = request as { requestId: string; secret: string };

  let status = await client.requestCertificate(requestId, secret, identity).catch((e: unknown) => {
    if (e instanceof GroupError && e.code === 'refused' && /denied/.test(e.message)) {
      state.forgetJoinRequest();
      throw new GroupError('denied', 'an admin of the group declined your request to join');
    }
    throw e;
  });
  const deadline = o.approvalTimeoutMs !== undefined ? Date.now() + o.approvalTimeoutMs : Infinity;
  let toldWaiting = false;
  while (status.certificate === undefined) {
    if (status.state === 'denied') {
      state.forgetJoinRequest();
      throw new GroupError('denied', 'an admin of the group declined your request to join');
    }
    if (status.state === 'pending' && !toldWaiting) {
      progress({ kind: 'waiting-for-approval' });
      toldWaiting = true;
    }
    if (Date.now() >= deadline) throw new GroupError('timeout', 'no admin has approved the request yet; try again later and it will pick up where it stopped');
    try {
      await sleep(o.pollIntervalMs ?? DEFAULT_POLL_MS, undefined, { signal: o.signal });
    } catch {
      throw new GroupError('cancelled', 'joining was cancelled; it can be resumed later');
    }
    status = await client.requestStatus(requestId);
    if (status.waitingForKey === true) status = await client.requestCertificate(requestId, secret, identity);
  }
  progress({ kind: 'approved' });

  const bytes = fromBase64Url(status.certificate, 2048);
  if (bytes === null) throw new GroupError('bad-answer', 'the group server sent a damaged certificate');
  const checked = checkCertificateBytes(bytes, anchor, Date.now());
  if (!checked.ok) throw new GroupError('bad-answer', `the group server sent a certificate that does not verify: ${checked.error.message}`);
  if (!bytesEqual(checked.value.publicKey, identity.publicKey)) throw new GroupError('bad-answer', 'the group server sent a certificate for another key');
  state.saveCertificate(bytes);
  state.saveJoinRequest({ requestId });
  progress({ kind: 'certificate-saved', serial: checked.value.serial });

  const crl = await refreshCrl(o.stateDir, invitation.groupId, requestOptions);
  progress({ kind: 'revocations-updated', sequence: crl.sequence });
  return { groupId: invitation.groupId, groupName: info.name, certificate: checked.value };
}

function parseOrThrow(text: string): Invitation {
  const parsed = parseInvitation(text);
  if (!parsed.ok) throw new GroupError('bad-invitation', `The invitation cannot be used: ${parsed.error}.`);
  return parsed.value;
}
