import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cryptoReady } from '../../src/overlay/crypto.js';
import type { GroupServer } from '../../src/group-server/app.js';
import { parseGroupServerArgs } from '../../src/group-server/options.js';
import { API_PREFIX } from '../../src/groups/api-protocol.js';
import { joinGroup } from '../../src/groups/join.js';
import { type TestGroup, createGroupThroughWeb, makeTempDir, memberIds, pendingRequestIds, startTestServer } from './server-fixture.js';
import { WebSession, decodeEntities, postJson, rawRequest } from './web-session.js';

/**
 * The web pages' defences, checked on a real server over HTTPS on loopback with its real SQLite
 * file: a CSRF token on every form, session cookies out of scripts' reach, password hashes from a
 * memory-hard KDF, markup in every stored text field shown as text, and rate limits per address.
 */
const temp = makeTempDir('web-security');
const dataDir = join(temp.path, 'server');
let server: GroupServer;
let group: TestGroup;
const PASSWORD = 'correct horse battery';

before(async () => {
  await cryptoReady();
  server = await startTestServer(dataDir, { openGroupCreation: true });
  group = await createGroupThroughWeb(server, 'Forms');
});
after(async () => {
  await server.close();
  temp.remove();
});

interface Form {
  page: string;
  action: string;
  body: string;
}

function postForms(page: string, html: string): Form[] {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)]
    .filter((m) => /method="post"/.test(m[1] as string))
    .map((m) => ({ page, action: decodeEntities(/action="([^"]+)"/.exec(m[1] as string)?.[1] ?? ''), body: m[2] as string }));
}

function openDb(): Database.Database {
  return new Database(join(dataDir, 'groups.sqlite'), { readonly: true, fileMustExist: true });
}

describe('forms and sessions', () => {
  test('every form on every page carries a CSRF token, and every one is refused without it or with another session\'s token', async () => {
    // Something in each list: a waiting request and a member.
    const created = await postJson(`${server.url}${API_PREFIX}/groups/${group.groupId}/join-requests`, {
      inviteToken: group.invitation.token, name: 'Waiting Person', email: 'wait@example.org', acceptTerms: true,
    });
    assert.equal(created.status, 201);
    const joining = joinGroup({ invitation: group.invitation, name: 'Member Person', email: 'member@example.org', stateDir: join(temp.path, 'member'), pollIntervalMs: 50 });
    let memberRequest: string | undefined;
    while (memberRequest === undefined) {
      const page = await group.admin.get(`/groups/${group.groupId}/requests`);
      const row = page.text.split('<tr>').find((r) => r.includes('Member Person') && r.includes('device key received'));
      memberRequest = row === undefined ? undefined : /requests\/([0-9a-f]{32})\/approve/.exec(row)?.[1];
      if (memberRequest === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    await group.admin.post(`/groups/${group.groupId}/requests/${memberRequest}/approve`, {});
    await joining;

    const visitor = new WebSession(server.url);
    const pages: [WebSession, string][] = [
      [visitor, '/'],
      [visitor, '/login'],
      [visitor, `/join/${group.groupId}/${group.invitation.token}`],
      [group.admin, '/'],
      [group.admin, `/groups/${group.groupId}`],
      [group.admin, `/groups/${group.groupId}/requests`],
      [group.admin, `/groups/${group.groupId}/members`],
      [group.admin, '/account'],
      [group.admin, `/groups/${group.groupId}/admins`],
    ];
    const forms: Form[] = [];
    for (const [session, path] of pages) {
      const res = await session.get(path);
      assert.equal(res.status, 200, path);
      forms.push(...postForms(path, res.text));
    }
    const actions = new Set(forms.map((f) => f.action.replace(/[0-9a-f]{32}/g, ':id').replace(/\/\d+\//g, '/:n/').replace(/\/[A-Za-z0-9_-]{32}$/, '/:token')));
    for (const expected of [
      '/groups', '/login', '/logout', '/join/:id/:token', '/groups/:id/settings', '/groups/:id/invite/renew',
      '/groups/:id/requests/:id/approve', '/groups/:id/requests/:id/deny',
      '/groups/:id/members/:n/ban', '/groups/:id/members/:n/remove', '/groups/:id/members/:n/gateway-on', '/account/password', '/groups/:id/admins/invite',
    ]) {
      assert.ok(actions.has(expected), `a form posts to ${expected} (found: ${[...actions].join(' ')})`);
    }
    for (const f of forms) assert.match(f.body, /<input type="hidden" name="_csrf" value="[^"]+">/, `the form to ${f.action} on ${f.page} has a CSRF token`);

    // A logged-in admin's browser, lured into posting each form without a token, or with a token
    // an attacker got from their own session: all refused, nothing changes.
    const attacker = new WebSession(server.url);
    await attacker.get('/login');
    const stolenToken = attacker.csrf;
    const fields = { groupName: 'Evil', username: 'eviladmin', email: 'e@example.org', password: 'a long password here', name: 'Evil', acceptTerms: 'on', autoApprove: 'on' };
    for (const f of forms) {
      const withoutToken = await group.admin.post(f.action, fields, { csrf: false });
      assert.equal(withoutToken.status, 403, `${f.action} without a token`);
      assert.match(withoutToken.text, /reload the page/);
      const own = group.admin.csrf;
      group.admin.csrf = stolenToken;
      const withForeignToken = await group.admin.post(f.action, fields);
      group.admin.csrf = own;
      assert.equal(withForeignToken.status, 403, `${f.action} with another session's token`);
    }
    assert.equal((await pendingRequestIds(group.admin, group.groupId)).length, 1, 'the waiting request is still waiting');
    assert.equal((await memberIds(group.admin, group.groupId)).length, 1, 'the member is still active');
    assert.doesNotMatch((await group.admin.get(`/groups/${group.groupId}`)).text, /name="autoApprove" value="on" checked/);
    const db = openDb();
    try {
      assert.equal((db.prepare('SELECT COUNT(*) AS n FROM groups').get() as { n: number }).n, 1, 'no group was made');
    } finally {
      db.close();
    }
  });

  test('the session cookie is httpOnly, SameSite=Lax and Secure; only its hash is stored; logging out ends it on the server', async () => {
    const login = await rawRequest(`${server.url}/login`);
    const csrfCookie = (login.headers['set-cookie'] ?? []).find((c) => c.startsWith('_csrf='));
    assert.ok(csrfCookie !== undefined);
    assert.match(csrfCookie, /HttpOnly/i);
    assert.match(csrfCookie, /Secure/i);
    const token = decodeEntities(/name="_csrf" value="([^"]+)"/.exec(login.text)?.[1] ?? '');
    const res = await rawRequest(`${server.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: (csrfCookie.split(';')[0] as string) },
      body: new URLSearchParams({ _csrf: token, username: 'admin', password: PASSWORD }).toString(),
    });
    assert.equal(res.status, 303);
    const session = (res.headers['set-cookie'] ?? []).find((c) => c.startsWith('ringvpn_session='));
    assert.ok(session !== undefined, 'a session cookie is set');
    assert.match(session, /; HttpOnly/i);
    assert.match(session, /; Secure/i);
    assert.match(session, /; SameSite=Lax/i);
    assert.match(session, /; Path=\//i);
    const value = /^ringvpn_session=([^;]+)/.exec(session)?.[1] as string;
    assert.ok(value.length >= 40, 'a long random token');

    const db = openDb();
    try {
      const rows = db.prepare('SELECT token_hash FROM sessions').all() as { token_hash: string }[];
      assert.ok(rows.length > 0);
      assert.ok(rows.every((r) => r.token_hash !== value && /^[0-9a-f]{64}$/.test(r.token_hash)), 'sessions are stored as SHA-256 hashes only');
    } finally {
      db.close();
    }

    // The cookie opens the admin pages until the admin logs out; reused after that, it gets the login page.
    const cookies = `${csrfCookie.split(';')[0] as string}; ringvpn_session=${value}`;
    assert.equal((await rawRequest(`${server.url}/groups/${group.groupId}/members`, { headers: { cookie: cookies } })).status, 200);
    const logout = await rawRequest(`${server.url}/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookies },
      body: new URLSearchParams({ _csrf: token }).toString(),
    });
    assert.equal(logout.status, 303);
    const replayed = await rawRequest(`${server.url}/groups/${group.groupId}/members`, { headers: { cookie: cookies } });
    assert.equal(replayed.status, 303);
    assert.equal(replayed.headers.location, '/login');
  });

  test('an admin changes the password: the current one is checked, other browsers are logged out, this one stays', async () => {
    const g = await createGroupThroughWeb(server, 'Passwords', 'pwchange');
    const elsewhere = new WebSession(server.url);
    await elsewhere.get('/login');
    assert.equal((await elsewhere.post('/login', { username: 'pwchange', password: PASSWORD })).status, 200);
    const account = await g.admin.get('/account');
    assert.equal(account.status, 200);
    assert.match(account.text, /Change the password of pwchange/);

    const wrong = await g.admin.post('/account/password', { current: 'not the password', password: 'a brand new password', confirm: 'a brand new password' });
    assert.equal(wrong.status, 400);
    assert.match(wrong.text, /current password is wrong/);
    const differ = await g.admin.post('/account/password', { current: PASSWORD, password: 'a brand new password', confirm: 'another new password' });
    assert.equal(differ.status, 400);
    assert.match(differ.text, /differ/);
    const short = await g.admin.post('/account/password', { current: PASSWORD, password: 'short', confirm: 'short' });
    assert.equal(short.status, 400);
    const changed = await g.admin.post('/account/password', { current: PASSWORD, password: 'a brand new password', confirm: 'a brand new password' });
    assert.equal(changed.status, 200);
    assert.match(changed.text, /Password changed/);

    assert.equal((await g.admin.get(`/groups/${g.groupId}/members`)).status, 200, 'this browser stays logged in');
    const other = await elsewhere.get(`/groups/${g.groupId}/members`);
    assert.equal(other.status, 303, 'the other browser is logged out');
    assert.equal(other.headers.location, '/login');
    const oldLogin = new WebSession(server.url);
    await oldLogin.get('/login');
    assert.equal((await oldLogin.post('/login', { username: 'pwchange', password: PASSWORD })).status, 401);
    assert.equal((await oldLogin.post('/login', { username: 'pwchange', password: 'a brand new password' })).status, 200);
    assert.equal((await new WebSession(server.url).get('/account')).status, 303, 'no account page without a session');
  });

  test('admin passwords are stored as scrypt hashes (32 MiB per check), never as text', () => {
    const db = openDb();
    try {
      const rows = db.prepare('SELECT password_hash FROM admins').all() as { password_hash: string }[];
      assert.ok(rows.length > 0);
      for (const { password_hash: h } of rows) {
        const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(h);
        assert.ok(m !== null, `a scrypt hash: ${h.slice(0, 20)}…`);
        const [N, r] = [Number(m[1]), Number(m[2])];
        assert.ok(128 * N * r >= 32 * 1024 * 1024, 'at least 32 MiB of memory per guess');
        assert.ok(!h.includes(PASSWORD));
        assert.equal(Buffer.from(m[4] as string, 'base64').length, 16, 'a 16-byte salt');
      }
      const salts = rows.map((r) => r.password_hash.split('$')[4]);
      assert.equal(new Set(salts).size, salts.length, 'every hash has its own salt');
    } finally {
      db.close();
    }
  });

  test('markup and SQL in a group\'s name and terms are stored as text and shown as text on every page', async () => {
    const evilName = '<img src=x onerror=alert(1)> Club\'; DROP TABLE groups; --';
    const evilTerms = '</p><script>alert("terms")</script>\nRobert\'); DELETE FROM admins; --';
    const creator = new WebSession(server.url);
    await creator.get('/');
    const created = await creator.post('/groups', { groupName: evilName, username: 'evilname', email: 'x@example.org', password: 'a long password here', terms: evilTerms });
    assert.equal(created.status, 200, created.text.slice(0, 300));
    const groupId = /\/groups\/([0-9a-f]{32})\/invite\/renew/.exec(created.text)?.[1] as string;
    const token = /\/join\/[0-9a-f]{32}\/([A-Za-z0-9_-]+)"/.exec(created.text)?.[1] as string;
    const pages = [
      created.text,
      (await creator.get(`/groups/${groupId}/members`)).text,
      (await creator.get(`/groups/${groupId}/requests`)).text,
      (await new WebSession(server.url).get(`/join/${groupId}/${token}`)).text,
    ];
    for (const text of pages) {
      assert.doesNotMatch(text, /<img src=x/);
      assert.doesNotMatch(text, /<script>/);
      assert.match(text, /&#60;img src&#61;x onerror&#61;alert\(1\)&#62; Club&#39;; DROP TABLE groups; --/);
    }
    assert.match(pages[3] as string, /&#60;\/p&#62;&#60;script&#62;alert\(&#34;terms&#34;\)&#60;\/script&#62;/);
    const file = await creator.get(`/groups/${groupId}/invitation.ringvpn`);
    assert.equal(file.status, 200);
    assert.match(String(file.headers['content-type']), /^text\/plain/);
    // The API gives the stored text back unchanged, and every table is still there.
    const info = JSON.parse((await rawRequest(`${server.url}${API_PREFIX}/groups/${groupId}`)).text) as { name: string; terms: string };
    assert.equal(info.name, evilName);
    assert.equal(info.terms, evilTerms);
    const db = openDb();
    try {
      assert.ok((db.prepare('SELECT COUNT(*) AS n FROM admins').get() as { n: number }).n >= 2);
    } finally {
      db.close();
    }
  });
});

/** One request from a chosen loopback source address (the whole 127/8 is local), optionally naming a client in X-Forwarded-For. */
function requestFrom(url: string, localAddress: string, body: unknown, forwardedFor?: string): Promise<number> {
  const u = new URL(url);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? https : http).request(
      u,
      {
        method: 'POST',
        localAddress,
        rejectUnauthorized: false,
        headers: { 'content-type': 'application/json', connection: 'close', ...(forwardedFor !== undefined ? { 'x-forwarded-for': forwardedFor } : {}) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('rate limits count per address', () => {
  const limits = { join: { max: 2, timeWindow: 600_000 }, certificate: { max: 2, timeWindow: 600_000 } };

  test('one address at its limit does not hold back another; a forged X-Forwarded-For does not dodge the limit', async () => {
    const s = await startTestServer(join(temp.path, 'limits'), { rateLimits: limits });
    try {
      const g = await createGroupThroughWeb(s, 'Limits', 'limitsadmin');
      const url = `${s.url}${API_PREFIX}/groups/${g.groupId}`;
      const ask = (i: number) => ({ inviteToken: g.invitation.token, name: `P${i}`, email: `p${i}@example.org`, acceptTerms: true });
      const first: number[] = [];
      for (let i = 0; i < 3; i++) first.push(await requestFrom(`${url}/join-requests`, '127.0.0.1', ask(i), `198.51.100.${i + 1}`));
      assert.deepEqual(first, [201, 201, 429], 'the header is not believed without --trust-proxy');
      const second: number[] = [];
      for (let i = 0; i < 3; i++) second.push(await requestFrom(`${url}/join-requests`, '127.0.0.2', ask(10 + i)));
      assert.deepEqual(second, [201, 201, 429], 'another address has its own allowance');
      const certs: number[] = [];
      for (const from of ['127.0.0.3', '127.0.0.3', '127.0.0.3', '127.0.0.4']) certs.push(await requestFrom(`${url}/certificate-requests`, from, {}));
      assert.deepEqual(certs, [400, 400, 429, 400], 'certificate requests: per address as well');
    } finally {
      await s.close();
    }
  });

  test('behind a trusted proxy (--trust-proxy) each client named by the proxy has its own allowance', async () => {
    const s = await startTestServer(join(temp.path, 'proxied'), { http: true, publicUrl: 'https://vpn.example.org', trustProxy: ['127.0.0.1'], rateLimits: limits });
    try {
      const g = await createGroupThroughWeb(s, 'Proxied', 'proxyadmin');
      const url = `${s.url}${API_PREFIX}/groups/${g.groupId}/join-requests`;
      const ask = (i: number) => ({ inviteToken: g.invitation.token, name: `Q${i}`, email: `q${i}@example.org`, acceptTerms: true });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push(await requestFrom(url, '127.0.0.1', ask(i), '203.0.113.7'));
      for (let i = 0; i < 2; i++) statuses.push(await requestFrom(url, '127.0.0.1', ask(10 + i), '203.0.113.8'));
      assert.deepEqual(statuses, [201, 201, 429, 201, 201]);
      // An https:// public URL behind the proxy keeps the cookies Secure.
      const page = await rawRequest(`${s.url}/login`);
      assert.ok((page.headers['set-cookie'] ?? []).every((c) => /; Secure/i.test(c)));
    } finally {
      await s.close();
    }
  });

  test('--trust-proxy is read from the command line and checked', () => {
    const parsed = parseGroupServerArgs(['--data', '/tmp/x', '--port', '8080', '--http', '--trust-proxy', '127.0.0.1, 10.0.0.0/8,::1']);
    assert.ok(parsed !== 'help');
    assert.deepEqual(parsed.trustProxy, ['127.0.0.1', '10.0.0.0/8', '::1']);
    assert.throws(() => parseGroupServerArgs(['--data', '/tmp/x', '--port', '1', '--trust-proxy', 'proxy.example.org']), /--trust-proxy takes addresses/);
    assert.throws(() => parseGroupServerArgs(['--data', '/tmp/x', '--port', '1', '--trust-proxy', '10.0.0.0/33']), /--trust-proxy takes addresses/);
    assert.equal((parseGroupServerArgs(['--data', '/tmp/x', '--port', '1']) as { trustProxy?: unknown }).trustProxy, undefined);
  });
});
