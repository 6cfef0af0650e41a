import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ConnectResult } from '../../src/node-host/connect-session.js';
import { ControlClientError, controlRequest } from '../../src/node-host/control-client.js';
import { decodeRequest } from '../../src/node-host/control-protocol.js';
import type { NodeHost } from '../../src/node-host/node-host.js';
import { loopbackHosts, waitFor } from '../helpers/loopback-hosts.js';
import type { NodeStatus } from '../../src/node-host/status-snapshot.js';
import { formatStatus } from '../../src/cli/status-format.js';

/**
 * `connect` over the control socket, with real nodes on loopback: the session comes up with its
 * path and the time it took; a node that is not there, or the node itself, is refused in words.
 * The NAT cases (direct after punching, relayed) are in test/netns/lab-nat.test.ts.
 */
const { root, hosts, startHost } = loopbackHosts('ringvpn-connect-', 'connect-test');

const hex = (h: NodeHost): string => h.status().address;

test('the connect request is decoded strictly', () => {
  const address = 'ab'.repeat(20);
  const good = decodeRequest(JSON.stringify({ id: 1, op: 'connect', args: { address } }));
  assert.ok(good.ok && good.value.op === 'connect' && good.value.args.timeoutMs === 15_000);
  for (const bad of [
    { id: 2, op: 'connect' },
    { id: 3, op: 'connect', args: { address: 'xyz' } },
    { id: 4, op: 'connect', args: { address, timeoutMs: 0 } },
    { id: 5, op: 'connect', args: { address, timeoutMs: 600_000 } },
    { id: 6, op: 'connect', args: { address, timeoutMs: '5' } },
  ]) {
    const r = decodeRequest(JSON.stringify(bad));
    assert.ok(!r.ok, JSON.stringify(bad));
    assert.equal(r.error.id, bad.id);
  }
});

test('connect opens a session, reports its path and time; a second connect finds it; status says the NAT kind', async () => {
  const a = await startHost('a');
  const b = await startHost('b', [a.transport.localEndpoint]);
  await waitFor('b joined', () => b.node.joined);
  const c = await startHost('c', [a.transport.localEndpoint]);
  await waitFor('c joined', () => c.node.joined);
  // In a ring of three every node is every other's neighbour: connect answers at once for a
  // peer already linked.
  await waitFor('b and c linked as neighbours', () => b.node.links.get(c.node.address) !== undefined, 10_000);
  const r = (await controlRequest(join(root, 'b'), 'connect', { address: hex(c) }, 5_000)) as ConnectResult;
  assert.equal(r.alreadyLinked, true);
  assert.equal(r.ms, 0);
  assert.equal(r.path, 'direct');
  assert.equal(r.endpoint, c.transport.localEndpoint);
  assert.match(r.reason, /^direct/);

  const d = await startHost('d', [a.transport.localEndpoint]);
  await waitFor('d joined', () => d.node.joined);
  // A fresh node: whether or not the ring already linked it with b, the answer is a live session.
  const fresh = (await controlRequest(join(root, 'd'), 'connect', { address: hex(b) }, 5_000)) as ConnectResult;
  assert.equal(fresh.path, 'direct');
  assert.ok(fresh.ms >= 0 && fresh.ms < 5_000, String(fresh.ms));
  assert.ok(d.node.links.get(b.node.address) !== undefined);

  const status = (await controlRequest(join(root, 'b'), 'status', undefined, 2_000)) as NodeStatus;
  assert.equal(status.nat, 'none', 'on loopback every peer sees the node at its own address');
  assert.deepEqual(status.endpoints, [b.transport.localEndpoint]);
  assert.ok(status.peers.every((p) => p.path === 'direct' && p.via === null));
  assert.ok(status.stats.relayPaths.pathRequests >= 0);
  assert.match(formatStatus(status), /^nat {8}none seen/m);
});

test('connect to a node that is not in the ring, or to itself, is refused in plain words', async () => {
  const a = hosts[0] as NodeHost;
  await assert.rejects(controlRequest(join(root, 'a'), 'connect', { address: '12'.repeat(20), timeoutMs: 300 }, 5_000), (e: unknown) => {
    assert.ok(e instanceof ControlClientError);
    assert.equal(e.code, 'unreachable');
    assert.match(e.message, /No session with 121212121212 within 0.3 s/);
    return true;
  });
  await assert.rejects(controlRequest(join(root, 'a'), 'connect', { address: hex(a) }, 5_000), /address of this node itself/);
});

test('ringvpn connect prints the path; --json prints the result object', async () => {
  const b = hosts[1] as NodeHost;
  const c = hosts[2] as NodeHost;
  const bin = join(import.meta.dirname, '../../bin/ringvpn.js');
  const run = promisify(execFile);
  const human = await run(process.execPath, [bin, 'connect', hex(c).slice(0, 10), '--state-dir', join(root, 'b')]);
  assert.match(human.stdout, new RegExp(`^${hex(c).slice(0, 12)}: already connected, direct at ${c.transport.localEndpoint.replace(/\./g, '\\.')}\n  why: direct`));
  const json = await run(process.execPath, [bin, 'connect', hex(b), '--state-dir', join(root, 'c'), '--json']);
  const r = JSON.parse(json.stdout) as ConnectResult;
  assert.equal(r.address, hex(b));
  assert.equal(r.path, 'direct');
  const missing = await run(process.execPath, [bin, 'connect', '12'.repeat(20), '--timeout', '1', '--state-dir', join(root, 'c')]).catch((e: { code: number; stderr: string }) => e);
  assert.equal((missing as { code: number }).code, 1);
  assert.match((missing as { stderr: string }).stderr, /ringvpn connect: No session with/);
});
