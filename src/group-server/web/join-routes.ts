import type { FastifyInstance } from 'fastify';
import { HttpError } from '../http-error.js';
import { type Fields, asFields } from '../input.js';
import { capitalise } from './auth-routes.js';
import { joinBody, joinSentBody, joinStatusBody } from './public-pages.js';
import type { WebContext } from './web-context.js';

interface JoinParams {
  groupId: string;
  token: string;
}

/**
 * The join page for people without the app. It files the same join request the app files through
 * the API and shows the join code (request id + one-time secret) that the app later uses to fetch
 * the certificate. With the app, people never need this page.
 */
export function registerJoinRoutes(app: FastifyInstance, web: WebContext): void {
  app.get<{ Params: JoinParams }>('/join/:groupId/:token', async (req, reply) => {
    const group = web.membership.requireGroup(req.params.groupId);
    web.membership.requireInvite(group, req.params.token);
    const csrf = reply.generateCsrf();
    const body = joinBody({ groupName: group.name, terms: group.terms, action: `/join/${group.id}/${req.params.token}`, csrf });
    return web.send(reply, web.chrome(`Join ${group.name}`, undefined, csrf), body);
  });

  app.post<{ Params: JoinParams }>(
    '/join/:groupId/:token',
    { preHandler: app.csrfProtection, config: { rateLimit: web.limits.join } },
    async (req, reply) => {
      const group = web.membership.requireGroup(req.params.groupId);
      const fields: Fields = { ...asFields(req.body), inviteToken: req.params.token };
      try {
        const created = web.membership.submitJoin(group.id, fields, 'web');
        const body = joinSentBody({
          groupName: group.name,
          joinCode: created.joinCode,
          statusUrl: `/join/${group.id}/status/${created.requestId}`,
          approved: created.state === 'approved',
        });
        return web.send(reply.header('cache-control', 'no-store'), web.chrome('Request sent', undefined, ''), body, 201);
      } catch (e) {
        if (!(e instanceof HttpError) || e.statusCode === 403 || e.statusCode === 404) throw e;
        const csrf = reply.generateCsrf();
        const values: Record<string, string> = {};
        for (const k of ['name', 'email']) if (typeof fields[k] === 'string') values[k] = (fields[k] as string).slice(0, 300);
        const body = joinBody({ groupName: group.name, terms: group.terms, action: `/join/${group.id}/${req.params.token}`, csrf, values });
        return web.send(reply, web.chrome(`Join ${group.name}`, undefined, csrf, { kind: 'error', text: capitalise(e.message) }), body, e.statusCode);
      }
    },
  );

  app.get<{ Params: { groupId: string; requestId: string } }>('/join/:groupId/status/:requestId', async (req, reply) => {
    const group = web.membership.requireGroup(req.params.groupId);
    const summary = web.membership.requestSummary(group.id, req.params.requestId);
    return web.send(reply, web.chrome('Request status', undefined, ''), joinStatusBody({ groupName: group.name, ...summary }));
  });
}
