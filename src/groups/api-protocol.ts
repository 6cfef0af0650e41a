import { ADDRESS_BYTES, type Address, addressToBytes } from '../overlay/address.js';
import { PUBLIC_KEY_BYTES, sign, verify } from '../overlay/crypto.js';
import { RecordWriter, concatBytes, fromHex } from './binary.js';
import { GROUP_ID_BYTES, SIGNING_CONTEXT } from './records.js';

/**
 * The JSON API between a RingVPN client and the group server (paths under /api/v1). Binary values
 * travel as base64url, ids and addresses as lowercase hex. Every error is `{ error: "plain words" }`.
 *
 * GET  /groups/:group                           → GroupInfo
 * POST /groups/:group/join-requests             JoinRequestBody → JoinRequestCreated (201)
 * GET  /groups/:group/join-requests/:request    → RequestStatus
 * POST /groups/:group/certificate-requests      CertificateRequestBody → RequestStatus (200 signed, 202 waiting)
 * GET  /groups/:group/crl[?after=N&wait=S]      → CrlResponse (held up to S ≤ 25 s until the sequence is past N)
 * POST /groups/:group/reports                   MemberReportBody → ReportResponse
 */
export const API_PREFIX = '/api/v1';

/** How far a signed request's timestamp may be from the server's clock. */
export const REQUEST_CLOCK_TOLERANCE_MS = 5 * 60_000;
export const NONCE_BYTES = 16;
export const REQUEST_ID_BYTES = 16;
export const JOIN_SECRET_BYTES = 32;
export const MAX_REPORTED_ENDPOINTS = 8;
export const MAX_ENDPOINT_LENGTH = 64;

export interface GroupInfo {
  groupId: string;
  name: string;
  caPublicKey: string;
  terms: string;
}

export interface JoinRequestBody {
  inviteToken: string;
  name: string;
  email: string;
  acceptTerms: boolean;
}

export interface JoinRequestCreated {
  requestId: string;
  secret: string;
  /** The same two values as one string, for people who asked on the web page and paste it into the app. */
  joinCode: string;
  state: 'pending' | 'approved';
}

export type RequestState = 'pending' | 'approved' | 'denied';

export interface RequestStatus {
  state: RequestState;
  /** base64url of the encoded certificate, once approved and the node's key is known. */
  certificate?: string;
  /** True when the request is approved but the server still waits for the node's certificate request. */
  waitingForKey?: boolean;
}

export interface CertificateRequestBody {
  requestId: string;
  secret: string;
  publicKey: string;
  address: string;
  timestamp: number;
  nonce: string;
  signature: string;
}

export interface CrlResponse {
  crl: string;
  sequence: number;
  revocations: string[];
  /**
   * With `key` and `serial` in the query: the certificate in force of the member with that key,
   * when its serial is another (an admin changed the member's roles, or it was renewed).
   */
  certificate?: string;
}

export interface MemberReportBody {
  publicKey: string;
  endpoints: string[];
  timestamp: number;
  nonce: string;
  signature: string;
}

export interface BootstrapPeer {
  address: string;
  endpoints: string[];
  lastSeen: number;
}

export interface ReportResponse {
  peers: BootstrapPeer[];
  /**
   * base64url of the reporting member's certificate in force: a new one after an admin changed its
   * roles (gateway on or off), or renewed when the old one nears its end. Absent from older servers.
   */
  certificate?: string;
}

/** What a node signs with its own key to ask for a certificate: proves it holds the key. */
export function certificateRequestMessage(f: {
  groupId: Uint8Array;
  requestId: Uint8Array;
  publicKey: Uint8Array;
  address: Address;
  timestamp: number;
  nonce: Uint8Array;
}): Uint8Array {
  const body = new RecordWriter()
    .fixed(f.groupId, GROUP_ID_BYTES, 'group id')
    .fixed(f.requestId, REQUEST_ID_BYTES, 'request id')
    .fixed(f.publicKey, PUBLIC_KEY_BYTES, 'public key')
    .fixed(addressToBytes(f.address), ADDRESS_BYTES, 'address')
    .u64(f.timestamp, 'timestamp')
    .fixed(f.nonce, NONCE_BYTES, 'nonce')
    .finish();
  return concatBytes(SIGNING_CONTEXT.certificateRequest, body);
}

/** What a member signs to report its endpoints (and that it is alive). */
export function memberReportMessage(f: {
  groupId: Uint8Array;
  publicKey: Uint8Array;
  endpoints: readonly string[];
  timestamp: number;
  nonce: Uint8Array;
}): Uint8Array {
  const w = new RecordWriter()
    .fixed(f.groupId, GROUP_ID_BYTES, 'group id')
    .fixed(f.publicKey, PUBLIC_KEY_BYTES, 'public key')
    .u64(f.timestamp, 'timestamp')
    .fixed(f.nonce, NONCE_BYTES, 'nonce')
    .u8(f.endpoints.length, 'endpoint count');
  for (const e of f.endpoints) w.text(e, MAX_ENDPOINT_LENGTH, 'endpoint');
  return concatBytes(SIGNING_CONTEXT.memberReport, w.finish());
}

export function signWithNodeKey(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return sign(message, secretKey);
}

export function verifyNodeSignature(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  return verify(signature, message, publicKey);
}

const JOIN_CODE = /^rvj1\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$/;

export function formatJoinCode(requestId: string, secret: string): string {
  return `rvj1.${requestId}.${secret}`;
}

export function parseJoinCode(text: string): { requestId: string; secret: string } | null {
  const m = JOIN_CODE.exec(text.trim());
  return m === null ? null : { requestId: m[1] as string, secret: m[2] as string };
}

/** An endpoint as members report it: IPv4:port or [IPv6]:port. */
export function isEndpoint(text: string): boolean {
  if (text.length > MAX_ENDPOINT_LENGTH) return false;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/.exec(text);
  if (v4 !== null) {
    const nums = v4.slice(1).map(Number);
    return nums.slice(0, 4).every((n) => n <= 255) && (nums[4] as number) >= 1 && (nums[4] as number) <= 65535;
  }
  const v6 = /^\[([0-9a-fA-F:.]{2,45})\]:(\d{1,5})$/.exec(text);
  if (v6 !== null) {
    const port = Number(v6[2]);
    return (v6[1] as string).includes(':') && port >= 1 && port <= 65535;
  }
  return false;
}

export function groupIdFromHex(text: string): Uint8Array | null {
  return fromHex(text, GROUP_ID_BYTES);
}
