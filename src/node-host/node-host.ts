import { lookup } from 'node:dns/promises';
import { type GroupNodeAttachment, openGroupForNode } from '../groups/group-node.js';
import { isIP } from 'node:net';
import { addressToHex, shortAddress } from '../overlay/address.js';
import { cryptoReady } from '../overlay/crypto.js';
import type { Logger } from '../overlay/log.js';
import { type OverlayNode, type OverlayNodeInit, createNode } from '../overlay/node/overlay-node.js';
import { createCryptoRandom } from '../overlay/real/crypto-random.js';
import { networkIdFromName } from '../overlay/real/network-id.js';
import { loadOrCreateIdentity, prepareStateDir } from '../overlay/real/state-dir.js';
import { createSystemClock } from '../overlay/real/system-clock.js';
import { type UdpTransport, openUdpTransport } from '../overlay/real/udp-transport.js';
import { formatEndpoint, parseEndpoint } from '../overlay/transport.js';
import { controlSocketPath } from './control-client.js';
import type { ControlRequest } from './control-protocol.js';
import { type ControlServer, ControlRequestError, startControlServer } from './control-server.js';
import { type ConnectResult, ConnectTimeoutError, connectSession } from './connect-session.js';
import { type NetworkChange, type NetworkWatcher, watchNetwork } from './network-watcher.js';
import { type PingResult, pingOverOverlay } from './ping-probe.js';
import { type NodeStatus, buildStatusSnapshot } from './status-snapshot.js';

export interface NodeHostOptions {
  stateDir: string;
  /** UDP port (0: any free port). */
  port: number;
  /** IPv4 address to bind (default 0.0.0.0). */
  listenHost?: string;
  /** `host:port` of nodes to join through; names are resolved once at start. Empty: start a new ring. */
  bootstraps: string[];
  networkName: string;
  log: Logger;
  /** Overlay options apart from the network id (tests shorten timers with it). */
  overlay?: Omit<OverlayNodeInit, 'networkId'>;
  /** How often the host's addresses are checked for a change (default NETWORK_POLL_MS). */
  networkPollMs?: number;
  /**
   * Local endpoints the node must not advertise (the VPN's own virtual addresses: peers reaching
   * the overlay through the tunnel it carries would loop). Default: none excluded.
   */
  excludeEndpoint?: (endpoint: string) => boolean;
}

/**
 * One overlay node on real sockets: identity from the state directory, a UDP transport, the node,
 * and the control socket that `ringvpn status` and `ringvpn ping` talk to.
 */
export class NodeHost {
  private stopping: Promise<void> | null = null;
  private watcher: NetworkWatcher | null = null;
  /** Revocations and server reports when the node runs on a group's private ring. */
  private group: GroupNodeAttachment | null = null;
  /** Fields a layer above the node (the VPN) adds to the status snapshot. */
  private statusExtension: ((status: NodeStatus) => NodeStatus) | null = null;

  private constructor(
    readonly node: OverlayNode,
    readonly transport: UdpTransport,
    private readonly control: ControlServer,
    private readonly options: NodeHostOptions,
    private readonly startedAt: number,
  ) {}

  static async start(options: NodeHostOptions): Promise<NodeHost> {
    const { log } = options;
    await cryptoReady();
    prepareStateDir(options.stateDir, log);
    const group = openGroupForNode(options.stateDir, options.networkName);
    const bootstraps = await resolveBootstraps(options.bootstraps);
    const random = createCryptoRandom();
    const { identity } = loadOrCreateIdentity(options.stateDir, random, log);
    const transport = await openUdpTransport({ port: options.port, host: options.listenHost, log: log.child('udp') });
    if (group !== null && bootstraps.length === 0) bootstraps.push(...(await group.discoverBootstraps(transport.localEndpoints())));
    const node = createNode({ ...options.overlay, networkId: group?.networkId ?? networkIdFromName(options.networkName) })({
      clock: createSystemClock(),
      random,
      transport,
      identity,
      log,
      localEndpoints: () => transport.localEndpoints().filter((e) => options.excludeEndpoint?.(e) !== true),
      admission: group?.admission,
    });
    let host: NodeHost | null = null;
    let control: ControlServer;
    try {
      control = await startControlServer(
        controlSocketPath(options.stateDir),
        (request) => (host === null ? Promise.reject(new ControlRequestError('busy', 'the node is still starting')) : host.handle(request)),
        log.child('control'),
      );
    } catch (error) {
      node.stop();
      transport.close();
      throw error;
    }
    host = new NodeHost(node, transport, control, options, Date.now());
    node.start(bootstraps);
    host.group = group?.attach(node, { clock: createSystemClock(), random, log: log.child('group') }) ?? null;
    // Addresses excluded from advertising (the VPN's own) are no network change either.
    const visible = (): string => transport.localEndpoints().filter((e) => options.excludeEndpoint?.(e) !== true).join(',');
    let lastVisible = visible();
    const refreshVisible = (): boolean => {
      transport.refreshLocalEndpoints();
      const now = visible();
      const changed = now !== lastVisible;
      lastVisible = now;
      return changed;
    };
    host.watcher = watchNetwork(refreshVisible, (why) => host?.networkChanged(why), log, options.networkPollMs);
    log.info('node started', {
      peer: addressToHex(node.address),
      endpoint: transport.localEndpoint,
      network: group?.label ?? options.networkName,
      bootstraps: bootstraps.join(',') || 'none (new ring)',
      ipv6: transport.hasIpv6,
      receiveBuffer: transport.receiveBufferBytes(),
    });
    return host;
  }

  /** Lets a layer above the node (the VPN) add fields to every status snapshot. */
  extendStatus(extension: (status: NodeStatus) => NodeStatus): void {
    this.statusExtension = extension;
  }

  status(): NodeStatus {
    const status = buildStatusSnapshot({ node: this.node, transport: this.transport, networkName: this.options.networkName, startedAt: this.startedAt });
    return this.statusExtension === null ? status : this.statusExtension(status);
  }

  ping(address: bigint, timeoutMs: number): Promise<PingResult> {
    if (address === this.node.address) throw new ControlRequestError('invalid-address', 'that is the address of this node itself');
    return pingOverOverlay(this.node, address, timeoutMs);
  }

  /** Opens a session with the node at `address` and resolves once it is up (path and time taken). */
  async connect(address: bigint, timeoutMs: number): Promise<ConnectResult> {
    if (address === this.node.address) throw new ControlRequestError('invalid-address', 'that is the address of this node itself');
    try {
      return await connectSession(this.node, address, timeoutMs);
    } catch (error) {
      if (error instanceof ConnectTimeoutError) throw new ControlRequestError('unreachable', error.message);
      throw error;
    }
  }

  /**
   * The host's addresses changed, or it woke from sleep. The socket is bound to every address (0.0.0.0 / ::), so it
   * keeps working on the new ones and needs no rebinding; the overlay forgets what its peers
   * observed and probes them from the new address. (A node bound with --listen to one address
   * reports that address only, so it sees no change: it cannot move.)
   */
  private networkChanged(why: NetworkChange): void {
    const endpoints = this.transport.localEndpoints();
    const what = why === 'wake' ? 'woke from sleep' : 'network changed';
    this.options.log.info(`${what}; telling peers where this node is now`, { endpoints: endpoints.join(',') || 'none' });
    this.node.networkChanged();
  }

  /** Leave the ring (neighbours are told), flush and close the socket, remove the control socket. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.options.log.info('node stopping', { peer: shortAddress(this.node.address) });
      this.watcher?.stop();
      this.group?.stop();
      this.node.leave();
      await this.transport.closeGracefully();
      await this.control.close();
      this.options.log.info('node stopped', { peer: shortAddress(this.node.address) });
    })();
    return this.stopping;
  }

  private async handle(request: ControlRequest): Promise<unknown> {
    switch (request.op) {
      case 'status':
        return this.status();
      case 'ping':
        return this.ping(request.args.address, request.args.timeoutMs);
      case 'connect':
        return this.connect(request.args.address, request.args.timeoutMs);
    }
  }
}

/** Turns `host:port` strings into `ip:port` endpoints (IPv4 preferred), with plain-words errors. */
export async function resolveBootstraps(list: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const text of list) {
    const direct = parseEndpoint(text);
    if (direct !== null) {
      out.push(formatEndpoint(direct.host, direct.port));
      continue;
    }
    const colon = text.lastIndexOf(':');
    const name = colon > 0 ? text.slice(0, colon).replace(/^\[|\]$/g, '') : '';
    const port = Number(text.slice(colon + 1));
    if (name === '' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`Bootstrap "${text}" is not host:port (for example 203.0.113.7:4000 or boot.example.org:4000).`);
    }
    if (isIP(name) !== 0) throw new Error(`Bootstrap "${text}" is not a valid address.`);
    try {
      const found = await lookup(name, { family: 0, order: 'ipv4first' });
      out.push(formatEndpoint(found.address, port));
    } catch {
      throw new Error(`Cannot find the bootstrap host "${name}" (name lookup failed). Check the name or use its IP address.`);
    }
  }
  return out;
}
