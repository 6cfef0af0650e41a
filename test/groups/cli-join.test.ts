import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { silentLogger } from '../../src/overlay/log.js';
import type { GroupServer } from '../../src/group-server/app.js';
import { GroupApiClient } from '../../src/groups/group-api-client.js';
import { openGroupForNode } from '../../src/groups/group-node.js';
import { refreshCrl } from '../../src/groups/membership.js';
import { NodeHost } from '../../src/node-host/node-host.js';
import { createGroupThroughWeb, makeTempDir, memberIds, pendingRequestIds } from './server-fixture.js';

const REPO = join(import.meta.dirname, '../..');
const RINGVPN = join(REPO, 'bin/ringvpn.js');
const temp = makeTempDir('cli-join');
const children: ChildProcess[] = [];

before(async () => {
  await cryptoReady();
});
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  temp.remove();
});

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function ringvpn(args: string[]): Run {
  const child = spawn(process.execPath, [RINGVPN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const v = check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('ringvpn group-server, then ringvpn join waits for approval and saves a private key and certificate; a ban reaches a long-polling client at once', async () => {
  const server = ringvpn(['group-server', '--data', join(temp.path, 'server'), '--port', '0', '--http']);
  try {
    const url = await waitFor('the server to start', () => /listening at (http:\/\/\S+)/.exec(server.output())?.[1]);
    const group = await createGroupThroughWeb({ url } as GroupServer, 'CLI group');
    const stateDir = join(temp.path, 'alice');
    const joining = ringvpn(['join', group.invitationLink, '--name', 'Alice', '--email', 'alice@example.org', '--state-dir', stateDir]);
    await waitFor('the join to wait for approval', () => (/Waiting for an admin/.test(joining.output()) ? true : undefined));
    const [requestId] = await pendingRequestIds(group.admin, group.groupId);
    assert.ok(requestId !== undefined, 'the request is in the admin queue');
    await group.admin.post(`/groups/${group.groupId}/requests/${requestId}/approve`, {});
    assert.equal(await joining.exited, 0, joining.output());
    const out = joining.output();
    process.stderr.write(out);
    for (const line of [/Contacting the group server/, /Found the group "CLI group"/, /Asked to join/, /Approved\./, /Saved the member certificate/, /You are a member of "CLI group" as "Alice"/]) {
      assert.match(out, line);
    }
    for (const file of ['identity.key', `groups/${group.groupId}/certificate`, `groups/${group.groupId}/join.json`]) {
      assert.equal(statSync(join(stateDir, file)).mode & 0o777, 0o600, `${file} is private`);
    }

    // The node host finds the membership: the group's id is the private ring's id.
    const found = openGroupForNode(stateDir, undefined);
    assert.ok(found !== null);
    assert.equal(Buffer.from(found.networkId).toString('hex'), group.groupId);
    assert.equal(openGroupForNode(stateDir, 'some-other-network'), null);
    assert.ok(openGroupForNode(stateDir, 'ringvpn-lan') !== null, "ringvpn up's default network means the group too");
    assert.ok(openGroupForNode(stateDir, group.groupId) !== null);

    // Joining again is a no-op that says so.
    const again = ringvpn(['join', group.invitationLink, '--name', 'Alice', '--email', 'alice@example.org', '--state-dir', stateDir]);
    assert.equal(await again.exited, 0, again.output());

    // A client long-polls the CRL; the admin bans Alice; the answer comes at once.
    const client = new GroupApiClient(group.invitation, { timeoutMs: 30_000 });
    const before = await client.crl();
    const waiting = client.crl({ after: before.sequence, waitSeconds: 20 });
    await new Promise((r) => setTimeout(r, 300));
    const [memberId] = await memberIds(group.admin, group.groupId);
    const bannedAt = Date.now();
    await group.admin.post(`/groups/${group.groupId}/members/${memberId}/ban`, {});
    const after = await waiting;
    const ms = Date.now() - bannedAt;
    process.stderr.write(`long-polled CRL arrived ${ms} ms after the ban (sequence ${before.sequence} -> ${after.sequence})\n`);
    assert.ok(after.sequence > before.sequence);
    assert.ok(ms < 5_000);
    // Nothing new: the server holds the answer for the wait, then answers with the same CRL.
    const t0 = Date.now();
    const unchanged = await client.crl({ after: after.sequence, waitSeconds: 1 });
    assert.equal(unchanged.sequence, after.sequence);
    assert.ok(Date.now() - t0 >= 900);

    // Once the CRL is here, a banned computer's node refuses to start, in plain words.
    await refreshCrl(stateDir, group.groupId);
    await assert.rejects(
      NodeHost.start({ stateDir, port: 0, listenHost: '127.0.0.1', bootstraps: [], networkName: 'ringvpn-public', log: silentLogger }),
      /an admin removed this computer from the group/,
    );
  } finally {
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
  }
});

test('ringvpn join explains bad input in plain words', async () => {
  const noArgs = ringvpn(['join']);
  assert.equal(await noArgs.exited, 2);
  assert.match(noArgs.output(), /join needs exactly one INVITATION/);
  const noName = ringvpn(['join', 'ringvpn://join?x=1']);
  assert.equal(await noName.exited, 2);
  assert.match(noName.output(), /give --name and --email/);
  const missingFile = ringvpn(['join', join(temp.path, 'nothing-here.ringvpn'), '--name', 'a', '--email', 'a@example.org']);
  assert.equal(await missingFile.exited, 2);
  assert.match(missingFile.output(), /neither a ringvpn:\/\/join\?\.\.\. link nor an invitation file/);
  const file = join(temp.path, 'bad.ringvpn');
  writeFileSync(file, '# not an invitation\nhello\n');
  const bad = ringvpn(['join', file, '--name', 'a', '--email', 'a@example.org', '--state-dir', join(temp.path, 'bad')]);
  assert.equal(await bad.exited, 1);
  assert.match(bad.output(), /The invitation cannot be used: this is not a RingVPN invitation/);
  const unreachable = ringvpn([
    'join',
    `ringvpn://join?server=${encodeURIComponent('http://127.0.0.1:9')}&group=${'ab'.repeat(16)}&token=${'t'.repeat(24)}`,
    '--name', 'a', '--email', 'a@example.org', '--state-dir', join(temp.path, 'unreachable'),
  ]);
  assert.equal(await unreachable.exited, 1);
  assert.match(unreachable.output(), /^ringvpn join: Could not reach the group server at http:\/\/127\.0\.0\.1:9: nothing answers there; is it running\?$/m);
  assert.doesNotMatch(unreachable.output(), /at .*\.ts:\d+/, 'no stack trace');
});
