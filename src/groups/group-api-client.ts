import { randomBytes } from 'node:crypto';
import type { Identity } from '../overlay/identity.js';
import { addressToHex } from '../overlay/address.js';
import {
  API_PREFIX,
  type BootstrapPeer,
  type CrlResponse,
  type GroupInfo,
  type JoinRequestCreated,
  NONCE_BYTES,
  type RequestStatus,
  certificateRequestMessage,
  memberReportMessage,
  signWithNodeKey,
} from './api-protocol.js';
import { toBase64Url, toHex } from './binary.js';
import { GroupError } from './errors.js';
import type { Invitation } from './invitation.js';
import { type RequestOptions, requestJson } from './pinned-http.js';

/** The client's side of the group server's JSON API; every call goes through the pinned connection. */
export class GroupApiClient {
  constructor(
    private readonly invitation: Invitation,
    private readonly options: RequestOptions & { now?: () => number } = {},
  ) {}

  private get groupPath(): string {
    return `${API_PREFIX}/groups/${this.invitation.groupId}`;
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown, okStatuses: number[] = [200]): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await requestJson(this.invitation, method, path, body, this.options);
    const obj = res.body !== null && typeof res.body === 'object' ? (res.body as Record<string, unknown>) : {};
    if (!okStatuses.includes(res.status)) {
      const message = typeof obj.error === 'string' ? obj.error.slice(0, 500) : `the group server answered with status ${res.status}`;
      throw new GroupError(res.status === 429 ? 'rate-limited' : res.status >= 500 ? 'server-error' : 'refused', message);
    }
    return { status: res.status, body: obj };
  }

  async groupInfo(): Promise<GroupInfo> {
    const { body } = await this.call('GET', this.groupPath);
    if (typeof body.name !== 'string' || typeof body.caPublicKey !== 'string' || typeof body.terms !== 'string') {
      throw new GroupError('bad-answer', 'the group server sent an incomplete description of the group');
    }
    return { groupId: this.invitation.groupId, name: body.name, caPublicKey: body.caPublicKey, terms: body.terms };
  }

  async submitJoin(name: string, email: string): Promise<JoinRequestCreated> {
    const { body } = await this.call(
      'POST',
      `${this.groupPath}/join-requests`,
      { inviteToken: this.invitation.token, name, email, acceptTerms: true },
      [201],
    );
    if (typeof body.requestId !== 'string' || typeof body.secret !== 'string') {
      throw new GroupError('bad-answer', 'the group server did not send a request id');
    }
    return body as unknown as JoinRequestCreated;
  }

  async requestStatus(requestId: string): Promise<RequestStatus> {
    const { body } = await this.call('GET', `${this.groupPath}/join-requests/${requestId}`);
    return readStatus(body);
  }

  /** Asks for a certificate for `identity`, signed with its key; answers at once with the certificate when approved. */
  async requestCertificate(requestId: string, secret: string, identity: Identity): Promise<RequestStatus> {
    const timestamp = (this.options.now ?? Date.now)();
    const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
    const message = certificateRequestMessage({
      groupId: Buffer.from(this.invitation.groupId, 'hex'),
      requestId: Buffer.from(requestId, 'hex'),
      publicKey: identity.publicKey,
      address: identity.address,
      timestamp,
      nonce,
    });
    const { body } = await this.call(
      'POST',
      `${this.groupPath}/certificate-requests`,
      {
        requestId,
        secret,
        publicKey: toBase64Url(identity.publicKey),
        address: addressToHex(identity.address),
        timestamp,
        nonce: toHex(nonce),
        signature: toBase64Url(signWithNodeKey(message, identity.secretKey)),
      },
      [200, 202],
    );
    return readStatus(body);
  }

  /**
   * The group's CRL. With `after`, a server holds the answer up to `waitSeconds` until its CRL is
   * newer than that sequence (long polling); give this client a timeout longer than the wait.
   */
  async crl(longPoll?: { after: number; waitSeconds: number; self?: { publicKey: Uint8Array; serial: number } }): Promise<CrlResponse> {
    const self = longPoll?.self === undefined ? '' : `&key=${toBase64Url(longPoll.self.publicKey)}&serial=${longPoll.self.serial}`;
    const query = longPoll === undefined ? '' : `?after=${Math.max(0, Math.floor(longPoll.after))}&wait=${Math.floor(longPoll.waitSeconds)}${self}`;
    const { body } = await this.call('GET', `${this.groupPath}/crl${query}`);
    if (typeof body.crl !== 'string' || typeof body.sequence !== 'number' || !Array.isArray(body.revocations)) {
      throw new GroupError('bad-answer', 'the group server sent a damaged revocation list');
    }
    const answer: CrlResponse = { crl: body.crl, sequence: body.sequence, revocations: body.revocations.filter((r): r is string => typeof r === 'string') };
    if (typeof body.certificate === 'string') answer.certificate = body.certificate;
    return answer;
  }

  /** Reports this member's endpoints (and that it is alive); returns other members' endpoints for bootstrapping. */
  async report(identity: Identity, endpoints: string[]): Promise<BootstrapPeer[]> {
    return (await this.checkIn(identity, endpoints)).peers;
  }

  /** {@link report}, with the member's certificate in force (changed by an admin, or renewed) when the server sends it. */
  async checkIn(identity: Identity, endpoints: string[]): Promise<{ peers: BootstrapPeer[]; certificate: string | null }> {
    const timestamp = (this.options.now ?? Date.now)();
    const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
    const message = memberReportMessage({ groupId: Buffer.from(this.invitation.groupId, 'hex'), publicKey: identity.publicKey, endpoints, timestamp, nonce });
    const { body } = await this.call('POST', `${this.groupPath}/reports`, {
      publicKey: toBase64Url(identity.publicKey),
      endpoints,
      timestamp,
      nonce: toHex(nonce),
      signature: toBase64Url(signWithNodeKey(message, identity.secretKey)),
    });
    if (!Array.isArray(body.peers)) throw new GroupError('bad-answer', 'the group server sent a damaged member list');
    const peers = body.peers.filter(
      (p): p is BootstrapPeer =>
        p !== null && typeof p === 'object' && typeof p.address === 'string' && Array.isArray(p.endpoints) && typeof p.lastSeen === 'number',
    );
    return { peers, certificate: typeof body.certificate === 'string' ? body.certificate : null };
  }
}

function readStatus(body: Record<string, unknown>): RequestStatus {
  const state = body.state;
  if (state !== 'pending' && state !== 'approved' && state !== 'denied') {
    throw new GroupError('bad-answer', 'the group server sent an unknown request state');
  }
  const status: RequestStatus = { state };
  if (typeof body.certificate === 'string') status.certificate = body.certificate;
  if (body.waitingForKey === true) status.waitingForKey = true;
  return status;
}
