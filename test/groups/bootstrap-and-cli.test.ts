import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { identityFromSeed } from '../../src/overlay/identity.js';
import { addressToHex } from '../../src/overlay/address.js';
import { API_PREFIX, memberReportMessage, signWithNodeKey } from '../../src/groups/api-protocol.js';
import { toBase64Url, toHex } from '../../src/groups/binary.js';
import { GroupApiClient } from '../../src/groups/group-api-client.js';
import { joinGroup } from '../../src/groups/join.js';
import { loadMembership } from '../../src/groups/membership.js';
import { GroupError } from '../../src/groups/errors.js';
import { createGroupThroughWeb, makeTempDir, startTestServer } from './server-fixture.js';
import { postJson, rawRequest } from './web-session.js';

const temp = makeTempDir('bootstrap');
before(async () => {
  await cryptoReady();
});
after(() => temp.remove());

test('members report their endpoints and get each other back; non-members and replays are refused', async () => {
  const server = await startTestServer(join(temp.path, 'server'));
  try {
    const group = await createGroupThroughWeb(server, 'Ring');
    await group.admin.post(`/groups/${group.groupId}/settings`, { autoApprove: 'on' });
    const join1 = await joinGroup({ invitation: group.invitation, name: 'one', email: 'one@example.org', stateDir: join(temp.path, 'one') });
    const join2 = await joinGroup({ invitation: group.invitation, name: 'two', email: 'two@example.org', stateDir: join(temp.path, 'two') });
    const one = loadMembership(join(temp.path, 'one'), join1.groupId);
    const two = loadMembership(join(temp.path, 'two'), join2.groupId);
    const client = new GroupApiClient(group.invitation);
    assert.deepEqual(await client.report(one.identity, ['192.0.2.1:4500']), []);
    const peers = await client.report(two.identity, ['198.51.100.2:4500', '[2001:db8::2]:4500']);
    assert.equal(peers.length, 1);
    assert.equal(peers[0]?.address, addressToHex(one.identity.address));
    assert.deepEqual(peers[0]?.endpoints, ['192.0.2.1:4500']);

    const stranger = identityFromSeed(new Uint8Array(randomBytes(32)));
    await assert.rejects(client.report(stranger, []), (e: unknown) => e instanceof GroupError && /not a member/.test(e.message));
    await assert.rejects(client.report(one.identity, ['not-an-endpoint']), /endpoints must be a list/);

    const timestamp = Date.now();
    const nonce = new Uint8Array(randomBytes(16));
    const endpoints = ['192.0.2.1:4501'];
    const message = memberReportMessage({ groupId: Buffer.from(group.groupId, 'hex'), publicKey: one.identity.publicKey, endpoints, timestamp, nonce });
    const body = { publicKey: toBase64Url(one.identity.publicKey), endpoints, timestamp, nonce: toHex(nonce), signature: toBase64Url(signWithNodeKey(message, one.identity.secretKey)) };
    const url = `${server.url}${API_PREFIX}/groups/${group.groupId}/reports`;
    assert.equal((await postJson(url, body)).status, 200);
    const replay = await postJson(url, body);
    assert.equal(replay.status, 409);
    const tampered = await postJson(url, { ...body, nonce: toHex(new Uint8Array(randomBytes(16))), endpoints: ['203.0.113.9:1'] });
    assert.equal(tampered.status, 403);

    const members = await group.admin.get(`/groups/${group.groupId}/members`);
    assert.doesNotMatch(members.text, /<td class="time">never<\/td>/, 'both members have a last-seen time');
    assert.equal([...members.text.matchAll(/<td class="time">\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC<\/td>/g)].length, 2);
  } finally {
    await server.close();
  }
});

function runCli(args: string[]): { child: ReturnType<typeof spawn>; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/group-server/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

test('the group-server command starts, answers, and stops cleanly on SIGTERM; bad arguments explain themselves', async () => {
  const run = runCli(['--data', join(temp.path, 'cli'), '--port', '0', '--http']);
  try {
    const deadline = Date.now() + 15_000;
    let url: string | undefined;
    while (url === undefined && Date.now() < deadline) {
      url = /listening at (http:\/\/\S+)/.exec(run.output())?.[1];
      if (url === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(url !== undefined, `no start line: ${run.output()}`);
    assert.equal((await rawRequest(`${url}${API_PREFIX}/health`)).status, 200);
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0);
  } finally {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  }
  const bad = runCli(['--data', join(temp.path, 'cli2'), '--port', 'eighty']);
  assert.equal(await bad.exited, 2);
  assert.match(bad.output(), /--port needs a number/);
  assert.match(bad.output(), /Usage: ringvpn group-server/);
});
