import type { FastifyInstance } from 'fastify';
import { API_PREFIX, type GroupInfo } from '../../groups/api-protocol.js';
import { toBase64Url } from '../../groups/binary.js';
import { asFields } from '../input.js';
import { type CrlWatch, MAX_CRL_WAIT_SECONDS } from '../crl-watch.js';
import { badRequest } from '../http-error.js';
import type { MembershipService } from '../membership-service.js';
import type { RateLimits } from '../rate-limits.js';

interface GroupParams {
  groupId: string;
}

/** The JSON API the RingVPN client talks to (see src/groups/api-protocol.ts for the shapes). */
export function registerApiRoutes(app: FastifyInstance, membership: MembershipService, limits: RateLimits, crlWatch: CrlWatch): void {
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
      const current = membership.crl(req.params.groupId);
      const after = queryInteger(req.query.after, 'after', Number.MAX_SAFE_INTEGER);
      const wait = queryInteger(req.query.wait, 'wait', MAX_CRL_WAIT_SECONDS);
      if (after === null || wait === null || wait === 0 || current.sequence > after) return current;
      const abort = new AbortController();
      req.raw.once('close', () => abort.abort());
      await crlWatch.wait(req.params.groupId, wait * 1000, abort.signal);
      return membership.crl(req.params.groupId);
    },
  );

  app.post<{ Params: GroupParams }>(`${API_PREFIX}/groups/:groupId/reports`, { config: { rateLimit: limits.report } }, async (req) =>
    membership.report(req.params.groupId, asFields(req.body)),
  );
}

function queryInteger(value: unknown, name: string, max: number): number | null {
  if (value === undefined) return null;
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value) || Number(value) > max) {
    throw badRequest(`${name} must be a whole number from 0 to ${max}`);
  }
  return Number(value);
}
