import { addressFromHex, addressFromPublicKey, addressToHex } from '../overlay/address.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../overlay/crypto.js';
import type { Logger } from '../overlay/log.js';
import {
  type CrlResponse,
  JOIN_SECRET_BYTES,
  type JoinRequestCreated,
  MAX_REPORTED_ENDPOINTS,
  NONCE_BYTES,
  REQUEST_CLOCK_TOLERANCE_MS,
  type ReportResponse,
  type RequestStatus,
  certificateRequestMessage,
  formatJoinCode,
  isEndpoint,
  memberReportMessage,
  verifyNodeSignature,
} from '../groups/api-protocol.js';
import { fromBase64Url, fromHex, toBase64Url, toHex } from '../groups/binary.js';
import { type Role, decodeCertificate, normaliseRoles } from '../groups/certificate.js';
import { issueCertificate, issueCrl, issueRevocationRecord } from '../groups/group-ca.js';
import type { CaKeys } from './ca-keys.js';
import { randomToken, sameSecret, sha256Hex } from './group-service.js';
import { HttpError, badRequest, conflict, forbidden, notFound } from './http-error.js';
import { type Fields, HEX32, email as readEmail, flag, integer, memberName, pattern } from './input.js';
import type { Db } from './storage/database.js';
import type { GroupRow, GroupsStore } from './storage/groups-store.js';
import type { JoinRequestRow, MemberRow, MembersStore } from './storage/members-store.js';

/** Member certificates last a year; clients renew by asking again with the same join request. */
export const CERTIFICATE_VALIDITY_MS = 365 * 24 * 3600_000;
/** A member's certificate is renewed when it reports with less than this left (30 days). */
export const RENEW_BEFORE_MS = 30 * 24 * 3600_000;
/** Certificates start a little in the past so that a member whose clock runs behind can use one at once. */
export const CLOCK_SKEW_ALLOWANCE_MS = 5 * 60_000;
/** Bootstrap lists hold members seen in the last day, most recent first. */
const BOOTSTRAP_WINDOW_MS = 24 * 3600_000;
const BOOTSTRAP_LIST_MAX = 32;
/** A flood of join requests must not bury the admins' queue or grow the database without bound. */
export const MAX_PENDING_REQUESTS_PER_GROUP = 1000;

export interface JoinNotifier {
  newJoinRequest(group: GroupRow, request: { name: string; email: string }): void;
}

export interface MembershipDeps {
  db: Db;
  groups: GroupsStore;
  members: MembersStore;
  caKeys: CaKeys;
  now: () => number;
  log: Logger;
  notifier: JoinNotifier;
  /** Called when a group's CRL grows, or a member's certificate is replaced (long-polling clients are answered). */
  onCrlChanged?: (groupId: string) => void;
}

export function rolesOf(m: MemberRow): Role[] {
  return m.roles.split(',').filter((r): r is Role => r === 'member' || r === 'gateway' || r === 'admin');
}

/** Join requests, certificate issuing, bans and removals, the CRL and bootstrap reports. */
export class MembershipService {
  constructor(private readonly deps: MembershipDeps) {}

  requireGroup(groupId: string): GroupRow {
    const g = HEX32.test(groupId) ? this.deps.groups.group(groupId) : undefined;
    if (g === undefined) throw notFound('there is no such group on this server; check the invitation');
    return g;
  }

  /** The invite token must match; used by both the API and the web join page. */
  requireInvite(group: GroupRow, token: unknown): void {
    if (typeof token !== 'string' || !sameSecret(token, group.invite_token)) {
      throw forbidden('this invitation is not valid any more; ask an admin of the group for a new one');
    }
  }

  submitJoin(groupId: string, fields: Fields, source: 'app' | 'web'): JoinRequestCreated {
    const group = this.requireGroup(groupId);
    this.requireInvite(group, fields.inviteToken);
    const name = memberName(fields);
    const email = readEmail(fields);
    if (!flag(fields, 'acceptTerms')) throw badRequest("you must accept the group's terms to join");
    if (this.deps.members.isEmailBanned(groupId, email)) throw forbidden('this e-mail address is banned from the group');
    const requestId = toHex(new Uint8Array(Buffer.from(randomToken(16), 'base64url')));
    const secret = randomToken(JOIN_SECRET_BYTES);
    const state = group.auto_approve === 1 ? 'approved' : 'pending';
    if (state === 'pending' && this.deps.members.countPending(groupId) >= MAX_PENDING_REQUESTS_PER_GROUP) {
      throw new HttpError(503, 'this group has too many requests waiting for approval; try again later');
    }
    const t = this.deps.now();
    this.deps.members.insertRequest({ id: requestId, group_id: groupId, name, email, secret_hash: sha256Hex(secret), state, source, created_at: t });
    if (state === 'approved') this.deps.members.decideRequest(groupId, requestId, 'approved', t);
    this.deps.log.info('join request', { group: groupId.slice(0, 8), request: requestId.slice(0, 8), state });
    if (state === 'pending') this.deps.notifier.newJoinRequest(group, { name, email });
    return { requestId, secret, joinCode: formatJoinCode(requestId, secret), state };
  }

  countPending(groupId: string): number {
    return this.deps.members.countPending(groupId);
  }

  pendingRequests(groupId: string): JoinRequestRow[] {
    return this.deps.members.pendingRequests(groupId);
  }

  members(groupId: string): MemberRow[] {
    return this.deps.members.members(groupId);
  }

  /** The request as a page shows it: name and state only ("removed" once the membership it gave ended). */
  requestSummary(groupId: string, requestId: string): { name: string; state: string } {
    const req = HEX32.test(requestId) ? this.deps.members.request(groupId, requestId) : undefined;
    if (req === undefined) throw notFound('there is no such join request');
    const member = req.member_id === null ? undefined : this.deps.members.member(groupId, req.member_id);
    return { name: req.name, state: member !== undefined && member.status !== 'active' ? 'removed' : req.state };
  }

  requestStatus(groupId: string, requestId: string): RequestStatus {
    this.requireGroup(groupId);
    const req = HEX32.test(requestId) ? this.deps.members.request(groupId, requestId) : undefined;
    if (req === undefined) throw notFound('there is no such join request');
    return this.statusOf(req);
  }

  private statusOf(req: JoinRequestRow): RequestStatus {
    if (req.state !== 'approved') return { state: req.state };
    if (req.member_id === null) return { state: 'approved', waitingForKey: true };
    const member = this.deps.members.member(req.group_id, req.member_id);
    if (member === undefined || member.status !== 'active') return { state: 'denied' };
    return { state: 'approved', certificate: toBase64Url(member.certificate) };
  }

  /** A node asks for its certificate: proves it holds the key (signature) and the join secret. */
  certificateRequest(groupId: string, fields: Fields): { statusCode: 200 | 202; body: RequestStatus } {
    const group = this.requireGroup(groupId);
    const requestId = pattern(fields, 'requestId', 'the request id', HEX32);
    const secret = pattern(fields, 'secret', 'the one-time secret', /^[A-Za-z0-9_-]{43}$/);
    const publicKey = fromBase64Url(pattern(fields, 'publicKey', 'the public key', /^[A-Za-z0-9_-]{43}$/), PUBLIC_KEY_BYTES);
    const address = addressFromHex(pattern(fields, 'address', 'the address', /^[0-9a-f]{40}$/));
    const timestamp = integer(fields, 'timestamp', 'the timestamp');
    const nonce = fromHex(pattern(fields, 'nonce', 'the nonce', HEX32), NONCE_BYTES);
    const signature = fromBase64Url(pattern(fields, 'signature', 'the signature', /^[A-Za-z0-9_-]{86}$/), SIGNATURE_BYTES);
    if (publicKey === null || publicKey.length !== PUBLIC_KEY_BYTES || address === null || nonce === null || signature === null) {
      throw badRequest('the certificate request is malformed');
    }
    const req = this.deps.members.request(groupId, requestId);
    if (req === undefined) throw notFound('there is no such join request');
    const t = this.deps.now();
    if (Math.abs(t - timestamp) > REQUEST_CLOCK_TOLERANCE_MS) {
      throw badRequest("the request's time is more than 5 minutes away from the server's; check this computer's clock");
    }
    if (addressFromPublicKey(publicKey) !== address) throw badRequest('the address does not belong to the public key');
    const message = certificateRequestMessage({ groupId: Buffer.from(groupId, 'hex'), requestId: Buffer.from(requestId, 'hex'), publicKey, address, timestamp, nonce });
    if (!verifyNodeSignature(signature, message, publicKey)) throw forbidden('the request is not signed by the key it names');
    if (!this.deps.groups.useNonce(groupId, toHex(nonce), t, t + 2 * REQUEST_CLOCK_TOLERANCE_MS)) {
      throw conflict('this exact request was already received (a replay); send a new one');
    }
    if (!sameSecret(sha256Hex(secret), req.secret_hash)) throw forbidden('the one-time secret is wrong');
    if (req.public_key !== null && !Buffer.from(publicKey).equals(req.public_key)) {
      throw conflict('this one-time secret was already used by another device; ask to join again');
    }
    if (req.state === 'denied') throw forbidden('your request to join was denied by an admin of the group');
    if (this.deps.members.isKeyRevoked(groupId, publicKey)) throw forbidden('this device is banned from the group');
    const existing = this.deps.members.activeMemberByKey(groupId, publicKey);
    if (existing !== undefined && existing.request_id !== requestId) throw conflict('this device is already a member of the group');
    this.deps.db.transaction(() => {
      this.deps.members.bindKey(groupId, requestId, publicKey);
      const fresh = this.deps.members.request(groupId, requestId) as JoinRequestRow;
      if (fresh.state === 'approved' && fresh.member_id === null) this.issueFor(group, fresh);
    })();
    const after = this.deps.members.request(groupId, requestId) as JoinRequestRow;
    if (after.member_id !== null) this.deps.members.reportSeen(groupId, after.member_id, t, null);
    const status = this.statusOf(after);
    return { statusCode: status.certificate !== undefined ? 200 : 202, body: status };
  }

  private issueFor(group: GroupRow, req: JoinRequestRow): void {
    if (req.public_key === null) return;
    const publicKey = new Uint8Array(req.public_key);
    const serial = this.deps.groups.takeSerial(group.id);
    const t = this.deps.now();
    const roles: Role[] = ['member'];
    const cert = issueCertificate(this.deps.caKeys.load(group.id), {
      serial,
      name: req.name,
      publicKey,
      address: addressFromPublicKey(publicKey),
      virtualIp: null,
      roles,
      notBefore: t - CLOCK_SKEW_ALLOWANCE_MS,
      notAfter: t + CERTIFICATE_VALIDITY_MS,
    });
    const memberId = this.deps.members.insertMember({
      group_id: group.id,
      request_id: req.id,
      name: req.name,
      email: req.email,
      public_key: Buffer.from(publicKey),
      roles: roles.join(','),
      status: 'active',
      serial,
      certificate: Buffer.from(cert.bytes),
      created_at: t,
    });
    this.deps.members.recordCertificate(group.id, serial, memberId, t);
    this.deps.members.linkMember(group.id, req.id, memberId);
    this.deps.log.info('certificate issued', { group: group.id.slice(0, 8), serial });
  }

  decide(groupId: string, requestId: string, approve: boolean): void {
    const group = this.requireGroup(groupId);
    if (!HEX32.test(requestId) || this.deps.members.request(groupId, requestId) === undefined) throw notFound('there is no such join request');
    this.deps.db.transaction(() => {
      if (!this.deps.members.decideRequest(groupId, requestId, approve ? 'approved' : 'denied', this.deps.now())) {
        throw conflict('this request was already decided');
      }
      const req = this.deps.members.request(groupId, requestId) as JoinRequestRow;
      // The same device asked twice (on the web page and in the app) and one request made it a member already.
      if (approve && req.public_key !== null && this.deps.members.activeMemberByKey(groupId, new Uint8Array(req.public_key)) !== undefined) {
        throw conflict('the device of this request is already a member of the group through another request; deny this one');
      }
      if (approve) this.issueFor(group, req);
    })();
  }

  private requireMember(groupId: string, memberId: number): MemberRow {
    const m = this.deps.members.member(groupId, memberId);
    if (m === undefined) throw notFound('there is no such member');
    return m;
  }

  /** Ban: revoke the certificate and the device key, and refuse new requests from the e-mail address. */
  ban(groupId: string, memberId: number): void {
    const m = this.requireMember(groupId, memberId);
    this.deps.db.transaction(() => {
      this.revokeAllCertificates(groupId, m);
      if (!this.deps.members.isKeyRevoked(groupId, m.public_key)) this.revoke(groupId, { publicKey: new Uint8Array(m.public_key) });
      this.deps.members.banEmail(groupId, m.email);
      this.deps.members.setStatus(groupId, memberId, 'banned');
    })();
  }

  /** Remove: revoke the certificate; the person may ask to join again. */
  remove(groupId: string, memberId: number): void {
    const m = this.requireMember(groupId, memberId);
    if (m.status !== 'active') throw conflict('this member is not active');
    this.deps.db.transaction(() => {
      this.revokeAllCertificates(groupId, m);
      this.deps.members.setStatus(groupId, memberId, 'removed');
    })();
  }

  /** Revokes, by serial, every certificate the member was given that is not revoked yet (the newest included). */
  private revokeAllCertificates(groupId: string, m: MemberRow): void {
    const serials = new Set(this.deps.members.unrevokedSerials(groupId, m.id));
    if (!this.deps.members.isSerialRevoked(groupId, m.serial)) serials.add(m.serial);
    for (const serial of serials) this.revoke(groupId, { serial });
  }

  /** Gateway on or off means a new certificate; taking the role away also revokes the old one. */
  setGateway(groupId: string, memberId: number, on: boolean): void {
    const group = this.requireGroup(groupId);
    const m = this.requireMember(groupId, memberId);
    if (m.status !== 'active') throw conflict('this member is not active');
    const roles: Role[] = rolesOf(m).filter((r) => r !== 'gateway');
    if (on) roles.push('gateway');
    const normalised = normaliseRoles(roles);
    if (normalised.join(',') === m.roles) return;
    const t = this.deps.now();
    this.deps.db.transaction(() => {
      const serial = this.deps.groups.takeSerial(group.id);
      const publicKey = new Uint8Array(m.public_key);
      const cert = issueCertificate(this.deps.caKeys.load(group.id), {
        serial,
        name: m.name,
        publicKey,
        address: addressFromPublicKey(publicKey),
        virtualIp: null,
        roles: normalised,
        notBefore: t - CLOCK_SKEW_ALLOWANCE_MS,
        notAfter: t + CERTIFICATE_VALIDITY_MS,
      });
      if (!on) this.revoke(groupId, { serial: m.serial });
      this.deps.members.replaceCertificate(groupId, memberId, normalised.join(','), serial, cert.bytes);
      this.deps.members.recordCertificate(groupId, serial, memberId, t);
    })();
    // The member's node, long polling with its key, fetches the new certificate at once.
    this.deps.onCrlChanged?.(groupId);
  }

  private revoke(groupId: string, target: { serial: number } | { publicKey: Uint8Array }): void {
    const t = this.deps.now();
    const record = issueRevocationRecord(this.deps.caKeys.load(groupId), {
      target: 'serial' in target ? { kind: 'serial', serial: target.serial } : { kind: 'key', publicKey: target.publicKey },
      revokedAt: t,
    });
    this.deps.members.insertRevocation(groupId, target, t, record.bytes);
    this.deps.groups.bumpCrl(groupId, t);
    // Waiters answer asynchronously, after the surrounding transaction has committed.
    this.deps.onCrlChanged?.(groupId);
  }

  /** The certificate in force (base64url) of the active member with this key, when its serial is not `serial`. */
  certificateIfChanged(groupId: string, publicKey: Uint8Array, serial: number): string | null {
    const member = this.deps.members.activeMemberByKey(groupId, publicKey);
    return member === undefined || member.serial === serial ? null : toBase64Url(member.certificate);
  }

  private crlCache = new Map<string, { sequence: number; response: CrlResponse }>();

  crl(groupId: string): CrlResponse {
    const group = this.requireGroup(groupId);
    const cached = this.crlCache.get(groupId);
    if (cached !== undefined && cached.sequence === group.crl_sequence) return cached.response;
    const rows = this.deps.members.revocations(groupId);
    const crl = issueCrl(this.deps.caKeys.load(groupId), {
      sequence: group.crl_sequence,
      issuedAt: group.crl_updated_at,
      serials: rows.flatMap((r) => (r.serial === null ? [] : [r.serial])),
      publicKeys: rows.flatMap((r) => (r.public_key === null ? [] : [new Uint8Array(r.public_key)])),
    });
    const response: CrlResponse = { crl: toBase64Url(crl.bytes), sequence: crl.sequence, revocations: rows.map((r) => toBase64Url(r.record)) };
    this.crlCache.set(groupId, { sequence: group.crl_sequence, response });
    return response;
  }

  /** A member reports its endpoints (and so that it is alive) and gets other members' endpoints back. */
  report(groupId: string, fields: Fields): ReportResponse {
    this.requireGroup(groupId);
    const publicKey = fromBase64Url(pattern(fields, 'publicKey', 'the public key', /^[A-Za-z0-9_-]{43}$/), PUBLIC_KEY_BYTES);
    const timestamp = integer(fields, 'timestamp', 'the timestamp');
    const nonce = fromHex(pattern(fields, 'nonce', 'the nonce', HEX32), NONCE_BYTES);
    const signature = fromBase64Url(pattern(fields, 'signature', 'the signature', /^[A-Za-z0-9_-]{86}$/), SIGNATURE_BYTES);
    const raw = fields.endpoints;
    if (!Array.isArray(raw) || raw.length > MAX_REPORTED_ENDPOINTS || !raw.every((e) => typeof e === 'string' && isEndpoint(e))) {
      throw badRequest(`endpoints must be a list of at most ${MAX_REPORTED_ENDPOINTS} entries like 192.0.2.7:4500 or [2001:db8::1]:4500`);
    }
    const endpoints = raw as string[];
    if (publicKey === null || publicKey.length !== PUBLIC_KEY_BYTES || nonce === null || signature === null) throw badRequest('the report is malformed');
    const t = this.deps.now();
    if (Math.abs(t - timestamp) > REQUEST_CLOCK_TOLERANCE_MS) {
      throw badRequest("the report's time is more than 5 minutes away from the server's; check this computer's clock");
    }
    const member = this.deps.members.activeMemberByKey(groupId, publicKey);
    if (member === undefined) throw forbidden('this device is not a member of the group');
    const message = memberReportMessage({ groupId: Buffer.from(groupId, 'hex'), publicKey, endpoints, timestamp, nonce });
    if (!verifyNodeSignature(signature, message, publicKey)) throw forbidden('the report is not signed by the key it names');
    if (!this.deps.groups.useNonce(groupId, toHex(nonce), t, t + 2 * REQUEST_CLOCK_TOLERANCE_MS)) {
      throw conflict('this exact report was already received (a replay); send a new one');
    }
    this.deps.members.reportSeen(groupId, member.id, t, JSON.stringify(endpoints));
    const certificate = this.renewIfEnding(groupId, member, t);
    const peers = this.deps.members
      .recentlySeen(groupId, t - BOOTSTRAP_WINDOW_MS, BOOTSTRAP_LIST_MAX + 1)
      .filter((m) => m.id !== member.id)
      .map((m) => ({
        address: addressToHex(addressFromPublicKey(new Uint8Array(m.public_key))),
        endpoints: parseEndpoints(m.endpoints),
        lastSeen: m.last_seen ?? 0,
      }))
      .filter((p) => p.endpoints.length > 0)
      .slice(0, BOOTSTRAP_LIST_MAX);
    return { peers, certificate: toBase64Url(certificate) };
  }

  /**
   * The member's certificate in force; a fresh one (same name, key and roles, new serial) when the
   * stored one ends within {@link RENEW_BEFORE_MS}. The old one is not revoked: it simply ends.
   */
  private renewIfEnding(groupId: string, member: MemberRow, t: number): Uint8Array {
    const current = decodeCertificate(new Uint8Array(member.certificate));
    if (current.ok && current.value.notAfter - t > RENEW_BEFORE_MS) return new Uint8Array(member.certificate);
    const group = this.requireGroup(groupId);
    const publicKey = new Uint8Array(member.public_key);
    const roles = rolesOf(member);
    return this.deps.db.transaction(() => {
      const serial = this.deps.groups.takeSerial(group.id);
      const cert = issueCertificate(this.deps.caKeys.load(group.id), {
        serial,
        name: member.name,
        publicKey,
        address: addressFromPublicKey(publicKey),
        virtualIp: current.ok ? current.value.virtualIp : null,
        roles,
        notBefore: t - CLOCK_SKEW_ALLOWANCE_MS,
        notAfter: t + CERTIFICATE_VALIDITY_MS,
      });
      this.deps.members.replaceCertificate(groupId, member.id, roles.join(','), serial, cert.bytes);
      this.deps.members.recordCertificate(groupId, serial, member.id, t);
      this.deps.log.info('certificate renewed', { group: group.id.slice(0, 8), serial });
      return cert.bytes;
    })();
  }
}

function parseEndpoints(json: string): string[] {
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((e): e is string => typeof e === 'string') : [];
  } catch {
    return [];
  }
}
