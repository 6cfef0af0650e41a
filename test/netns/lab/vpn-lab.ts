import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cryptoReady } from '../../../src/overlay/crypto.js';
import { identityFromSeed } from '../../../src/overlay/identity.js';
import { IDENTITY_FILE, writePrivateFile } from '../../../src/overlay/real/state-dir.js';
import type { NodeStatus } from '../../../src/node-host/status-snapshot.js';
import type { Lab, LabHost, LabNode } from './lab.js';
import type { ExecResult } from './sh.js';

/**
 * `ringvpn up` members in the lab's namespaces: each runs the real command (node, TAP device,
 * address claim, bridge) as its own process inside its host's namespace, so its TAP device lives
 * there and disappears with it. Built on Lab.spawn / Lab.waitForStatus; the lab's teardown stops
 * the processes and deletes the namespaces.
 */
const REPO = join(import.meta.dirname, '../../..');
const RINGVPN_BIN = join(REPO, 'bin/ringvpn.js');
export const PING = '/usr/bin/ping';
export const IPERF3 = '/usr/bin/iperf3';
export const VPN_TAP = 'rv0';

export interface VpnMember extends LabNode {
  /** The virtual IP, once claimed. */
  vip: string;
  readonly args: readonly string[];
}

export interface StartMemberOptions {
  bootstraps?: string[];
  network?: string;
  vip?: string;
  port?: number;
  /** Reuse this state directory (a restart). */
  stateDir?: string;
  readyTimeoutMs?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export function vpnNetworkName(lab: Lab): string {
  return `vpn-${lab.prefix}`;
}

/** Starts `ringvpn up` on `host` and waits until it has joined and holds a virtual IP. */
export async function startMember(lab: Lab, name: string, host: LabHost, options: StartMemberOptions = {}): Promise<VpnMember> {
  const port = options.port ?? 4100;
  const stateDir = options.stateDir ?? join(lab.dir, name);
  const args = [RINGVPN_BIN, 'up', '--state-dir', stateDir, '--port', String(port), '--network', options.network ?? vpnNetworkName(lab), '--tap', VPN_TAP];
  if (options.bootstraps !== undefined && options.bootstraps.length > 0) args.push('--bootstrap', options.bootstraps.join(','));
  if (options.vip !== undefined) args.push('--vip', options.vip);
  args.push('--log-level', options.logLevel ?? 'info');
  const proc = lab.spawn(name, host.ns, process.execPath, args);
  const member: VpnMember = { name, host, port, stateDir, endpoint: `${host.ip}:${port}`, process: proc, address: '', vip: '', args };
  const needJoin = options.bootstraps !== undefined && options.bootstraps.length > 0;
  const status = await lab.waitForStatus(member, (s) => (!needJoin || s.joined) && typeof s.vip === 'string', 'join and claim a virtual IP', options.readyTimeoutMs ?? 30_000);
  member.address = status.address;
  member.vip = status.vip as string;
  return member;
}

/** `ringvpn down` for the member (what a person would type), then waits for its process to end. */
export async function downMember(lab: Lab, m: VpnMember): Promise<ExecResult> {
  const r = await lab.cli(m, ['down'], 20_000);
  await Promise.race([m.process.waitForExit(), new Promise((resolve) => setTimeout(resolve, 5_000))]);
  return r;
}

export function ping(lab: Lab, from: VpnMember, to: string, count = 3, deadlineS = 10): Promise<ExecResult> {
  return lab.exec(from.host.ns, PING, ['-n', '-c', String(count), '-i', '0.2', '-w', String(deadlineS), to], (deadlineS + 5) * 1000);
}

/**
 * Pings until a reply comes or `deadlineS` has passed, in rounds (ping ends a round early when the
 * VPN answers "host unreachable" while a session is still being set up).
 */
export async function pingUntil(lab: Lab, from: VpnMember, to: string, deadlineS: number): Promise<ExecResult> {
  const until = Date.now() + deadlineS * 1000;
  let last: ExecResult;
  do {
    last = await ping(lab, from, to, 3, Math.max(1, Math.min(20, Math.ceil((until - Date.now()) / 1000))));
    if (received(last) > 0) return last;
    await new Promise((r) => setTimeout(r, 500));
  } while (Date.now() < until);
  return last;
}

/** Replies received, from ping's summary line. */
export function received(r: ExecResult): number {
  const m = /(\d+) received/.exec(r.stdout);
  return m === null ? 0 : Number(m[1]);
}

export async function memberStatus(lab: Lab, m: VpnMember): Promise<NodeStatus & { vpn?: Record<string, unknown> }> {
  return (await lab.status(m)) as NodeStatus & { vpn?: Record<string, unknown> };
}

/**
 * Identities (seeds) for `names`, drawn until `accept` likes their order on the ring (the order of
 * their addresses): the ring's shape decides which members are neighbours, and a test that needs
 * two members to be (or not to be) ring neighbours fixes it this way. Write them with writeIdentity.
 */
export async function identitiesInOrder(names: readonly string[], accept: (ringOrder: string[]) => boolean): Promise<Map<string, Uint8Array>> {
  await cryptoReady();
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const seeds = new Map(names.map((n) => [n, new Uint8Array(randomBytes(32))]));
    const order = [...seeds].map(([n, seed]) => ({ n, a: identityFromSeed(seed).address })).sort((x, y) => (x.a < y.a ? -1 : 1)).map((x) => x.n);
    if (accept(order)) return seeds;
  }
  throw new Error('lab: no identities with the wanted ring order in 1,000 draws');
}

/** Whether two names are next to each other on a ring given in order (the last is next to the first). */
export function ringAdjacent(order: readonly string[], a: string, b: string): boolean {
  const i = order.indexOf(a);
  const j = order.indexOf(b);
  const d = Math.abs(i - j);
  return d === 1 || d === order.length - 1;
}

/** Puts an identity into a state directory before the member's first start (what `ringvpn up` would create). */
export function writeIdentity(stateDir: string, seed: Uint8Array): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writePrivateFile(join(stateDir, IDENTITY_FILE), `ringvpn-identity-v1\n${Buffer.from(seed).toString('hex')}\n`);
}
