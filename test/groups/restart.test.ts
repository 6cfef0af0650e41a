import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { addressToHex } from '../../src/overlay/address.js';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { identityFromSeed } from '../../src/overlay/identity.js';
import type { GroupServer } from '../../src/group-server/app.js';
import { API_PREFIX, certificateRequestMessage, signWithNodeKey } from '../../src/groups/api-protocol.js';
import { fromBase64Url, toBase64Url, toHex } from '../../src/groups/binary.js';
import { checkCertificateBytes } from '../../src/groups/certificate.js';
import { RevocationSet, decodeCrl } from '../../src/groups/revocation.js';
import { createGroupThroughWeb, makeTempDir, memberIds, pendingRequestIds, startTestServer } from './server-fixture.js';
import { postJson, rawRequest } from './web-session.js';

/** Everything the server knows lives in its data directory: a restart on it loses nothing. */
const temp = makeTempDir('restart');
let server: GroupServer | null = null;
before(async () => {
  await cryptoReady();
});
after(async () => {
  await server?.close();
  temp.remove();
});

test('after a restart: the admin\'s session, waiting requests, members, settings, the CRL, the CA and replay protection are all still there', async () => {
  const dataDir = join(temp.path, 'server');
  server = await startTestServer(dataDir);
  const group = await createGroupThroughWeb(server, 'Durable');
  const api = (s: GroupServer, path: string) => `${s.url}${API_PREFIX}/groups/${group.groupId}${path}`;

  // A member (approved with its device key), a banned one, and one still waiting.
  const ask = async (name: string) => {
    const created = await postJson(api(server as GroupServer, '/join-requests'), { inviteToken: group.invitation.token, name, email: `${name.toLowerCase()}@example.org`, acceptTerms: true });
    assert.equal(created.status, 201);
    return { requestId: created.json.requestId as string, secret: created.json.secret as string };
  };
  const node = identityFromSeed(new Uint8Array(randomBytes(32)));
  const certRequest = (requestId: string, secret: string) => {
    const timestamp = Date.now();
    const nonce = new Uint8Array(randomBytes(16));
    const message = certificateRequestMessage({ groupId: Buffer.from(group.groupId, 'hex'), requestId: Buffer.from(requestId, 'hex'), publicKey: node.publicKey, address: node.address, timestamp, nonce });
    return { requestId, secret, publicKey: toBase64Url(node.publicKey), address: addressToHex(node.address), timestamp, nonce: toHex(nonce), signature: toBase64Url(signWithNodeKey(message, node.secretKey)) };
  };
  const kept = await ask('Kept');
  const signed = certRequest(kept.requestId, kept.secret);
  assert.equal((await postJson(api(server, '/certificate-requests'), signed)).status, 202);
  await group.admin.post(`/groups/${group.groupId}/requests/${kept.requestId}/approve`, {});
  const banned = await ask('Banned');
  await group.admin.post(`/groups/${group.groupId}/requests/${banned.requestId}/approve`, {});
  const waiting = await ask('Waiting');
  assert.equal((await memberIds(group.admin, group.groupId)).length, 1);
  // Ban needs a member: give "Banned" a device too.
  const other = identityFromSeed(new Uint8Array(randomBytes(32)));
  {
    const timestamp = Date.now();
    const nonce = new Uint8Array(randomBytes(16));
    const message = certificateRequestMessage({ groupId: Buffer.from(group.groupId, 'hex'), requestId: Buffer.from(banned.requestId, 'hex'), publicKey: other.publicKey, address: other.address, timestamp, nonce });
    const res = await postJson(api(server, '/certificate-requests'), {
      requestId: banned.requestId, secret: banned.secret, publicKey: toBase64Url(other.publicKey), address: addressToHex(other.address), timestamp, nonce: toHex(nonce), signature: toBase64Url(signWithNodeKey(message, other.secretKey)),
    });
    assert.equal(res.status, 200, res.text);
  }
  const page = await group.admin.get(`/groups/${group.groupId}/members`);
  const bannedId = /\/members\/(\d+)\/ban">(?:(?!<\/form>)[\s\S])*aria-label="Ban Banned"/.exec(page.text)?.[1];
  assert.ok(bannedId !== undefined);
  await group.admin.post(`/groups/${group.groupId}/members/${bannedId}/ban`, {});
  await group.admin.post(`/groups/${group.groupId}/settings`, { autoApprove: 'on' });
  const crlBefore = JSON.parse((await rawRequest(api(server, '/crl'))).text) as { crl: string; sequence: number };
  const certBefore = JSON.parse((await rawRequest(api(server, `/join-requests/${kept.requestId}`))).text) as { certificate: string };
  const fingerprint = server.fingerprint;

  await server.close();
  server = await startTestServer(dataDir);
  // The admin's browser keeps its cookie: same session, no new login. It only follows the new port.
  group.admin.baseUrl = server.url;
  assert.equal(server.fingerprint, fingerprint, 'same TLS certificate: invitations still pin it');

  const overview = await group.admin.get(`/groups/${group.groupId}`);
  assert.equal(overview.status, 200, 'the session survived');
  assert.match(overview.text, /name="autoApprove" value="on" checked/, 'the setting survived');
  assert.deepEqual(await pendingRequestIds(group.admin, group.groupId), [waiting.requestId], 'the waiting request survived');
  const after = await group.admin.get(`/groups/${group.groupId}/members`);
  assert.match(after.text, /<td>Kept<\/td>[\s\S]*?status active/);
  assert.match(after.text, /<td>Banned<\/td>[\s\S]*?status banned/);

  const crlAfter = JSON.parse((await rawRequest(api(server, '/crl'))).text) as { crl: string; sequence: number };
  assert.equal(crlAfter.sequence, crlBefore.sequence);
  const certAfter = JSON.parse((await rawRequest(api(server, `/join-requests/${kept.requestId}`))).text) as { certificate: string };
  assert.equal(certAfter.certificate, certBefore.certificate);
  // The CA key is the same: the old certificate verifies against the CRL issued after the restart.
  const info = JSON.parse((await rawRequest(api(server, ''))).text) as { caPublicKey: string };
  const anchor = { groupId: new Uint8Array(Buffer.from(group.groupId, 'hex')), caPublicKey: fromBase64Url(info.caPublicKey, 32) as Uint8Array };
  const set = new RevocationSet(anchor);
  const crl = decodeCrl(fromBase64Url(crlAfter.crl, 1 << 20) as Uint8Array);
  assert.ok(crl.ok && set.applyCrl(crl.value), 'the CRL is signed by the same CA');
  assert.ok(checkCertificateBytes(fromBase64Url(certAfter.certificate, 2048) as Uint8Array, anchor, Date.now(), set).ok);
  assert.ok(set.isRevoked(-1, other.publicKey), 'the ban is still in the CRL');

  // Replay protection is in the database too: the exact request sent before the restart is refused.
  const replay = await postJson(api(server, '/certificate-requests'), signed);
  assert.equal(replay.status, 409);
  assert.match(replay.json.error as string, /replay/);
});
