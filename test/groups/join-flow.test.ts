import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { type GroupServer } from '../../src/group-server/app.js';
import { GroupError } from '../../src/groups/errors.js';
import { type JoinProgress, joinGroup } from '../../src/groups/join.js';
import { loadMembership, refreshCertificate, refreshCrl } from '../../src/groups/membership.js';
import { hasRole } from '../../src/groups/certificate.js';
import { GroupStateDir } from '../../src/groups/group-state.js';
import { formatInvitationLink } from '../../src/groups/invitation.js';
import { createGroupThroughWeb, makeTempDir, memberIds, pendingRequestIds, startTestServer } from './server-fixture.js';
import { WebSession } from './web-session.js';

const temp = makeTempDir('join-flow');
let server: GroupServer | null = null;

before(async () => {
  await cryptoReady();
});
after(async () => {
  await server?.close();
  temp.remove();
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('join through the pinned API, approval in the queue, revocation after a server restart', async () => {
  const dataDir = join(temp.path, 'server');
  server = await startTestServer(dataDir, { openGroupCreation: true });
  const group = await createGroupThroughWeb(server, 'Family network');
  const stateDir = join(temp.path, 'alice');
  const events: JoinProgress['kind'][] = [];
  const joining = joinGroup({
    invitation: group.invitationLink,
    name: 'Alice',
    email: 'alice@example.org',
    stateDir,
    pollIntervalMs: 100,
    onProgress: (e) => events.push(e.kind),
  });
  // The app files the request, then at once its signed certificate request: wait for both.
  const [requestId] = await waitFor('the request in the queue with its device key', async () => {
    const ids = await pendingRequestIds(group.admin, group.groupId);
    return ids.length > 0 && /device key received/.test(group.admin.last.text) ? ids : undefined;
  });
  const queue = group.admin.last.text;
  assert.match(queue, /Alice/);
  assert.match(queue, /device key received/);
  await group.admin.post(`/groups/${group.groupId}/requests/${requestId}/approve`, {});
  const result = await joining;
  assert.equal(result.groupName, 'Family network');
  assert.equal(result.certificate.name, 'Alice');
  assert.deepEqual(events, ['contacting-server', 'group-found', 'request-sent', 'waiting-for-approval', 'approved', 'certificate-saved', 'revocations-updated']);

  for (const file of ['identity.key', `groups/${group.groupId}/join.json`, `groups/${group.groupId}/invitation`]) {
    assert.equal(statSync(join(stateDir, file)).mode & 0o777, 0o600, `${file} is private`);
  }
  for (const file of [`ca/${group.groupId}.key`, 'tls/key.pem', 'groups.sqlite', 'cookie-secret']) {
    assert.equal(statSync(join(dataDir, file)).mode & 0o777, 0o600, `server ${file} is private`);
  }
  const membership = loadMembership(stateDir, group.groupId);
  assert.equal(membership.certificate.serial, result.certificate.serial);
  assert.equal(membership.identity.address, result.certificate.address);

  // Restart: same data directory, same TLS certificate (the pin holds), same group and member.
  const fingerprint = server.fingerprint;
  await server.close();
  server = await startTestServer(dataDir, { openGroupCreation: true });
  assert.equal(server.fingerprint, fingerprint);
  const invitation = { ...group.invitation, serverUrl: server.url };
  const admin = new WebSession(server.url);
  await admin.get('/login');
  const loggedIn = await admin.post('/login', { username: 'admin', password: 'correct horse battery' });
  assert.equal(loggedIn.status, 200);
  const [memberId] = await memberIds(admin, group.groupId);
  assert.ok(memberId !== undefined, 'the member survived the restart');

  // Gateway on: a new certificate with the gateway role, fetched by the client.
  // The restarted server listens on another port: point the saved invitation at it.
  new GroupStateDir(stateDir, group.groupId).saveInvitation(formatInvitationLink(invitation));
  await admin.post(`/groups/${group.groupId}/members/${memberId}/gateway-on`, {});
  const renewed = await refreshCertificate(stateDir, group.groupId);
  assert.ok(hasRole(renewed, 'gateway'));
  assert.ok(renewed.serial > result.certificate.serial);

  // Ban: the refreshed CRL revokes this node; its membership no longer loads.
  const banned = await admin.post(`/groups/${group.groupId}/members/${memberId}/ban`, {});
  assert.match(banned.text, /banned/);
  const crl = await refreshCrl(stateDir, group.groupId);
  assert.ok(crl.updated && crl.sequence >= 2);
  assert.throws(() => loadMembership(stateDir, group.groupId), (e: unknown) => e instanceof GroupError && /removed this computer/.test(e.message));

  // Banned e-mail and banned device cannot come back.
  await assert.rejects(
    joinGroup({ invitation, name: 'Alice again', email: 'ALICE@example.org', stateDir: join(temp.path, 'alice2'), pollIntervalMs: 50 }),
    /banned/,
  );
});

test('a wrong pinned fingerprint is refused before anything is sent', async () => {
  assert.ok(server !== null);
  const group = await createGroupThroughWeb(server, 'Pinned', 'pinadmin');
  const wrong = { ...group.invitation, fingerprint: 'ab'.repeat(32) };
  await assert.rejects(
    joinGroup({ invitation: wrong, name: 'Mallory', email: 'm@example.org', stateDir: join(temp.path, 'mallory') }),
    (e: unknown) => e instanceof GroupError && e.code === 'server-not-trusted',
  );
  assert.deepEqual(await pendingRequestIds(group.admin, group.groupId), []);
});

test('the web join page gives a join code the app can use; automatic signing needs no admin', async () => {
  assert.ok(server !== null);
  const group = await createGroupThroughWeb(server, 'Club', 'clubadmin');
  const visitor = new WebSession(server.url);
  const joinPath = `/join/${group.groupId}/${group.invitation.token}`;
  const form = await visitor.get(joinPath);
  assert.equal(form.status, 200);
  const noTerms = await visitor.post(joinPath, { name: 'Bob', email: 'bob@example.org' });
  assert.equal(noTerms.status, 400);
  assert.match(noTerms.text, /accept the group/);
  const sent = await visitor.post(joinPath, { name: 'Bob', email: 'bob@example.org', acceptTerms: 'on' });
  assert.equal(sent.status, 201);
  const code = /aria-label="Join code">([^<]+)</.exec(sent.text)?.[1];
  assert.ok(code !== undefined && code.startsWith('rvj1.'));
  const [requestId] = await pendingRequestIds(group.admin, group.groupId);
  await group.admin.post(`/groups/${group.groupId}/requests/${requestId}/approve`, {});
  const bob = await joinGroup({ invitation: group.invitation, name: 'ignored', email: 'ignored@example.org', joinCode: code, stateDir: join(temp.path, 'bob'), pollIntervalMs: 50 });
  assert.equal(bob.certificate.name, 'Bob');
  const status = await visitor.get(`/join/${group.groupId}/status/${requestId}`);
  assert.match(status.text, /approved/);

  await group.admin.post(`/groups/${group.groupId}/settings`, { autoApprove: 'on' });
  const carol = await joinGroup({ invitation: group.invitation, name: 'Carol', email: 'carol@example.org', stateDir: join(temp.path, 'carol'), approvalTimeoutMs: 2_000 });
  assert.equal(carol.certificate.name, 'Carol');
});

test('a denied person may ask again; joining a group twice reuses the saved certificate', async () => {
  assert.ok(server !== null);
  const group = await createGroupThroughWeb(server, 'Strict', 'strictadmin');
  const stateDir = join(temp.path, 'dan');
  const first = joinGroup({ invitation: group.invitation, name: 'Dan', email: 'dan@example.org', stateDir, pollIntervalMs: 50 });
  const [requestId] = await waitFor('the request', async () => {
    const ids = await pendingRequestIds(group.admin, group.groupId);
    return ids.length > 0 ? ids : undefined;
  });
  await group.admin.post(`/groups/${group.groupId}/requests/${requestId}/deny`, {});
  await assert.rejects(first, (e: unknown) => e instanceof GroupError && e.code === 'denied' && /declined/.test(e.message));

  const second = joinGroup({ invitation: group.invitation, name: 'Dan', email: 'dan@example.org', stateDir, pollIntervalMs: 50 });
  const [again] = await waitFor('the second request', async () => {
    const ids = await pendingRequestIds(group.admin, group.groupId);
    return ids.length > 0 ? ids : undefined;
  });
  assert.notEqual(again, requestId);
  await group.admin.post(`/groups/${group.groupId}/requests/${again}/approve`, {});
  const joined = await second;
  const twice = await joinGroup({ invitation: group.invitation, name: 'Dan', email: 'dan@example.org', stateDir });
  assert.equal(twice.certificate.serial, joined.certificate.serial);
  assert.deepEqual(await pendingRequestIds(group.admin, group.groupId), []);
});
