import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cryptoReady } from '../../src/overlay/crypto.js';
import type { GroupServer } from '../../src/group-server/app.js';
import { ADMIN_INVITE_LIFETIME_MS } from '../../src/group-server/group-service.js';
import { createGroupThroughWeb, makeTempDir, startTestServer } from './server-fixture.js';
import { WebSession, decodeEntities } from './web-session.js';

/** A group has several admins: one invites another with a one-time link, and can remove them again. */
const temp = makeTempDir('admins');
let server: GroupServer;
let clock = Date.now();

before(async () => {
  await cryptoReady();
  server = await startTestServer(join(temp.path, 'server'), { openGroupCreation: true, now: () => clock });
});
after(async () => {
  await server.close();
  temp.remove();
});

async function inviteLink(admin: WebSession, groupId: string): Promise<string> {
  await admin.get(`/groups/${groupId}/admins`);
  const page = await admin.post(`/groups/${groupId}/admins/invite`, {});
  assert.equal(page.status, 200);
  assert.equal(page.headers['cache-control'], 'no-store');
  const link = /aria-label="Admin invitation link">([^<]+)</.exec(page.text)?.[1];
  assert.ok(link !== undefined, 'the link is on the page');
  return new URL(decodeEntities(link)).pathname;
}

test('an admin invites a second admin by one-time link; both manage the group; the link works once', async () => {
  const group = await createGroupThroughWeb(server, 'Two admins', 'first');
  const path = await inviteLink(group.admin, group.groupId);
  assert.match(path, /^\/admin-invite\/[A-Za-z0-9_-]{32}$/);

  const second = new WebSession(server.url);
  const form = await second.get(path);
  assert.equal(form.status, 200);
  assert.match(form.text, /Become an admin of Two admins/);
  const taken = await second.post(path, { username: 'first', email: 'second@example.org', password: 'second admin password' });
  assert.equal(taken.status, 409, 'a user name in use is refused, and the link still works');
  assert.match(taken.text, /user name is taken/);
  const joined = await second.post(path, { username: 'second', email: 'second@example.org', password: 'second admin password' });
  assert.equal(joined.status, 200);
  assert.match(joined.text, /Invitation link/, 'lands on the group page, logged in');
  const list = await second.get(`/groups/${group.groupId}/admins`);
  assert.match(list.text, /<td>first<\/td>/);
  assert.match(list.text, /<td>second<\/td>/);

  // Used once: the link is dead now, for anyone.
  const again = new WebSession(server.url);
  assert.equal((await again.get(path)).status, 403);
  await again.get('/login');
  const reuse = await again.post(path, { username: 'third', email: 'third@example.org', password: 'third admin password' });
  assert.equal(reuse.status, 403);
  assert.match(reuse.text, /used already or has expired/);

  // The second admin can log in on its own later.
  const login = new WebSession(server.url);
  await login.get('/login');
  assert.equal((await login.post('/login', { username: 'second', password: 'second admin password' })).status, 200);
  assert.match(login.last.text, /Two admins/);
});

test('an admin invitation expires after 7 days; an admin of another group gets nothing from the link of this one', async () => {
  const group = await createGroupThroughWeb(server, 'Expiring', 'expadmin');
  const path = await inviteLink(group.admin, group.groupId);
  clock += ADMIN_INVITE_LIFETIME_MS + 1000;
  try {
    const late = new WebSession(server.url);
    const res = await late.get(path);
    assert.equal(res.status, 403);
    assert.match(res.text, /used already or has expired/);
  } finally {
    clock = Date.now();
  }
  const other = await createGroupThroughWeb(server, 'Other', 'otherexp');
  assert.equal((await other.admin.post(`/groups/${group.groupId}/admins/invite`, {})).status, 403, 'not an admin of that group');
});

test('an admin removes another admin: their sessions end; nobody removes themselves', async () => {
  const group = await createGroupThroughWeb(server, 'Removal', 'keeper');
  const path = await inviteLink(group.admin, group.groupId);
  const leaving = new WebSession(server.url);
  await leaving.get(path);
  await leaving.post(path, { username: 'leaving', email: 'leaving@example.org', password: 'leaving admin password' });
  assert.equal((await leaving.get(`/groups/${group.groupId}/members`)).status, 200);

  const page = await group.admin.get(`/groups/${group.groupId}/admins`);
  const leavingId = /\/admins\/(\d+)\/remove">(?:(?!<\/form>)[\s\S])*aria-label="Remove admin leaving"/.exec(page.text)?.[1];
  const keeperRow = page.text.split('<tr>').find((r) => r.includes('<td>keeper</td>'));
  assert.ok(leavingId !== undefined && keeperRow !== undefined);
  assert.doesNotMatch(keeperRow, /remove/, 'no remove button for oneself');

  // Removing oneself by a forged form is refused too.
  await leaving.get(`/groups/${group.groupId}/admins`);
  const self = await leaving.post(`/groups/${group.groupId}/admins/${leavingId}/remove`, {});
  assert.equal(self.status, 409);
  assert.match(self.text, /cannot remove yourself/);

  const removed = await group.admin.post(`/groups/${group.groupId}/admins/${leavingId}/remove`, {});
  assert.match(removed.text, /Admin removed/);
  assert.doesNotMatch(removed.text, /<td>leaving<\/td>/);
  const after = await leaving.get(`/groups/${group.groupId}/members`);
  assert.equal(after.status, 303, 'the removed admin is logged out');
  const relogin = new WebSession(server.url);
  await relogin.get('/login');
  assert.equal((await relogin.post('/login', { username: 'leaving', password: 'leaving admin password' })).status, 401);
  assert.equal((await group.admin.post(`/groups/${group.groupId}/admins/999999/remove`, {})).status, 404);
});
