import { ADDRESS_BYTES, type Address, addressFromBytes, addressFromPublicKey, addressToBytes } from '../overlay/address.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, sign, verify } from '../overlay/crypto.js';
import { type Result, err, ok } from '../overlay/result.js';
import { type DecodeError, RecordReader, RecordWriter, bytesEqual, copyBytes, concatBytes } from './binary.js';
import { MAX_MEMBER_NAME_BYTES, memberNameProblem } from './member-name.js';
import { GROUP_ID_BYTES, RECORD_VERSION, RecordKind, SIGNING_CONTEXT } from './records.js';

/**
 * A member certificate: the group CA's signed statement that a node key belongs to a named member.
 *
 * ```
 *  0       1       2                 18              26      27
 * +-------+-------+-----------------+---------------+-------+-----------------+
 * | ver=1 | kind=1| group id (16)   | serial u64    | nlen  | name (UTF-8)    |
 * +-------+-------+-----------------+---------------+-------+-----------------+
 * | node Ed25519 public key (32) | overlay address (20) | flags | [IPv4 (4)] |
 * +------------------------------+----------------------+-------+------------+
 * | roles | notBefore u64 ms | notAfter u64 ms | CA signature (64)           |
 * +-------+------------------+-----------------+-----------------------------+
 * ```
 * flags bit 0: a fixed virtual IPv4 follows. roles: bit 0 member (always set), bit 1 gateway,
 * bit 2 admin. Unknown bits are refused, so every certificate has exactly one encoding, and the
 * signature covers SIGNING_CONTEXT.certificate followed by every byte before it.
 */

export type Role = 'member' | 'gateway' | 'admin';
const ROLE_BITS: Record<Role, number> = { member: 1, gateway: 2, admin: 4 };
const ROLE_ORDER: readonly Role[] = ['member', 'gateway', 'admin'];
const KNOWN_ROLE_BITS = 7;
const FLAG_FIXED_IP = 1;

export interface CertificateFields {
  groupId: Uint8Array;
  serial: number;
  name: string;
  publicKey: Uint8Array;
  address: Address;
  /** A fixed virtual IPv4 in dotted form, or null when the member claims one from the DHT. */
  virtualIp: string | null;
  roles: readonly Role[];
  /** Milliseconds since the Unix epoch. */
  notBefore: number;
  notAfter: number;
}

export interface Certificate extends CertificateFields {
  signature: Uint8Array;
  /** The exact bytes the signature covers (without the context string). */
  signedBytes: Uint8Array;
  /** The whole encoded certificate: what a node presents in its handshake. */
  bytes: Uint8Array;
}

export const MIN_CERTIFICATE_BYTES = 2 + GROUP_ID_BYTES + 8 + 2 + PUBLIC_KEY_BYTES + ADDRESS_BYTES + 1 + 1 + 16 + SIGNATURE_BYTES;
export const MAX_CERTIFICATE_BYTES = MIN_CERTIFICATE_BYTES - 1 + MAX_MEMBER_NAME_BYTES + 4;

export function hasRole(cert: { roles: readonly Role[] }, role: Role): boolean {
  return cert.roles.includes(role);
}

/** Roles in their canonical order, with 'member' always present. */
export function normaliseRoles(roles: readonly Role[]): Role[] {
  const set = new Set<Role>(roles);
  set.add('member');
  return ROLE_ORDER.filter((r) => set.has(r));
}

export function ipv4ToBytes(ip: string): Uint8Array | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (m === null) return null;
  const parts = m.slice(1).map((p) => (p.length > 1 && p.startsWith('0') ? NaN : Number(p)));
  if (parts.some((p) => !Number.isInteger(p) || p > 255)) return null;
  return Uint8Array.from(parts);
}

function ipv4FromBytes(bytes: Uint8Array): string {
  return Array.from(bytes).join('.');
}

/** The bytes the CA signs; throws on fields no certificate may carry (a bug in the caller). */
export function encodeCertificateBody(fields: CertificateFields): Uint8Array {
  const nameProblem = memberNameProblem(fields.name);
  if (nameProblem !== null) throw new RangeError(nameProblem);
  if (fields.notAfter <= fields.notBefore) throw new RangeError('notAfter must be later than notBefore');
  const w = new RecordWriter()
    .u8(RECORD_VERSION, 'version')
    .u8(RecordKind.CERTIFICATE, 'kind')
    .fixed(fields.groupId, GROUP_ID_BYTES, 'group id')
    .u64(fields.serial, 'serial')
    .text(fields.name, MAX_MEMBER_NAME_BYTES, 'name')
    .fixed(fields.publicKey, PUBLIC_KEY_BYTES, 'public key')
    .fixed(addressToBytes(fields.address), ADDRESS_BYTES, 'address');
  if (fields.virtualIp === null) {
    w.u8(0, 'flags');
  } else {
    const ip = ipv4ToBytes(fields.virtualIp);
    if (ip === null) throw new RangeError(`${fields.virtualIp} is not an IPv4 address`);
    w.u8(FLAG_FIXED_IP, 'flags').fixed(ip, 4, 'virtual IP');
  }
  let roleBits = 0;
  for (const r of normaliseRoles(fields.roles)) roleBits |= ROLE_BITS[r];
  return w.u8(roleBits, 'roles').u64(fields.notBefore, 'notBefore').u64(fields.notAfter, 'notAfter').finish();
}

/** Signs the fields with the CA's secret key. */
export function signCertificate(fields: CertificateFields, caSecretKey: Uint8Array): Certificate {
  const signedBytes = encodeCertificateBody(fields);
  const signature = sign(concatBytes(SIGNING_CONTEXT.certificate, signedBytes), caSecretKey);
  return {
    ...fields,
    groupId: Uint8Array.from(fields.groupId),
    publicKey: Uint8Array.from(fields.publicKey),
    roles: normaliseRoles(fields.roles),
    signature,
    signedBytes,
    bytes: concatBytes(signedBytes, signature),
  };
}

/** Decodes a certificate. Never throws; checks form only: call {@link verifyCertificate} for trust. */
export function decodeCertificate(bytes: Uint8Array): Result<Certificate, DecodeError> {
  if (bytes.length > MAX_CERTIFICATE_BYTES) {
    return err({ code: 'too-large', message: `a certificate is at most ${MAX_CERTIFICATE_BYTES} bytes` });
  }
  const r = new RecordReader(bytes);
  const version = r.u8('version');
  const kind = r.u8('kind');
  if (r.error === null && version !== RECORD_VERSION) r.fail('bad-version', `certificate format version ${version} is not supported`);
  if (r.error === null && kind !== RecordKind.CERTIFICATE) r.fail('wrong-kind', 'these bytes are not a certificate');
  const groupId = r.fixed(GROUP_ID_BYTES, 'group id');
  const serial = r.u64('serial');
  const name = r.text(1, MAX_MEMBER_NAME_BYTES, 'name');
  if (r.error === null) {
    const problem = memberNameProblem(name);
    if (problem !== null) r.fail('bad-value', problem);
  }
  const publicKey = r.fixed(PUBLIC_KEY_BYTES, 'public key');
  const addressBytes = r.fixed(ADDRESS_BYTES, 'address');
  const flags = r.u8('flags');
  if (r.error === null && (flags & ~FLAG_FIXED_IP) !== 0) r.fail('bad-value', 'unknown certificate flags');
  const virtualIp = (flags & FLAG_FIXED_IP) !== 0 ? ipv4FromBytes(r.fixed(4, 'virtual IP')) : null;
  const roleBits = r.u8('roles');
  if (r.error === null && ((roleBits & ~KNOWN_ROLE_BITS) !== 0 || (roleBits & ROLE_BITS.member) === 0)) {
    r.fail('bad-value', 'unknown or missing roles');
  }
  const notBefore = r.u64('notBefore');
  const notAfter = r.u64('notAfter');
  if (r.error === null && notAfter <= notBefore) r.fail('bad-value', 'the certificate ends before it starts');
  const bodyEnd = r.offset;
  const signature = r.fixed(SIGNATURE_BYTES, 'signature');
  r.expectEnd('certificate');
  if (r.error !== null) return err(r.error);
  return ok({
    groupId,
    serial,
    name,
    publicKey,
    address: addressFromBytes(addressBytes),
    virtualIp,
    roles: ROLE_ORDER.filter((role) => (roleBits & ROLE_BITS[role]) !== 0),
    notBefore,
    notAfter,
    signature,
    signedBytes: copyBytes(bytes, 0, bodyEnd),
    bytes: copyBytes(bytes),
  });
}

/** What a verifier consults about revocations (a CRL plus any signed revocation records seen). */
export interface RevocationView {
  isRevoked(serial: number, publicKey: Uint8Array): boolean;
}

export type CertificateProblemCode =
  | 'malformed'
  | 'wrong-group'
  | 'address-mismatch'
  | 'not-yet-valid'
  | 'expired'
  | 'revoked'
  | 'bad-signature';

export interface CertificateProblem {
  code: CertificateProblemCode;
  message: string;
}

export interface TrustAnchor {
  groupId: Uint8Array;
  caPublicKey: Uint8Array;
}

/**
 * The one function that decides whether a certificate is trusted at time `now` (ms): right group,
 * address derived from the key, within validity, not revoked, signed by the group's CA. Cheap
 * checks run before the signature.
 */
export function verifyCertificate(
  cert: Certificate,
  anchor: TrustAnchor,
  now: number,
  revocations?: RevocationView,
): Result<Certificate, CertificateProblem> {
  if (!bytesEqual(cert.groupId, anchor.groupId)) {
    return err({ code: 'wrong-group', message: 'the certificate belongs to another group' });
  }
  if (now < cert.notBefore) return err({ code: 'not-yet-valid', message: 'the certificate is not valid yet' });
  if (now >= cert.notAfter) return err({ code: 'expired', message: 'the certificate has expired' });
  if (revocations?.isRevoked(cert.serial, cert.publicKey) === true) {
    return err({ code: 'revoked', message: 'the certificate has been revoked' });
  }
  if (addressFromPublicKey(cert.publicKey) !== cert.address) {
    return err({ code: 'address-mismatch', message: "the certificate's address does not match its key" });
  }
  if (!verify(cert.signature, concatBytes(SIGNING_CONTEXT.certificate, cert.signedBytes), anchor.caPublicKey)) {
    return err({ code: 'bad-signature', message: "the certificate was not signed by this group's authority" });
  }
  return ok(cert);
}

/** Decodes and verifies in one step. */
export function checkCertificateBytes(
  bytes: Uint8Array,
  anchor: TrustAnchor,
  now: number,
  revocations?: RevocationView,
): Result<Certificate, CertificateProblem> {
  const decoded = decodeCertificate(bytes);
  if (!decoded.ok) return err({ code: 'malformed', message: `the certificate is malformed: ${decoded.error.message}` });
  return verifyCertificate(decoded.value, anchor, now, revocations);
}
