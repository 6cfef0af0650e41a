/**
 * The headless demo: a small RingVPN overlay on this machine's loopback. Starts NODES real nodes
 * (real UDP sockets, real handshakes and encryption) in one process, each with its own temporary
 * state directory, waits until they form the ring, prints each node's status as `ringvpn status`
 * would, pings across the ring, and removes everything it made. Sends nothing off this machine.
 *
 *   npm run demo [-- --nodes N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NodeHost } from '../src/node-host/node-host.js';
import { formatStatus } from '../src/cli/status-format.js';
import { silentLogger } from '../src/overlay/log.js';
import { shortAddress } from '../src/overlay/address.js';

const { values } = parseArgs({ options: { nodes: { type: 'string' } }, strict: true });
const count = Math.max(2, Math.min(20, Number(values.nodes ?? 4) || 4));
const root = mkdtempSync(join(tmpdir(), 'ringvpn-demo-'));
const hosts: NodeHost[] = [];

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`gave up waiting: ${what} (after ${timeoutMs / 1000} s)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

try {
  say(`Starting ${count} RingVPN nodes on 127.0.0.1 (state in ${root})…`);
  for (let i = 0; i < count; i++) {
    const bootstraps = i === 0 ? [] : [hosts[i - 1]!.transport.localEndpoint];
    const host = await NodeHost.start({
      stateDir: join(root, `node${i + 1}`),
      port: 0,
      listenHost: '127.0.0.1',
      bootstraps,
      networkName: 'ringvpn-demo',
      log: silentLogger,
    });
    hosts.push(host);
    say(`  node${i + 1}  ${shortAddress(host.node.address)}  at ${host.transport.localEndpoint}${bootstraps.length > 0 ? `  (joins through ${bootstraps[0]})` : '  (starts the ring)'}`);
  }
  await waitFor('every node joined the ring', () => hosts.every((h) => h.node.joined), 20_000);
  const expected = Math.min(count - 1, 2 * 3);
  await waitFor('every node linked with its ring neighbours', () => hosts.every((h) => h.node.table.structuredCount >= expected), 30_000);
  say('\nThe ring is formed. Status of node1, as `ringvpn status` prints it:\n');
  say(formatStatus(hosts[0]!.status()));
  const first = hosts[0]!;
  const last = hosts[hosts.length - 1]!;
  for (let i = 0; i < 3; i++) {
    const r = await new Promise<{ rttMs: number; hops: number } | null>((resolve) => first.node.ping(last.node.address, 2000, resolve));
    say(r === null ? 'ping: no answer' : `ping node1 → node${count} (${shortAddress(last.node.address)}): ${r.rttMs} ms, ${r.hops} hop(s), authenticated and encrypted`);
  }
} catch (error) {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await Promise.all(hosts.map((h) => h.stop()));
  rmSync(root, { recursive: true, force: true });
  say('\nAll demo nodes stopped and their state removed.');
}
