import type { FastifyInstance, FastifyReply } from 'fastify';
import { DEFAULT_TERMS, SESSION_LIFETIME_MS } from '../group-service.js';
import { HttpError, forbidden } from '../http-error.js';
import { type Fields, asFields, email, pattern, text } from '../input.js';
import { accountBody, adminInviteBody, homeBody, loginBody } from './public-pages.js';
import { STYLESHEET } from './style.js';
import { SESSION_COOKIE, type WebContext } from './web-context.js';

const USERNAME = /^[A-Za-z0-9._-]{3,32}$/;

function formValues(fields: Fields, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) if (typeof fields[k] === 'string') out[k] = (fields[k] as string).slice(0, 4000);
  return out;
}

/** Start page with group creation, login and logout. */
export function registerAuthRoutes(app: FastifyInstance, web: WebContext): void {
  app.get('/', async (req, reply) => {
    const admin = web.admin(req);
    const csrf = reply.generateCsrf();
    return web.send(reply, web.chrome('Start', admin, csrf), homeBody({ canCreate: web.canCreateGroup(admin), csrf, values: { terms: DEFAULT_TERMS } }));
  });

  app.post('/groups', { preHandler: app.csrfProtection, config: { rateLimit: web.limits.create } }, async (req, reply) => {
    const admin = web.admin(req);
    if (!web.canCreateGroup(admin)) throw forbidden('only admins of this server can create more groups; log in first');
    const fields = asFields(req.body);
    try {
      const groupName = text(fields, 'groupName', 'the group name', { max: 64 });
      const username = pattern(fields, 'username', 'the user name (3 to 32 letters, digits, dots, dashes or underscores)', USERNAME);
      const adminEmail = email(fields);
      const password = fields.password;
      if (typeof password !== 'string' || password.length < 10 || password.length > 200) {
        throw new HttpError(400, 'the password must be 10 to 200 characters long');
      }
      const terms = text(fields, 'terms', 'the terms', { max: 4000, min: 0, multiline: true }) || DEFAULT_TERMS;
      const { groupId, adminId } = await web.groups.createGroup({ groupName, username, email: adminEmail, password, terms });
      setSession(reply, web, web.groups.openSession(adminId));
      return reply.redirect(`/groups/${groupId}`, 303);
    } catch (e) {
      if (!(e instanceof HttpError) || e.statusCode >= 500) throw e;
      const csrf = reply.generateCsrf();
      const body = homeBody({ canCreate: true, csrf, values: formValues(fields, ['groupName', 'username', 'email', 'terms']) });
      return web.send(reply, web.chrome('Start', admin, csrf, { kind: 'error', text: capitalise(e.message) }), body, e.statusCode);
    }
  });

  app.get('/login', async (req, reply) => {
    const admin = web.admin(req);
    if (admin !== undefined) return reply.redirect(`/groups/${admin.group_id}`, 303);
    const csrf = reply.generateCsrf();
    return web.send(reply, web.chrome('Admin login', undefined, csrf), loginBody(csrf));
  });

  app.post('/login', { preHandler: app.csrfProtection, config: { rateLimit: web.limits.login } }, async (req, reply) => {
    const fields = asFields(req.body);
    const username = typeof fields.username === 'string' ? fields.username.trim().slice(0, 32) : '';
    const password = typeof fields.password === 'string' ? fields.password.slice(0, 200) : '';
    const admin = USERNAME.test(username) && password.length > 0 ? await web.groups.login(username, password) : null;
    if (admin === null) {
      const csrf = reply.generateCsrf();
      return web.send(reply, web.chrome('Admin login', undefined, csrf, { kind: 'error', text: 'Wrong user name or password.' }), loginBody(csrf, username), 401);
    }
    setSession(reply, web, web.groups.openSession(admin.id));
    return reply.redirect(`/groups/${admin.group_id}`, 303);
  });

  app.post('/logout', { preHandler: app.csrfProtection }, async (req, reply) => {
    web.groups.closeSession(req.cookies[SESSION_COOKIE]);
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.redirect('/', 303);
  });

  app.get<{ Params: { token: string } }>('/admin-invite/:token', async (req, reply) => {
    const groupId = web.groups.adminInviteGroup(req.params.token);
    if (groupId === undefined) throw forbidden('this admin invitation was used already or has expired; ask an admin of the group for a new one');
    const group = web.groups.group(groupId);
    const csrf = reply.generateCsrf();
    const body = adminInviteBody({ groupName: group?.name ?? '', action: `/admin-invite/${req.params.token}`, csrf });
    return web.send(reply.header('cache-control', 'no-store'), web.chrome('Become an admin', undefined, csrf), body);
  });

  app.post<{ Params: { token: string } }>(
    '/admin-invite/:token',
    { preHandler: app.csrfProtection, config: { rateLimit: web.limits.create } },
    async (req, reply) => {
      const fields = asFields(req.body);
      try {
        const username = pattern(fields, 'username', 'the user name (3 to 32 letters, digits, dots, dashes or underscores)', USERNAME);
        const adminEmail = email(fields);
        const password = fields.password;
        if (typeof password !== 'string' || password.length < 10 || password.length > 200) {
          throw new HttpError(400, 'the password must be 10 to 200 characters long');
        }
        const { groupId, adminId } = await web.groups.acceptAdminInvite(req.params.token, { username, email: adminEmail, password });
        setSession(reply, web, web.groups.openSession(adminId));
        return reply.redirect(`/groups/${groupId}`, 303);
      } catch (e) {
        if (!(e instanceof HttpError) || e.statusCode === 403 || e.statusCode >= 500) throw e;
        const groupId = web.groups.adminInviteGroup(req.params.token);
        const csrf = reply.generateCsrf();
        const body = adminInviteBody({
          groupName: (groupId === undefined ? undefined : web.groups.group(groupId)?.name) ?? '',
          action: `/admin-invite/${req.params.token}`,
          csrf,
          values: formValues(fields, ['username', 'email']),
        });
        return web.send(reply, web.chrome('Become an admin', undefined, csrf, { kind: 'error', text: capitalise(e.message) }), body, e.statusCode);
      }
    },
  );

  app.get('/account', async (req, reply) => {
    const admin = web.admin(req);
    if (admin === undefined) return reply.redirect('/login', 303);
    const csrf = reply.generateCsrf();
    const done = (req.query as { done?: unknown }).done === 'password' ? { kind: 'info' as const, text: 'Password changed. Other browsers are logged out.' } : undefined;
    return web.send(reply, web.chrome('Your account', admin, csrf, done), accountBody({ username: admin.username, csrf }));
  });

  app.post('/account/password', { preHandler: app.csrfProtection, config: { rateLimit: web.limits.login } }, async (req, reply) => {
    const admin = web.admin(req);
    if (admin === undefined) return reply.redirect('/login', 303);
    const fields = asFields(req.body);
    const current = typeof fields.current === 'string' ? fields.current.slice(0, 200) : '';
    const next = fields.password;
    let problem: string | null = null;
    if (typeof next !== 'string' || next.length < 10 || next.length > 200) problem = 'The new password must be 10 to 200 characters long.';
    else if (next !== fields.confirm) problem = 'The two new passwords differ.';
    else if (!(await web.groups.changePassword(admin, current, next, req.cookies[SESSION_COOKIE] ?? ''))) problem = 'The current password is wrong.';
    if (problem !== null) {
      const csrf = reply.generateCsrf();
      return web.send(reply, web.chrome('Your account', admin, csrf, { kind: 'error', text: problem }), accountBody({ username: admin.username, csrf }), 400);
    }
    return reply.redirect('/account?done=password', 303);
  });

  app.get('/static/style.css', async (_req, reply) => {
    return reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLESHEET);
  });

  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());
}

function setSession(reply: FastifyReply, web: WebContext, token: string): void {
  void reply.setCookie(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: web.server.secureCookies,
    maxAge: SESSION_LIFETIME_MS / 1000,
  });
}

export function capitalise(message: string): string {
  const s = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}
