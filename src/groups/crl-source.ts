import { fromBase64Url } from './binary.js';
import { GroupError } from './errors.js';
import { GroupApiClient } from './group-api-client.js';
import type { Invitation } from './invitation.js';
import type { CrlSource, CrlUpdate } from './revocation-service.js';

/** How long the server may hold a CRL request (it caps this at 25 s, below its 30 s request timeout). */
export const CRL_LONG_POLL_SECONDS = 20;
const MAX_RECORD_TEXT = 4096;

/**
 * The group server as a {@link CrlSource}: long polls through the pinned connection of the
 * invitation. With `self` (this member's key and the serial it holds), the server also answers at
 * once with a new certificate for this member (an admin changed its roles).
 */
export function serverCrlSource(
  invitation: Invitation,
  waitSeconds = CRL_LONG_POLL_SECONDS,
  self?: () => { publicKey: Uint8Array; serial: number },
): CrlSource {
  return {
    async fetch(afterSequence: number, signal: AbortSignal): Promise<CrlUpdate> {
      const client = new GroupApiClient(invitation, { signal, timeoutMs: (waitSeconds + 15) * 1000 });
      const answer = await client.crl(afterSequence >= 0 ? { after: afterSequence, waitSeconds, ...(self !== undefined ? { self: self() } : {}) } : undefined);
      const crl = fromBase64Url(answer.crl, 1 << 20);
      if (crl === null) throw new GroupError('bad-answer', 'the group server sent a damaged revocation list');
      const records: Uint8Array[] = [];
      for (const text of answer.revocations) {
        const bytes = fromBase64Url(text, MAX_RECORD_TEXT);
        if (bytes !== null) records.push(bytes);
      }
      const certificate = answer.certificate === undefined ? null : fromBase64Url(answer.certificate, MAX_RECORD_TEXT);
      return certificate === null ? { crl, records } : { crl, records, certificate };
    },
  };
}
