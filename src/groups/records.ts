/**
 * Constants shared by every group record format. Each record starts with a format version byte and
 * a kind byte; a CA signature covers a per-kind context string followed by every byte before the
 * signature, so a signature made for one kind of record can never be replayed as another.
 */
export const RECORD_VERSION = 1;

export const RecordKind = {
  CERTIFICATE: 1,
  CRL: 2,
  REVOCATION: 3,
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

const encoder = new TextEncoder();

export const SIGNING_CONTEXT = {
  certificate: encoder.encode('ringvpn/group-certificate/v1\0'),
  crl: encoder.encode('ringvpn/group-crl/v1\0'),
  revocation: encoder.encode('ringvpn/group-revocation/v1\0'),
  certificateRequest: encoder.encode('ringvpn/certificate-request/v1\0'),
  memberReport: encoder.encode('ringvpn/member-report/v1\0'),
} as const;

export const GROUP_ID_BYTES = 16;
