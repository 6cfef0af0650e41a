import type { FastifyInstance } from 'fastify';
import { API_PREFIX, type CrlResponse, type GroupInfo } from '../../groups/api-protocol.js';
import { fromBase64Url, toBase64Url } from '../../groups/binary.js';
import { asFields } from '../input.js';
import { type CrlWatch, MAX_CRL_WAIT_SECONDS } from '../crl-watch.js';
import { badRequest } from '../http-error.js';
import type { MembershipService } from '../membership-service.js';
import type { RateLimits } from '../rate-limits.js';

interface GroupParams {
  groupId: string;
}

/** The JSON API the RingVPN client talks to (see src/groups/api-protocol.ts for the shapes). */
export function registerApiRoutes(
  app: FastifyInstance,
  membership: MembershipService,
  limits: RateLimits,
  crlWatch: CrlWatch,
  crlWaitCapSeconds: number = MAX_CRL_WAIT_SECONDS,
): void {
  app.get(`${API_PREFIX}/health`, async () => ({ ok: true }));

  app.get<{ Params: GroupParams }>(`${API_PREFIX}/groups/:groupId`, async (req): Promise<GroupInfo> => {
    const g = membership.requireGroup(req.params.groupId);
    return { groupId: g.id, name: g.name, caPublicKey: toBase64Url(g.ca_public_key), terms: g.terms };
  });

  app.post<{ Params: GroupParams }>(
    `${API_PREFIX}/groups/:groupId/join-requests`,
    { config: { rateLimit: limits.join } },
    async (req, reply) => {
      const created = membership.submitJoin(req.params.groupId, asFields(req.body), 'app');
      return reply.code(201).send(created);
    },
  );

  app.get<{ Params: GroupParams & { requestId: string } }>(
    `${API_PREFIX}/groups/:groupId/join-requests/:requestId`,
    { config: { rateLimit: limits.poll } },
    async (req) => membership.requestStatus(req.params.groupId, req.params.requestId),
  );

  app.post<{ Params: GroupParams }>(
    `${API_PREFIX}/groups/:groupId/certificate-requests`,
    { config: { rateLimit: limits.certificate } },
    async (req, reply) => {
      const result = membership.certificateRequest(req.params.groupId, asFields(req.body));
      return reply.code(result.statusCode).send(result.body);
    },
  );

  // ?after=N&wait=S: answer once the CRL's sequence is past N, or after S seconds (long polling).
  app.get<{ Params: GroupParams; Querystring: Record<string, unknown> }>(
    `${API_PREFIX}/groups/:groupId/crl`,
    { config: { rateLimit: limits.poll } },
    async (req) => {
      const groupId = req.params.groupId;
      const after = queryInteger(req.query.after, 'after', Number.MAX_SAFE_INTEGER);
      const wait = queryInteger(req.query.wait, 'wait', MAX_CRL_WAIT_SECONDS);
      const self = querySelf(req.query.key, req.query.serial);
      // ?key=K&serial=S: a member also hears at once of a new certificate for itself (a change of role).
      const answer = (): CrlResponse => {
        const crl = membership.crl(groupId);
        const certificate = self === null ? null : membership.certificateIfChanged(groupId, self.publicKey, self.serial);
        return certificate === null ? crl : { ...crl, certificate };
      };
      let current = answer();
      if (after === null || wait === null || wait === 0 || current.sequence > after || current.certificate !== undefined) return current;
      const abort = new AbortController();
      req.raw.once('close', () => abort.abort());
      const deadline = Date.now() + Math.min(wait, crlWaitCapSeconds) * 1000;
      // Woken by a change in the group: answer when it concerns this member, else wait on.
      while (await crlWatch.wait(groupId, deadline - Date.now(), abort.signal)) {
        current = answer();
        if (current.sequence > after || current.certificate !== undefined) return current;
      }
      return answer();
    },
  );

  app.post<{ Params: GroupParams }>(`${API_PREFIX}/groups/:groupId/reports`, { config: { rateLimit: limits.report } }, async (req) =>
    membership.report(req.params.groupId, asFields(req.body)),
  );
}

function querySelf(key: unknown, serial: unknown): { publicKey: Uint8Array; serial: number } | null {
  if (key === undefined && serial === undefined) return null;
  const publicKey = typeof key === 'string' && /^[A-Za-z0-9_-]{43}$/.test(key) ? fromBase64Url(key, 32) : null;
  if (publicKey === null || publicKey.length !== 32) throw badRequest('key must be a member\'s public key (43 base64url characters), given with serial');
  const s = queryInteger(serial, 'serial', Number.MAX_SAFE_INTEGER);
  if (s === null) throw badRequest('serial must be given with key');
  return { publicKey, serial: s };
}

function queryInteger(value: unknown, name: string, max: number): number | null {
  if (value === undefined) return null;
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value) || Number(value) > max) {
    throw badRequest(`${name} must be a whole number from 0 to ${max}`);
  }
  return Number(value);
}
