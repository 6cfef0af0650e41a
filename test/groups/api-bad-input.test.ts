import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { addressToHex } from '../../src/overlay/address.js';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { identityFromSeed } from '../../src/overlay/identity.js';
import type { GroupServer } from '../../src/group-server/app.js';
import { API_PREFIX, certificateRequestMessage, signWithNodeKey } from '../../src/groups/api-protocol.js';
import { toBase64Url, toHex } from '../../src/groups/binary.js';
import { type TestGroup, createGroupThroughWeb, makeTempDir, pendingRequestIds, startTestServer } from './server-fixture.js';
import { WebSession, postJson, rawRequest } from './web-session.js';

const temp = makeTempDir('api-bad-input');
let server: GroupServer;
let group: TestGroup;

before(async () => {
  await cryptoReady();
  server = await startTestServer(join(temp.path, 'server'));
  group = await createGroupThroughWeb(server, 'Bad input lab');
});
after(async () => {
  await server.close();
  temp.remove();
});

const api = (path: string) => `${server.url}${API_PREFIX}/groups/${group.groupId}${path}`;

async function expectJsonError(res: { status: number; text: string }, status: number, pattern?: RegExp): Promise<void> {
  assert.equal(res.status, status, res.text);
  const body = JSON.parse(res.text) as { error?: unknown };
  assert.equal(typeof body.error, 'string');
  assert.doesNotMatch(res.text, /\bat .*\.(ts|js):\d+/, 'no stack trace');
  if (pattern) assert.match(body.error as string, pattern);
}

async function stillRunning(): Promise<void> {
  const res = await rawRequest(`${server.url}${API_PREFIX}/health`);
  assert.equal(res.status, 200);
}

describe('malformed requests get a clear JSON error and the server keeps running', () => {
  test('bad JSON, wrong types, oversized bodies, unknown groups and paths', async () => {
    await expectJsonError(await postJson(api('/join-requests'), '{"name": '), 400, /not valid JSON/);
    await expectJsonError(await postJson(api('/join-requests'), '[1,2]'), 400, /JSON object/);
    await expectJsonError(await postJson(api('/join-requests'), 'null'), 400);
    await expectJsonError(await postJson(api('/join-requests'), '"text"'), 400);
    const big = JSON.stringify({ inviteToken: group.invitation.token, name: 'x'.repeat(40_000), email: 'a@b.cd', acceptTerms: true });
    await expectJsonError(await postJson(api('/join-requests'), big), 413, /too large/);
    const huge = await rawRequest(api('/join-requests'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.alloc(2_000_000, 0x20) });
    await expectJsonError(huge, 413);
    const plain = await rawRequest(api('/join-requests'), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    await expectJsonError(plain, 400, /JSON object/);
    await expectJsonError(await rawRequest(`${server.url}${API_PREFIX}/groups/${'0'.repeat(32)}`), 404, /no such group/);
    await expectJsonError(await rawRequest(`${server.url}${API_PREFIX}/groups/..%2F..%2Fetc%2Fpasswd`), 404);
    await expectJsonError(await rawRequest(`${server.url}${API_PREFIX}/nothing-here`), 404);
    await expectJsonError(await postJson(api('/join-requests'), { inviteToken: 'x'.repeat(32), name: 'A', email: 'a@b.cd', acceptTerms: true }), 403, /invitation/);
    await expectJsonError(await postJson(api('/join-requests'), { inviteToken: group.invitation.token, name: 42, email: 'a@b.cd', acceptTerms: true }), 400, /name must be text/);
    await expectJsonError(await postJson(api('/join-requests'), { inviteToken: group.invitation.token, name: 'A', email: 'a@b.cd' }), 400, /accept/);
    await expectJsonError(await postJson(api('/join-requests'), { inviteToken: group.invitation.token, name: 'A\u0000B', email: 'a@b.cd', acceptTerms: true }), 400, /control/);
    await expectJsonError(await rawRequest(api('/join-requests/zz')), 404);
    await stillRunning();
  });

  test('SQL and HTML injection in every text field is stored as text and shown escaped', async () => {
    const evil = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "'; DROP TABLE members; --", "Robert'); DROP TABLE join_requests;--"];
    for (const name of evil) {
      const res = await postJson(api('/join-requests'), { inviteToken: group.invitation.token, name, email: 'eve@example.org', acceptTerms: true });
      assert.equal(res.status, 201, res.text);
    }
    for (const email of evil.concat(['eve@example.org<script>', "x@y.z'--"])) {
      await expectJsonError(await postJson(api('/join-requests'), { inviteToken: group.invitation.token, name: 'Eve', email, acceptTerms: true }), 400, /e-mail/);
    }
    // The web join page: the same strings through the form.
    const visitor = new WebSession(server.url);
    const joinPath = `/join/${group.groupId}/${group.invitation.token}`;
    await visitor.get(joinPath);
    const formRes = await visitor.post(joinPath, { name: evil[1] as string, email: 'x"><script>@example.org', acceptTerms: 'on' });
    assert.equal(formRes.status, 400);
    assert.doesNotMatch(formRes.text, /<script>/);
    assert.doesNotMatch(formRes.text, /"><img/);
    const ok = await visitor.post(joinPath, { name: evil[0] as string, email: 'web@example.org', acceptTerms: 'on' });
    assert.equal(ok.status, 201);

    const queue = await group.admin.get(`/groups/${group.groupId}/requests`);
    assert.equal(queue.status, 200);
    assert.doesNotMatch(queue.text, /<script>alert/);
    assert.doesNotMatch(queue.text, /<img src=x/);
    assert.match(queue.text, /&#60;script&#62;alert\(1\)&#60;\/script&#62;/);
    assert.match(queue.text, /&#39;; DROP TABLE members; --/);
    assert.equal((await pendingRequestIds(group.admin, group.groupId)).length, evil.length + 1, 'every table is still there');

    // Group creation and login fields.
    const creator = new WebSession(server.url);
    await creator.get('/');
    const closed = await creator.post('/groups', { groupName: '<b>x</b>', username: 'someone', email: 's@example.org', password: 'long enough password' });
    assert.equal(closed.status, 403, 'only the first group may be created without logging in');
    const badUser = await group.admin.post('/groups', { groupName: '<b>G</b>', username: "x' OR '1'='1", email: 's@example.org', password: 'long enough password' });
    assert.equal(badUser.status, 400);
    assert.match(badUser.text, /user name/);
    assert.match(badUser.text, /value="&#60;b&#62;G&#60;\/b&#62;"/);
    const login = new WebSession(server.url);
    await login.get('/login');
    const sqlLogin = await login.post('/login', { username: "admin' OR '1'='1' --", password: "' OR '1'='1" });
    assert.equal(sqlLogin.status, 401);
    assert.match(sqlLogin.text, /Wrong user name or password/);
    await stillRunning();
  });

  test('forms without a CSRF token, pages without a session, and other groups are refused', async () => {
    const noToken = await group.admin.post(`/groups/${group.groupId}/settings`, { autoApprove: 'on' }, { csrf: false });
    assert.equal(noToken.status, 403);
    assert.match(noToken.text, /reload the page/);
    const stranger = new WebSession(server.url);
    const redirected = await rawRequest(`${server.url}/groups/${group.groupId}/members`);
    assert.equal(redirected.status, 303);
    assert.equal(redirected.headers.location, '/login');
    const other = await createGroupThroughWeb(server, 'Other', 'otheradmin').catch(() => null);
    assert.equal(other, null, 'closed creation: a stranger cannot make a second group');
    // Creating a group logs the creator in as its admin: use a copy of the session.
    const adminCopy = new WebSession(server.url);
    await adminCopy.get('/login');
    await adminCopy.post('/login', { username: 'admin', password: 'correct horse battery' });
    const second = await adminCopy.post('/groups', { groupName: 'Second', username: 'second', email: 'z@example.org', password: 'long enough password' });
    assert.equal(second.status, 200, 'an admin can create another group');
    const secondId = /\/groups\/([0-9a-f]{32})\/invite\/renew/.exec(second.text)?.[1];
    assert.ok(secondId !== undefined && secondId !== group.groupId);
    await stranger.get('/login');
    await stranger.post('/login', { username: 'admin', password: 'correct horse battery' });
    const forbidden = await stranger.get(`/groups/${secondId}/members`);
    assert.equal(forbidden.status, 403, "one group's admin cannot see another's members");
  });
});

describe('certificate requests: forged, replayed, reused and stale ones are refused', () => {
  test('every check answers with its own clear error', async () => {
    const created = await postJson(api('/join-requests'), { inviteToken: group.invitation.token, name: 'Dora', email: 'dora@example.org', acceptTerms: true });
    assert.equal(created.status, 201);
    const requestId = created.json.requestId as string;
    const secret = created.json.secret as string;
    const node = identityFromSeed(new Uint8Array(randomBytes(32)));
    const other = identityFromSeed(new Uint8Array(randomBytes(32)));
    const body = (o: { signer?: typeof node; key?: typeof node; secret?: string; timestamp?: number; address?: string } = {}) => {
      const key = o.key ?? node;
      const timestamp = o.timestamp ?? Date.now();
      const nonce = new Uint8Array(randomBytes(16));
      const message = certificateRequestMessage({ groupId: Buffer.from(group.groupId, 'hex'), requestId: Buffer.from(requestId, 'hex'), publicKey: key.publicKey, address: key.address, timestamp, nonce });
      return {
        requestId,
        secret: o.secret ?? secret,
        publicKey: toBase64Url(key.publicKey),
        address: o.address ?? addressToHex(key.address),
        timestamp,
        nonce: toHex(nonce),
        signature: toBase64Url(signWithNodeKey(message, (o.signer ?? key).secretKey)),
      };
    };
    const url = api('/certificate-requests');
    await expectJsonError(await postJson(url, body({ signer: other })), 403, /not signed by the key/);
    await expectJsonError(await postJson(url, body({ address: addressToHex(other.address) })), 400, /address does not belong/);
    await expectJsonError(await postJson(url, body({ timestamp: Date.now() - 3_600_000 })), 400, /clock/);
    await expectJsonError(await postJson(url, body({ secret: 'A'.repeat(43) })), 403, /secret is wrong/);
    await expectJsonError(await postJson(url, { ...body(), requestId: 'nothex' }), 400, /request id/);
    await expectJsonError(await postJson(url, { ...body(), signature: 'short' }), 400, /signature/);
    await expectJsonError(await postJson(url, { ...body(), requestId: 'f'.repeat(32) }), 404);

    const good = body();
    const first = await postJson(url, good);
    assert.equal(first.status, 202, first.text);
    assert.equal(first.json.state, 'pending');
    await expectJsonError(await postJson(url, good), 409, /replay/);
    await expectJsonError(await postJson(url, body({ key: other })), 409, /already used/);
    const again = await postJson(url, body());
    assert.equal(again.status, 202, 'the same device may ask again with a fresh request');

    assert.ok((await pendingRequestIds(group.admin, group.groupId)).includes(requestId));
    await group.admin.post(`/groups/${group.groupId}/requests/${requestId}/approve`, {});
    const status = await rawRequest(api(`/join-requests/${requestId}`));
    const parsed = JSON.parse(status.text) as { state: string; certificate?: string };
    assert.equal(parsed.state, 'approved');
    assert.ok(typeof parsed.certificate === 'string');
    const signedNow = await postJson(url, body());
    assert.equal(signedNow.status, 200);
    assert.equal(signedNow.json.certificate, parsed.certificate);
    await stillRunning();
  });
});

describe('rate limits and plain HTTP mode', () => {
  test('join and certificate requests are limited per address', async () => {
    const small = await startTestServer(join(temp.path, 'limited'), {
      http: true,
      rateLimits: { join: { max: 3, timeWindow: 60_000 }, certificate: { max: 2, timeWindow: 60_000 } },
    });
    try {
      const g = await createGroupThroughWeb(small, 'Limited', 'limitadmin');
      assert.equal(g.invitation.fingerprint, null, 'no pin over plain HTTP');
      const url = `${small.url}${API_PREFIX}/groups/${g.groupId}`;
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        statuses.push((await postJson(`${url}/join-requests`, { inviteToken: g.invitation.token, name: `P${i}`, email: `p${i}@example.org`, acceptTerms: true })).status);
      }
      assert.deepEqual(statuses, [201, 201, 201, 429, 429]);
      const limited = await postJson(`${url}/join-requests`, { inviteToken: g.invitation.token, name: 'Q', email: 'q@example.org', acceptTerms: true });
      assert.match(limited.json.error as string, /too many requests/);
      const certStatuses: number[] = [];
      for (let i = 0; i < 3; i++) certStatuses.push((await postJson(`${url}/certificate-requests`, {})).status);
      assert.deepEqual(certStatuses, [400, 400, 429]);
      assert.equal((await rawRequest(`${small.url}${API_PREFIX}/health`)).status, 200);
    } finally {
      await small.close();
    }
  });
});

describe('one device, two requests', () => {
  test('approving the second request of a device that is already a member says so, and changes nothing', async () => {
    const node = identityFromSeed(new Uint8Array(randomBytes(32)));
    const url = api('/certificate-requests');
    const ids: string[] = [];
    for (const email of ['twice1@example.org', 'twice2@example.org']) {
      const created = await postJson(api('/join-requests'), { inviteToken: group.invitation.token, name: 'Twice', email, acceptTerms: true });
      assert.equal(created.status, 201);
      const requestId = created.json.requestId as string;
      ids.push(requestId);
      const timestamp = Date.now();
      const nonce = new Uint8Array(randomBytes(16));
      const message = certificateRequestMessage({ groupId: Buffer.from(group.groupId, 'hex'), requestId: Buffer.from(requestId, 'hex'), publicKey: node.publicKey, address: node.address, timestamp, nonce });
      const res = await postJson(url, {
        requestId, secret: created.json.secret, publicKey: toBase64Url(node.publicKey), address: addressToHex(node.address),
        timestamp, nonce: toHex(nonce), signature: toBase64Url(signWithNodeKey(message, node.secretKey)),
      });
      assert.equal(res.status, 202, res.text);
    }
    const first = await group.admin.post(`/groups/${group.groupId}/requests/${ids[0] as string}/approve`, {});
    assert.match(first.text, /Approved/);
    const second = await group.admin.post(`/groups/${group.groupId}/requests/${ids[1] as string}/approve`, {});
    assert.equal(second.status, 409);
    assert.match(second.text, /already a member of the group through another request/);
    assert.ok((await pendingRequestIds(group.admin, group.groupId)).includes(ids[1] as string), 'still waiting, for a denial');
    const denied = await group.admin.post(`/groups/${group.groupId}/requests/${ids[1] as string}/deny`, {});
    assert.match(denied.text, /Request denied/);
    assert.equal((await group.admin.post(`/groups/${group.groupId}/requests/${ids[1] as string}/approve`, {})).status, 409, 'decided already');
    const unknown = await group.admin.post(`/groups/${group.groupId}/requests/${'e'.repeat(32)}/approve`, {});
    assert.equal(unknown.status, 404);
    assert.match(unknown.text, /no such join request/);
    await stillRunning();
  });
});
