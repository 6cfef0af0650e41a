import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ControlClientError, controlRequest, controlSocketPath } from '../../src/node-host/control-client.js';
import { MAX_REQUEST_BYTES } from '../../src/node-host/control-protocol.js';
import { NodeHost } from '../../src/node-host/node-host.js';
import { loopbackHosts, waitFor } from '../helpers/loopback-hosts.js';
import type { PingResult } from '../../src/node-host/ping-probe.js';
import type { NodeStatus } from '../../src/node-host/status-snapshot.js';
import { silentLogger } from '../../src/overlay/log.js';

const { root, startHost } = loopbackHosts('ringvpn-ctl-', 'cli-test');

/** Sends raw bytes on a fresh control connection and collects the answer lines until `lines` arrived or it closes. */
function rawExchange(path: string, payload: string | Buffer, lines: number): Promise<{ answers: Record<string, unknown>[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(path);
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no ${lines} answers within 3 s; got ${JSON.stringify(text)}`));
    }, 3000);
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ answers: text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>), closed });
    };
    socket.on('data', (d) => {
      text += d.toString();
      if (text.split('\n').length - 1 >= lines) done(false);
    });
    socket.on('close', () => done(true));
    socket.on('error', () => undefined);
    socket.write(payload);
  });
}

test('status over the control socket (mode 0600); malformed requests get errors and the node keeps answering', async () => {
  const a = await startHost('a');
  const path = controlSocketPath(join(root, 'a'));
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const status = (await controlRequest(join(root, 'a'), 'status', undefined, 2000)) as NodeStatus;
  assert.match(status.address, /^[0-9a-f]{40}$/);
  assert.deepEqual(status.endpoints, [a.transport.localEndpoint]);
  assert.equal(status.joined, true);
  assert.deepEqual(status.peers, []);

  const malformed = [
    'not json',
    '[]',
    '{"op":"status"}',
    '{"id":{},"op":"status"}',
    '{"id":1,"op":"reboot"}',
    '{"id":2,"op":"ping"}',
    '{"id":3,"op":"ping","args":{"address":"xyz"}}',
    '{"id":4,"op":"ping","args":{"address":"' + 'ab'.repeat(20) + '","timeoutMs":-5}}',
    '\u0000\u00ff{',
  ];
  const { answers } = await rawExchange(path, `${malformed.join('\n')}\n{"id":"last","op":"status"}\n`, malformed.length + 1);
  assert.equal(answers.length, malformed.length + 1);
  for (const a of answers.slice(0, -1)) {
    assert.equal(a.ok, false);
    assert.match(String((a.error as { message: string }).message), /\w+ \w+/);
  }
  assert.deepEqual(answers.slice(4, 8).map((a) => a.id), [1, 2, 3, 4], 'errors carry the id when it could be read');
  assert.equal((answers.at(-1) as { id: string; ok: boolean }).ok, true);

  // A line over the limit: one error answer, the connection is closed, the server keeps serving.
  const huge = await rawExchange(path, Buffer.alloc(MAX_REQUEST_BYTES + 10, 0x61), 1);
  assert.equal((huge.answers[0]?.error as { code: string }).code, 'too-large');
  const again = (await controlRequest(join(root, 'a'), 'status', undefined, 2000)) as NodeStatus;
  assert.equal(again.address, status.address);
});

test('a second node on the same state directory is refused; stop removes the socket; restart reuses the identity', async () => {
  const dir = join(root, 'b');
  const b = await startHost('b');
  const address = b.status().address;
  await assert.rejects(
    NodeHost.start({ stateDir: dir, port: 0, listenHost: '127.0.0.1', bootstraps: [], networkName: 'cli-test', log: silentLogger }),
    /already running/,
  );
  await b.stop();
  assert.equal(existsSync(controlSocketPath(dir)), false);
  await assert.rejects(controlRequest(dir, 'status', undefined, 1000), (e: unknown) => e instanceof ControlClientError && e.code === 'not-running');
  const b2 = await startHost('b');
  assert.equal(b2.status().address, address);
});

test('two nodes link; ping reports a direct path with the endpoint; ringvpn status and ping print it', async () => {
  const c = await startHost('c');
  const d = await startHost('d', [c.transport.localEndpoint]);
  await waitFor('the link between c and d', () => c.status().peers.length === 1 && d.status().peers.length === 1);
  const dAddress = d.status().address;
  const r = (await controlRequest(join(root, 'c'), 'ping', { address: dAddress, timeoutMs: 2000 }, 5000)) as PingResult;
  assert.equal(r.answered, true);
  assert.equal(r.path, 'direct');
  assert.equal(r.endpoint, d.transport.localEndpoint);
  assert.equal(r.hops, 1);

  const run = promisify(execFile);
  const bin = join(import.meta.dirname, '../../bin/ringvpn.js');
  const json = JSON.parse((await run(process.execPath, [bin, 'status', '--state-dir', join(root, 'c'), '--json'])).stdout) as NodeStatus;
  assert.equal(json.peers[0]?.address, dAddress);
  assert.equal(json.peers[0]?.path, 'direct');
  assert.match(json.peers[0]?.reason ?? '', /^direct: linked at 127\.0\.0\.1:\d+$/);
  assert.ok(json.connections.some((x) => x.address === dAddress && typeof x.kind === 'string'));
  const human = (await run(process.execPath, [bin, 'status', '--state-dir', join(root, 'c')])).stdout;
  assert.match(human, new RegExp(`${dAddress.slice(0, 12)}\\s+${d.transport.localEndpoint.replace(/\./g, '\\.')}\\s+direct`));
  const ping = (await run(process.execPath, [bin, 'ping', dAddress.slice(0, 10), '--state-dir', join(root, 'c'), '-c', '2'])).stdout;
  assert.match(ping, new RegExp(`^pong from ${dAddress.slice(0, 12)} via ${d.transport.localEndpoint} \\(direct\\) in [\\d.]+ ms\\n`));
  assert.equal(ping.trim().split('\n').length, 2);
  // Pinging an address nobody has: no answer, exit status 1.
  await assert.rejects(run(process.execPath, [bin, 'ping', 'ab'.repeat(20), '--state-dir', join(root, 'c'), '-c', '1', '--timeout', '1']), (e: { code?: number; stdout?: string }) => e.code === 1 && /no answer/.test(e.stdout ?? ''));
});

test('usage errors are plain words with exit status 2', async () => {
  const run = promisify(execFile);
  const bin = join(import.meta.dirname, '../../bin/ringvpn.js');
  for (const args of [['node', '--port', 'x'], ['node', '--frobnicate'], ['ping'], ['ping', 'zz'], ['status', 'extra'], ['nosuchcommand']]) {
    await assert.rejects(run(process.execPath, [bin, ...args]), (e: { code?: number; stderr?: string }) => e.code === 2 && /ringvpn/.test(e.stderr ?? ''), args.join(' '));
  }
  const help = await run(process.execPath, [bin, '--help']);
  for (const name of ['node', 'status', 'ping', 'connect']) assert.match(help.stdout, new RegExp(`^  ${name} +\\S`, 'm'));
});

test('ringvpn node: SIGTERM leaves the ring (the neighbour hears at once), exits 0 and removes the control socket', async () => {
  const e = await startHost('e');
  const dir = join(root, 'f');
  const bin = join(import.meta.dirname, '../../bin/ringvpn.js');
  const child = spawn(process.execPath, [bin, 'node', '--port', '0', '--listen', '127.0.0.1', '--state-dir', dir, '--network', 'cli-test', '--bootstrap', e.transport.localEndpoint], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    // Joined, with e as a near neighbour: a node tells its near neighbours when it leaves.
    let childStatus: NodeStatus | null = null;
    const until = Date.now() + 15_000;
    while (!(childStatus?.connections.some((c) => c.kind === 'near') ?? false)) {
      if (Date.now() > until) throw new Error(`the child node did not link with e:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
      childStatus = (await controlRequest(dir, 'status', undefined, 2000).catch(() => null)) as NodeStatus | null;
    }
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'slow'>((r) => setTimeout(() => r('slow'), 5000))]);
    assert.equal(code, 0, log);
    assert.equal(existsSync(controlSocketPath(dir)), false);
    // A leave message, not the 30 s failure detector.
    await waitFor('e to drop the link', () => e.status().peers.length === 0, 2_000);
    assert.match(log, /node stopped/);
  } finally {
    child.kill('SIGKILL');
  }
});
