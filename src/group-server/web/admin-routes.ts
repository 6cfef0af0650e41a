import type { FastifyInstance } from 'fastify';
import { formatInvitationFile } from '../../groups/invitation.js';
import { badRequest } from '../http-error.js';
import { asFields, flag } from '../input.js';
import type { GroupRow } from '../storage/groups-store.js';
import { adminsBody, membersBody, overviewBody, requestsBody } from './admin-pages.js';
import type { WebContext } from './web-context.js';

interface GroupParams {
  groupId: string;
}

const NOTICES: Record<string, string> = {
  approved: 'Approved. The member gets a certificate as soon as their app asks for it.',
  denied: 'Request denied.',
  banned: 'Member banned: their certificate and device are revoked.',
  removed: 'Member removed: their certificate is revoked.',
  'gateway-on': 'The member is now a gateway (a new certificate was issued).',
  'gateway-off': 'The member is no longer a gateway (the old certificate was revoked).',
  saved: 'Settings saved.',
  renewed: 'New invitation made; the old link no longer works.',
  'admin-removed': 'Admin removed; they are logged out.',
};

/** The admin's pages: invitation and settings, the join queue, the members list, and their one-click actions. */
export function registerAdminRoutes(app: FastifyInstance, web: WebContext): void {
  const notice = (query: unknown) => {
    const done = (query as { done?: unknown }).done;
    return typeof done === 'string' && NOTICES[done] !== undefined ? { kind: 'info' as const, text: NOTICES[done] as string } : undefined;
  };

  app.get<{ Params: GroupParams }>('/groups/:groupId', async (req, reply) => {
    const group = web.membership.requireGroup(req.params.groupId);
    const admin = web.requireAdmin(req, reply, group.id);
    if (admin === null) return reply;
    const csrf = reply.generateCsrf();
    const body = overviewBody({ group, invitation: await web.invitationView(group), pending: web.membership.countPending(group.id), csrf });
    return web.send(reply, web.chrome(group.name, admin, csrf, notice(req.query)), body);
  });

  app.get<{ Params: GroupParams }>('/groups/:groupId/requests', async (req, reply) => {
    const group = web.membership.requireGroup(req.params.groupId);
    const admin = web.requireAdmin(req, reply, group.id);
    if (admin === null) return reply;
    const csrf = reply.generateCsrf();
    const body = requestsBody({ group, requests: web.membership.pendingRequests(group.id), csrf });
    return web.send(reply, web.chrome(`Join requests · ${group.name}`, admin, csrf, notice(req.query)), body);
  });

  app.get<{ Params: GroupParams }>('/groups/:groupId/members', async (req, reply) => {
    const group = web.membership.requireGroup(req.params.groupId);
    const admin = web.requireAdmin(req, reply, group.id);
    if (admin === null) return reply;
    const csrf = reply.generateCsrf();
    const body = membersBody({ group, members: web.membership.members(group.id), pending: web.membership.countPending(group.id), csrf });
    return web.send(reply, web.chrome(`Members · ${group.name}`, admin, csrf, notice(req.query)), body);
  });

  app.get<{ Params: GroupParams }>('/groups/:groupId/admins', async (req, reply) => {
    const group = web.membership.requireGroup(req.params.groupId);
    const admin = web.requireAdmin(req, reply, group.id);
    if (admin === null) return reply;
    const csrf = reply.generateCsrf();
    const body = adminsBody({ group, admins: web.groups.admins(group.id), self: admin, pending: web.membership.countPending(group.id), csrf });
    return web.send(reply, web.chrome(`Admins · ${group.name}`, admin, csrf, notice(req.query)), body);
  });

  // The link is shown once, on the answer to the click (not stored in clear anywhere).
  app.post<{ Params: GroupParams }>('/groups/:groupId/admins/invite', { preHandler: app.csrfProtection }, async (req, reply) => {
    const group = web.membership.requireGroup(req.params.groupId);
    const admin = web.requireAdmin(req, reply, group.id);
    if (admin === null) return reply;
    const inviteLink = `${web.server.publicUrl}/admin-invite/${web.groups.createAdminInvite(admin)}`;
    const csrf = reply.generateCsrf();
    const body = adminsBody({ group, admins: web.groups.admins(group.id), self: admin, pending: web.membership.countPending(group.id), csrf, inviteLink });
    return web.send(reply.header('cache-control', 'no-store'), web.chrome(`Admins · ${group.name}`, admin, csrf), body);
  });

  app.get<{ Params: GroupParams }>('/groups/:groupId/invitation.ringvpn', async (req, reply) => {
    const group = web.membership.requireGroup(req.params.groupId);
    if (web.requireAdmin(req, reply, group.id) === null) return reply;
    return reply
      .type('text/plain; charset=utf-8')
      .header('content-disposition', 'attachment; filename="invitation.ringvpn"')
      .send(formatInvitationFile(web.invitation(group), group.name));
  });

  /** A POST action of an admin page: CSRF-checked, admin-only, then back to `back` with a notice. */
  const action = <P extends GroupParams>(path: string, back: string, run: (group: GroupRow, params: P, fields: Record<string, unknown>) => string) => {
    app.post(path, { preHandler: app.csrfProtection }, async (req, reply) => {
      const params = req.params as P;
      const group = web.membership.requireGroup(params.groupId);
      if (web.requireAdmin(req, reply, group.id) === null) return reply;
      const done = run(group, params, asFields(req.body ?? {}));
      return reply.redirect(`/groups/${group.id}${back}?done=${done}`, 303);
    });
  };

  app.post<{ Params: GroupParams & { adminId: string } }>('/groups/:groupId/admins/:adminId/remove', { preHandler: app.csrfProtection }, async (req, reply) => {
    const group = web.membership.requireGroup(req.params.groupId);
    const admin = web.requireAdmin(req, reply, group.id);
    if (admin === null) return reply;
    const id = /^\d{1,12}$/.test(req.params.adminId) ? Number(req.params.adminId) : NaN;
    if (!Number.isSafeInteger(id)) throw badRequest('unknown admin');
    web.groups.removeAdmin(admin, id);
    return reply.redirect(`/groups/${group.id}/admins?done=admin-removed`, 303);
  });

  action('/groups/:groupId/settings', '', (group, _p, fields) => {
    web.groups.setAutoApprove(group.id, flag(fields, 'autoApprove'));
    return 'saved';
  });
  action('/groups/:groupId/invite/renew', '', (group) => {
    web.groups.newInviteToken(group.id);
    return 'renewed';
  });
  action<GroupParams & { requestId: string; decision: string }>('/groups/:groupId/requests/:requestId/:decision', '/requests', (group, p) => {
    if (p.decision !== 'approve' && p.decision !== 'deny') throw badRequest('unknown decision');
    web.membership.decide(group.id, p.requestId, p.decision === 'approve');
    return p.decision === 'approve' ? 'approved' : 'denied';
  });
  action<GroupParams & { memberId: string; what: string }>('/groups/:groupId/members/:memberId/:what', '/members', (group, p) => {
    const id = /^\d{1,12}$/.test(p.memberId) ? Number(p.memberId) : NaN;
    if (!Number.isSafeInteger(id)) throw badRequest('unknown member');
    if (p.what === 'ban') web.membership.ban(group.id, id);
    else if (p.what === 'remove') web.membership.remove(group.id, id);
    else if (p.what === 'gateway-on' || p.what === 'gateway-off') web.membership.setGateway(group.id, id, p.what === 'gateway-on');
    else throw badRequest('unknown action');
    return p.what === 'ban' ? 'banned' : p.what === 'remove' ? 'removed' : p.what;
  });
}
