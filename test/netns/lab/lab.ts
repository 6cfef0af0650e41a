import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlRequest } from '../../../src/node-host/control-client.js';
import type { NodeStatus } from '../../../src/node-host/status-snapshot.js';
import { LabProcess } from './lab-process.js';
import { NAT_TABLE, type NatKind, natRuleset } from './nat-rules.js';
import { type ExecResult, IP, NFT, SYSCTL, inNs, must, mustInNs } from './sh.js';
import { writeIdentityAt } from './ring-position.js';
import { deleteNamespace, labPrefix, sweepLeftovers } from './sweep.js';

/**
 * A small Internet of network namespaces, for tests that run real `ringvpn node` processes.
 *
 *   core (the Internet's backbone: one link per site to that site's ISP router)
 *    ├── isp1 (10.201.1.2) ── public host        10.200.1.2   (its ISP router is 10.200.1.1)
 *    ├── isp2 (10.201.2.2) ── NAT router (wan)   10.200.2.2 ─ lan bridge 192.168.2.1/24 ─ hosts 192.168.2.10, .11, ...
 *    └── ...
 *
 * Packets between two sites cross three routers (ISP, core, ISP), as on the Internet: a datagram
 * sent with IP TTL 2 from a public host, or from a host behind its NAT, dies at the next router
 * and never reaches another site (with the core alone, a public host's TTL-2 datagram would still
 * reach a NAT on the far side, which no real network path is that short to do). Nothing is created in the
 * root namespace: veth pairs are made inside the namespaces. Every name starts with the run's
 * prefix (sweep.ts); `destroy()` (and, as a last resort, a process 'exit' handler) removes the
 * processes, namespaces, their veths and nft tables. Addresses are private and exist only here.
 */
export interface LabHost {
  readonly name: string;
  readonly ns: string;
  /** The site (link to the core) the host, or its NAT, is on. */
  readonly site: number;
  /** The host's address now (moveHost changes it). */
  ip: string;
  /** The NAT in front of this host, if any. */
  readonly nat: LabNat | null;
}

export interface LabNat {
  readonly name: string;
  readonly ns: string;
  readonly kind: NatKind;
  readonly site: number;
  /** The router's public address now (restartNat may change it). */
  wanIp: string;
  hosts: number;
}

export interface LabNode {
  readonly name: string;
  readonly host: LabHost;
  readonly port: number;
  readonly stateDir: string;
  /** `ip:port` of the node on its own host when it started (behind a NAT: the private one). */
  readonly endpoint: string;
  readonly process: LabProcess;
  /** 40 hex digits, known once the node answered its first status. */
  address: string;
}

export interface StartNodeOptions {
  port?: number;
  bootstraps?: string[];
  network?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Wait until the node says it has joined (default true). */
  waitJoined?: boolean;
  readyTimeoutMs?: number;
  /** Give the node an identity whose address sits at this fraction of the ring (0 to 1). */
  ringPosition?: number;
}

const REPO = join(import.meta.dirname, '../../..');
const RINGVPN_BIN = join(REPO, 'bin/ringvpn.js');
export const UDP_REFLECTOR = join(import.meta.dirname, 'udp-reflector.mjs');
/** A site's gateway: its ISP router's address on the site's link. */
const CORE_GATEWAY = (site: number): string => `10.200.${site}.1`;
/** How often readiness and status conditions are polled; every wait is bounded by its timeout. */
const POLL_MS = 100;
/** Labs built by this process so far: each gets its own prefix, so topologies can run side by side. */
let labsCreated = 0;

export class Lab {
  readonly prefix: string;
  readonly dir: string;
  private readonly namespaces: string[] = [];
  private readonly processes: LabProcess[] = [];
  private readonly nodes: LabNode[] = [];
  private nextSite = 1;
  private destroyed = false;
  private readonly onExit = (): void => this.destroyNow();
  /** Ctrl-C or a runner's SIGTERM: tear down, then die of the signal as usual. */
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.destroyNow();
    process.kill(process.pid, signal);
  };

  private constructor() {
    labsCreated++;
    this.prefix = labsCreated === 1 ? labPrefix() : `${labPrefix()}-${labsCreated}`;
    this.dir = mkdtempSync(join(tmpdir(), `${this.prefix}-`));
    process.on('exit', this.onExit);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  /** Sweeps leftovers of crashed runs, then builds the core router. */
  static async create(): Promise<Lab> {
    const removed = sweepLeftovers();
    if (removed.length > 0) process.stderr.write(`lab: removed leftovers of earlier runs: ${removed.join(', ')}\n`);
    const lab = new Lab();
    try {
      await lab.addNamespace('core');
      await mustInNs(lab.ns('core'), SYSCTL, ['-qw', 'net.ipv4.ip_forward=1']);
    } catch (error) {
      await lab.destroy();
      throw error;
    }
    return lab;
  }

  ns(short: string): string {
    return `${this.prefix}-${short}`;
  }

  /** A host with a public address, on its own link to the core. */
  async addPublicHost(name: string): Promise<LabHost> {
    const site = this.nextSite++;
    const ns = await this.addNamespace(name);
    await this.linkToCore(site, ns);
    await must(IP, ['-n', ns, 'route', 'add', 'default', 'via', CORE_GATEWAY(site)]);
    return { name, ns, site, ip: `10.200.${site}.2`, nat: null };
  }

  /** A NAT router on its own link to the core, with an empty LAN (add hosts with addHostBehind). */
  async addNat(name: string, kind: NatKind): Promise<LabNat> {
    const site = this.nextSite++;
    const ns = await this.addNamespace(name);
    await this.linkToCore(site, ns);
    await must(IP, ['-n', ns, 'route', 'add', 'default', 'via', CORE_GATEWAY(site)]);
    await must(IP, ['-n', ns, 'link', 'add', 'lan', 'type', 'bridge']);
    await must(IP, ['-n', ns, 'addr', 'add', `192.168.${site}.1/24`, 'dev', 'lan']);
    await must(IP, ['-n', ns, 'link', 'set', 'lan', 'up']);
    await mustInNs(ns, SYSCTL, ['-qw', 'net.ipv4.ip_forward=1']);
    const nat: LabNat = { name, ns, kind, site, wanIp: `10.200.${site}.2`, hosts: 0 };
    await this.loadNatRules(nat);
    return nat;
  }

  /** A host on the NAT's LAN (192.168.<site>.10 and up), default route through the NAT. */
  async addHostBehind(nat: LabNat, name: string): Promise<LabHost> {
    const ns = await this.addNamespace(name);
    const port = `h${nat.hosts}`;
    const ip = `192.168.${nat.site}.${10 + nat.hosts}`;
    nat.hosts++;
    await must(IP, ['-n', nat.ns, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await must(IP, ['-n', nat.ns, 'link', 'set', port, 'master', 'lan']);
    await must(IP, ['-n', nat.ns, 'link', 'set', port, 'up']);
    await must(IP, ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await must(IP, ['-n', ns, 'link', 'set', 'eth0', 'up']);
    await must(IP, ['-n', ns, 'route', 'add', 'default', 'via', `192.168.${nat.site}.1`]);
    return { name, ns, site: nat.site, ip, nat };
  }

  /**
   * Restarts the NAT router as a reboot would: every mapping is forgotten (taking `wan` down makes
   * the kernel drop the masqueraded connections of that interface), the rules are loaded again,
   * and with `newAddress` the router comes back with another public address (as after a new DHCP
   * lease). Plain masquerade keeps source ports when free, so an endpoint-independent NAT maps a
   * host to the same port again; with `newAddress` its public endpoint still changes. A symmetric
   * NAT picks new random ports anyway.
   */
  async restartNat(nat: LabNat, options: { newAddress?: boolean } = {}): Promise<void> {
    await must(IP, ['netns', 'exec', nat.ns, NFT, 'delete', 'table', 'ip', NAT_TABLE]);
    await must(IP, ['-n', nat.ns, 'link', 'set', 'wan', 'down']);
    if (options.newAddress === true) {
      const last = Number(nat.wanIp.split('.')[3]);
      const next = `10.200.${nat.site}.${last >= 250 ? 2 : last + 1}`;
      await must(IP, ['-n', nat.ns, 'addr', 'flush', 'dev', 'wan']);
      await must(IP, ['-n', nat.ns, 'addr', 'add', `${next}/24`, 'dev', 'wan']);
      nat.wanIp = next;
    }
    await must(IP, ['-n', nat.ns, 'link', 'set', 'wan', 'up']);
    await must(IP, ['-n', nat.ns, 'route', 'replace', 'default', 'via', CORE_GATEWAY(nat.site)]);
    await this.loadNatRules(nat);
  }

  /**
   * Gives a host another address on its network, as a new DHCP lease or another Wi-Fi would: the
   * old address goes (with the routes through it), the new one comes, the default route is put
   * back. `lastOctet` replaces the host part of its /24.
   */
  async moveHost(host: LabHost, lastOctet: number): Promise<void> {
    const dev = host.nat === null ? 'wan' : 'eth0';
    const base = host.ip.split('.').slice(0, 3).join('.');
    const next = `${base}.${lastOctet}`;
    const gateway = host.nat === null ? `${base}.1` : `192.168.${host.nat.site}.1`;
    await must(IP, ['-n', host.ns, 'addr', 'flush', 'dev', dev]);
    await must(IP, ['-n', host.ns, 'addr', 'add', `${next}/24`, 'dev', dev]);
    await must(IP, ['-n', host.ns, 'route', 'replace', 'default', 'via', gateway]);
    host.ip = next;
  }

  /** The NAT's connection-tracking table as text (for diagnosis). */
  async conntrack(nat: LabNat): Promise<string> {
    return (await inNs(nat.ns, '/usr/bin/cat', ['/proc/net/nf_conntrack'])).stdout;
  }

  /** Runs a command inside a namespace (argv, no shell); resolves whatever its exit status. */
  exec(ns: string, file: string, args: string[], timeoutMs?: number): Promise<ExecResult> {
    return inNs(ns, file, args, timeoutMs);
  }

  /** Starts a long-running process inside a namespace; it is stopped by destroy(). */
  spawn(name: string, ns: string, file: string, args: string[]): LabProcess {
    const p = LabProcess.start(name, ns, file, args);
    this.processes.push(p);
    return p;
  }

  /** Starts `ringvpn node` on `host` and waits until its control socket answers (and it joined). */
  async startNode(name: string, host: LabHost, options: StartNodeOptions = {}): Promise<LabNode> {
    const port = options.port ?? 4000;
    const stateDir = join(this.dir, name);
    if (options.ringPosition !== undefined) await writeIdentityAt(stateDir, options.ringPosition);
    const args = [RINGVPN_BIN, 'node', '--port', String(port), '--state-dir', stateDir, '--network', options.network ?? `lab-${this.prefix}`];
    if (options.bootstraps !== undefined && options.bootstraps.length > 0) args.push('--bootstrap', options.bootstraps.join(','));
    args.push('--log-level', options.logLevel ?? 'info');
    const proc = this.spawn(name, host.ns, process.execPath, args);
    const node: LabNode = { name, host, port, stateDir, endpoint: `${host.ip}:${port}`, process: proc, address: '' };
    this.nodes.push(node);
    const joined = options.waitJoined ?? true;
    const status = await this.waitForStatus(node, (s) => !joined || s.joined, joined ? 'join the ring' : 'answer', options.readyTimeoutMs ?? 20_000);
    node.address = status.address;
    return node;
  }

  /** The node's status through its control socket. */
  async status(node: LabNode): Promise<NodeStatus> {
    return (await controlRequest(node.stateDir, 'status', undefined, 3_000)) as NodeStatus;
  }

  /** Polls the node's status until `check` holds; rejects after `timeoutMs` with the node's log tail. */
  async waitForStatus(node: LabNode, check: (s: NodeStatus) => boolean, what: string, timeoutMs = 20_000): Promise<NodeStatus> {
    const until = Date.now() + timeoutMs;
    let last: unknown = null;
    while (Date.now() < until) {
      if (!node.process.running) break;
      try {
        const s = await this.status(node);
        last = s;
        if (check(s)) return s;
      } catch (error) {
        last = error;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const state = node.process.running ? 'still running' : `exited ${JSON.stringify(node.process.exit)}`;
    throw new Error(
      `lab: node ${node.name} did not ${what} within ${timeoutMs} ms (${state}); last status: ` +
        `${last instanceof Error ? last.message : JSON.stringify(last)}\n--- ${node.name} log ---\n${node.process.tail()}`,
    );
  }

  /** Runs the `ringvpn` command inside the node's namespace (status, ping...). */
  cli(node: LabNode, args: string[], timeoutMs = 30_000): Promise<ExecResult> {
    return inNs(node.host.ns, process.execPath, [RINGVPN_BIN, ...args, '--state-dir', node.stateDir], timeoutMs);
  }

  /** Stops a node: SIGTERM (clean leave) by default, SIGKILL for a crash. */
  async killNode(node: LabNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await node.process.stop(signal);
  }

  /** Every node's log tail, for a failing test's message. */
  logs(): string {
    return this.nodes.map((n) => `--- ${n.name} (${n.endpoint}) ---\n${n.process.tail(25)}`).join('\n');
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await Promise.all(this.processes.map((p) => p.stop('SIGTERM', 2_000)));
    this.destroyNow();
  }

  /** Synchronous teardown: also what the process 'exit' handler runs if a test never got to destroy(). */
  private destroyNow(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    for (const p of this.processes) p.killNow();
    for (const ns of [...this.namespaces].reverse()) deleteNamespace(ns);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async addNamespace(short: string): Promise<string> {
    if (!/^[a-z0-9]{1,12}$/.test(short)) throw new Error(`lab: namespace names are 1-12 lowercase letters or digits, got "${short}"`);
    const ns = this.ns(short);
    await must(IP, ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await must(IP, ['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** The namespace of a site's ISP router (the first router past the site's host or NAT). */
  ispNs(site: number): string {
    return this.ns(`isp${site}`);
  }

  /**
   * core:s<site> (10.201.<site>.1) <-> isp<site>:uplink (10.201.<site>.2), and
   * isp<site>:site (10.200.<site>.1/24) <-> ns:wan (10.200.<site>.2/24).
   */
  private async linkToCore(site: number, ns: string): Promise<void> {
    const core = this.ns('core');
    const isp = await this.addNamespace(`isp${site}`);
    await mustInNs(isp, SYSCTL, ['-qw', 'net.ipv4.ip_forward=1']);
    const coreSide = `s${site}`;
    await must(IP, ['-n', core, 'link', 'add', coreSide, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', isp]);
    await must(IP, ['-n', core, 'addr', 'add', `10.201.${site}.1/24`, 'dev', coreSide]);
    await must(IP, ['-n', core, 'link', 'set', coreSide, 'up']);
    await must(IP, ['-n', isp, 'addr', 'add', `10.201.${site}.2/24`, 'dev', 'uplink']);
    await must(IP, ['-n', isp, 'link', 'set', 'dev', 'uplink', 'up']);
    await must(IP, ['-n', isp, 'route', 'add', 'default', 'via', `10.201.${site}.1`]);
    await must(IP, ['-n', core, 'route', 'add', `10.200.${site}.0/24`, 'via', `10.201.${site}.2`]);
    await must(IP, ['-n', isp, 'link', 'add', 'site', 'type', 'veth', 'peer', 'name', 'wan', 'netns', ns]);
    await must(IP, ['-n', isp, 'addr', 'add', `${CORE_GATEWAY(site)}/24`, 'dev', 'site']);
    await must(IP, ['-n', isp, 'link', 'set', 'dev', 'site', 'up']);
    await must(IP, ['-n', ns, 'addr', 'add', `10.200.${site}.2/24`, 'dev', 'wan']);
    await must(IP, ['-n', ns, 'link', 'set', 'wan', 'up']);
  }

  private async loadNatRules(nat: LabNat): Promise<void> {
    const file = join(this.dir, `${nat.name}.nft`);
    writeFileSync(file, natRuleset(nat.kind));
    await must(IP, ['netns', 'exec', nat.ns, NFT, '-f', file]);
  }
}

/** Whether this process can build a lab: root, ip and nft present. Otherwise the reason, in words. */
export function labUnavailableReason(): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'the network-namespace lab needs root (CI runs as root)';
  for (const tool of [IP, NFT, SYSCTL]) if (!existsSync(tool)) return `the network-namespace lab needs ${tool}`;
  return null;
}
