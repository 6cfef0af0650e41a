import { type Address, shortAddress } from '../address.js';
import { type AdmissionCheck, openAdmission } from '../admission.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Identity } from '../identity.js';
import { createLinkLayer } from '../links/link-layer.js';
import type { LinkEvent, LinkLayer, LinkLayerInit } from '../links/types.js';
import type { Logger } from '../log.js';
import type { Random } from '../random.js';
import type { DatagramTransport, Endpoint } from '../transport.js';
import { decodeMessage, encodeMessage } from '../wire/codec.js';
import { NatKind, type OverlayMessage, type PeerRecord, RouteMode, type RoutedMessage } from '../wire/messages.js';
import { Broadcast, type BroadcastHandler, defaultBroadcastInit } from './broadcast.js';
import { ConnectionFlag, ConnectionTable } from './connection-table.js';
import { DhtService, defaultDhtInit, type DhtInit } from './dht-service.js';
import type { NodeContext } from './node-context.js';
import { RoutedPending } from './routed-pending.js';
import { RoutedForwarding } from './routed-forwarding.js';
import { Connector } from './connector.js';
import { EndpointBook } from './endpoint-book.js';
import { NodeTransport, relayOf } from './node-transport.js';
import { RelayService, type RelayServiceInit, defaultRelayServiceInit } from './relay-service.js';
import type { RelayStrategy } from './relay-choice.js';
import { PUNCHED_LIVENESS, RELAYED_LIVENESS, RelayPaths, type PathState } from './relay-paths.js';
import { RingMaintenance, type RingMaintenanceInit, defaultRingMaintenanceInit } from './ring-maintenance.js';
import { Shortcuts, type ShortcutInit, defaultShortcutInit } from './shortcuts.js';

export interface OverlayNodeInit {
  /** Which overlay (16 bytes): the public ring or a group's private ring. */
  networkId: Uint8Array;
  /** Near neighbours kept on each side (default 3, at least 2: the ring survives any 2 adjacent failures). */
  nearNeighbours?: number;
  /** Hops a routed message may take (default 64; greedy routes here take about log2 N / 2). */
  routeTtl?: number;
  link?: Omit<LinkLayerInit, 'networkId'>;
  ring?: Partial<RingMaintenanceInit>;
  shortcuts?: Partial<ShortcutInit>;
  dht?: Partial<DhtInit>;
  relay?: Partial<RelayServiceInit>;
  /** How this node ranks relays for peers it cannot reach directly (default balanced). */
  relayStrategy?: RelayStrategy;
  /** Look for relays when no direct path works (default true; false leaves such peers to overlay routing). */
  useRelays?: boolean;
}

export interface OverlayNodeComponents {
  clock: Clock;
  random: Random;
  transport: DatagramTransport;
  identity: Identity;
  log: Logger;
  admission?: AdmissionCheck;
  /**
   * The endpoints this host can be reached at on its own networks (its interface addresses with
   * the socket's port). Default: the transport's local endpoint.
   */
  localEndpoints?: () => Endpoint[];
}

export interface NodeStats {
  messagesIn: number;
  messagesOut: number;
  decodeErrors: number;
  routedForwarded: number;
  routedDelivered: number;
  routedDropped: number;
  /** Messages sent, by message kind (routed messages by body type), forwarded ones included. */
  sentByKind: Record<string, number>;
}

export type AppHandler = (source: Address, data: Uint8Array, hops: number) => void;
/** Receives datagrams from linked peers. `data` is only valid during the call (copy to keep it). */
export type DatagramHandler = (peer: Address, data: Uint8Array) => void;

/** Connections kept at most; further inbound links are refused so no peer set grows without bound. */
const MAX_CONNECTIONS = 160;
/**
 * Failure detection adapts to churn. In a quiet ring every link uses the link layer's defaults
 * (keepalive after 20 s of silence, dead after 30 s: cheap). Once this node has seen any peer
 * fail (stop answering, not leave) in the last CHURN_MEMORY_MS, or a neighbour's status said it
 * had, its near links switch to
 * FAST_NEAR_LIVENESS and its other links to CHURN_LIVENESS for that long: a crashed neighbour is
 * noticed in about 2 s instead of 30 s (what keeps the ring consistent under churn, and what finds
 * the other victims of a mass failure soon after the first), and a dead shortcut in about 12 s, at
 * the cost of more keepalives while the churn lasts.
 */
const FAST_NEAR_LIVENESS = { keepaliveIdleMs: 500, deadAfterMs: 2_000 } as const;
const CHURN_LIVENESS = { keepaliveIdleMs: 5_000, deadAfterMs: 12_000 } as const;
const CHURN_MEMORY_MS = 30 * 60_000;

const LIVENESS = { default: null, near: FAST_NEAR_LIVENESS, churn: CHURN_LIVENESS, relayed: RELAYED_LIVENESS, punched: PUNCHED_LIVENESS } as const;

/** Expiry of the bookkeeping maps below and of the churn memory. */
const HOUSEKEEPING_MS = 30_000;

/** A joiner waits this long at most for its bootstrap's endpoint report before it sends its join. */
const LEAF_WAIT_MS = 1_000;

/**
 * One overlay node: owns the connection table and wires the link layer to ring maintenance,
 * shortcuts, routing, the DHT and broadcast. Clock, randomness and transport are injected.
 */
export class OverlayNode {
  readonly address: Address;
  /** Which overlay this node is on (16 bytes): the public ring, a lab network's, or a group's id. */
  readonly networkId: Uint8Array;
  readonly links: LinkLayer;
  readonly table: ConnectionTable;
  readonly ring: RingMaintenance;
  readonly shortcuts: Shortcuts;
  readonly dht: DhtService;
  readonly broadcast: Broadcast;
  readonly endpoints: EndpointBook;
  readonly relayService: RelayService;
  readonly relayPaths: RelayPaths;
  readonly stats: NodeStats = { messagesIn: 0, messagesOut: 0, decodeErrors: 0, routedForwarded: 0, routedDelivered: 0, routedDropped: 0, sentByKind: {} };
  private readonly ctx: NodeContext;
  private readonly forwarding: RoutedForwarding;
  private readonly defaultKeepaliveMs: number;
  private readonly pings: RoutedPending<{ rttMs: number; hops: number }>;
  private readonly crawls: RoutedPending<{ left: PeerRecord[]; right: PeerRecord[] }>;
  private readonly appHandlers = new Map<number, AppHandler>();
  private datagramHandler: DatagramHandler | null = null;
  private readonly bootstrapEndpoints = new Set<string>();
  private housekeeping: TimerHandle | null = null;
  private pathTick: TimerHandle | null = null;
  private readonly nodeTransport: NodeTransport;
  private readonly connector: Connector;
  /** Leaf links whose join waits for the bootstrap's endpoint report (so the join carries our public endpoint). */
  private readonly leafWaiting = new Map<Address, TimerHandle>();
  /** What each linked peer told us of itself (endpoints, NAT kind): passed on in neighbour lists. */
  private readonly peerSelf = new Map<Address, PeerRecord>();
  /** Our NAT's public endpoint as last announced (a change means the NAT's mapping changed). */
  private lastPublicEndpoint: string | null = null;
  private lastFailureAt = -Infinity;
  /** Last time a neighbour said it sees churn (not passed on, so churn news cannot echo forever). */
  private heardChurnAt = -Infinity;
  private running = false;

  constructor(init: OverlayNodeInit, private readonly components: OverlayNodeComponents) {
    const { clock, random, identity, log } = components;
    this.address = identity.address;
    this.networkId = Uint8Array.from(init.networkId);
    this.defaultKeepaliveMs = init.link?.keepaliveIdleMs ?? 20_000;
    this.table = new ConnectionTable(identity.address);
    this.nodeTransport = new NodeTransport(components.transport, (relay, to, bytes) => {
      if (!this.table.has(relay)) return;
      this.sendDirect(relay, { kind: 'relay-send', to, payload: bytes });
    });
    const localEndpoints = components.localEndpoints ?? (() => [components.transport.localEndpoint]);
    this.endpoints = new EndpointBook(localEndpoints);
    this.links = createLinkLayer({ networkId: init.networkId, ...init.link })({
      clock,
      random,
      transport: this.nodeTransport,
      identity,
      admission: components.admission ?? openAdmission,
      log: log.child('link'),
    });
    this.ctx = {
      self: this.address,
      identity,
      clock,
      random,
      log,
      table: this.table,
      links: this.links,
      k: Math.max(2, init.nearNeighbours ?? 3),
      selfRecord: () => this.selfRecord(),
      peerRecord: (a) => this.peerRecord(a),
      sendDirect: (peer, message) => this.sendDirect(peer, message),
      route: (destination, body, options) => this.forwarding.route(destination, body, options),
      connectTo: (record, reason, via) => this.connector.connectTo(record, reason, via),
      disconnect: (a, reason) => this.disconnect(a, reason),
      returnVia: () => this.connector.returnVia(),
      sendReply: (requester, body, via) => this.connector.sendReply(requester, body, via),
      seesChurn: () => this.ctx.clock.now() - this.lastFailureAt < CHURN_MEMORY_MS,
      heardChurn: () => {
        const now = this.ctx.clock.now();
        if (now - this.heardChurnAt < CHURN_MEMORY_MS / 2) return;
        this.heardChurnAt = now;
        this.applyLiveness();
      },
    };
    this.ring = new RingMaintenance(this.ctx, { ...defaultRingMaintenanceInit, ...init.ring });
    this.shortcuts = new Shortcuts(this.ctx, { ...defaultShortcutInit, ...init.shortcuts }, () => this.ring.joined);
    this.dht = new DhtService(this.ctx, { ...defaultDhtInit, ...init.dht }, () => this.ring.joined);
    this.broadcast = new Broadcast(this.ctx, defaultBroadcastInit);
    this.relayService = new RelayService(
      { ...defaultRelayServiceInit, ...init.relay },
      (peer) => {
        const link = this.links.get(peer);
        return link !== undefined && relayOf(link.endpoint) === null && this.table.has(peer);
      },
      (to, from, payload) => this.sendDirect(to, { kind: 'relay-deliver', from, payload }),
    );
    this.relayPaths = new RelayPaths(this.ctx, init.relayStrategy ?? 'balanced');
    this.connector = new Connector(this.ctx, {
      ring: this.ring,
      shortcuts: this.shortcuts,
      relayPaths: this.relayPaths,
      useRelays: init.useRelays ?? true,
      relaysBusy: () => this.ensurePathTick(),
      running: () => this.running,
    });
    this.forwarding = new RoutedForwarding({
      self: this.address,
      clock,
      table: this.table,
      links: this.links,
      routeTtl: init.routeTtl ?? 64,
      stats: this.stats,
      seesChurn: () => this.churnActive(clock.now()),
      keepaliveIdleMs: (c) => LIVENESS[c.liveness]?.keepaliveIdleMs ?? this.defaultKeepaliveMs,
      avoidsDirect: (peer) => this.relayPaths.avoidsDirect(peer),
      sendDirect: (peer, message) => this.sendDirect(peer, message),
      deliver: (m) => this.deliver(m),
    });
    this.pings = new RoutedPending(clock, 256);
    this.crawls = new RoutedPending(clock, 256);
    this.links.onEvent((e) => this.onLinkEvent(e));
  }

  get joined(): boolean {
    return this.ring.joined;
  }

  /** Join through the given bootstrap endpoints (none: start a new ring). */
  start(bootstraps: string[] = []): void {
    if (this.running) return;
    this.running = true;
    for (const b of bootstraps) this.bootstrapEndpoints.add(b);
    this.ring.start(bootstraps.filter((b) => b !== this.components.transport.localEndpoint));
    this.shortcuts.start();
    this.dht.start();
    this.housekeeping = this.ctx.clock.setInterval(() => this.expireMaps(), HOUSEKEEPING_MS);
  }

  /** Tell near neighbours we are leaving (with our neighbour lists, to speed up their repair), then stop. */
  leave(): void {
    const { left, right } = this.ring.neighbourRecords(this.ctx.k + 1);
    for (const a of [...left, ...right]) this.sendDirect(a.address, { kind: 'leave', left, right });
    this.stop();
  }

  /** Stop every timer and forget every link. The transport is left to its owner. */
  stop(): void {
    this.running = false;
    this.ring.stop();
    this.shortcuts.stop();
    this.dht.stop();
    this.pings.clear();
    this.crawls.clear();
    this.housekeeping?.cancel();
    this.housekeeping = null;
    this.pathTick?.cancel();
    this.pathTick = null;
    for (const t of this.leafWaiting.values()) t.cancel();
    this.leafWaiting.clear();
    this.relayPaths.stop();
    this.connector.stop();
    this.links.stop();
  }

  /** This node's record as peers should use it: endpoints best first, and its NAT kind. */
  selfRecord(): PeerRecord {
    const endpoints = this.endpoints.endpoints();
    if (endpoints.length === 0) endpoints.push(this.components.transport.localEndpoint);
    const nat = this.endpoints.nat();
    return nat === NatKind.NONE ? { address: this.address, endpoints } : { address: this.address, endpoints, nat };
  }

  /** How a linked peer is reached (direct or through a relay) and why; undefined without a link. */
  pathOf(peer: Address): (PathState & { endpoint: Endpoint; rttMs: number | null; since: number }) | undefined {
    const link = this.links.get(peer);
    if (link === undefined) return undefined;
    return { ...this.relayPaths.describe(peer, link.endpoint), endpoint: link.endpoint, rttMs: link.rttMs, since: link.establishedAt };
  }

  /**
   * The host's network changed (new addresses, another network, a wake from sleep): forget what
   * peers observed, tell every peer where we are now (authenticated probes from the new address
   * move their side of each link: roaming) and re-learn our public endpoint.
   */
  networkChanged(): void {
    this.endpoints.clear();
    this.lastPublicEndpoint = null;
    for (const link of this.links.links()) {
      // A peer behind a NAT drops datagrams from our new address, and they would spoil its NAT
      // for a later punch: a relay carries that session until it is punched again.
      if (relayOf(link.endpoint) === null && this.peerNatted(link.peer)) {
        this.relayPaths.fallBack(link.peer, 'this node moved to another network: relayed until a direct path is punched again');
      } else this.links.probePath(link.peer, link.endpoint);
    }
    this.ensurePathTick();
  }

  /**
   * A session with the node at `peer` for the application (the VPN's traffic): a connect-request
   * routed to it carries our endpoints; both sides then punch (or find a relay) and the link is
   * kept until closeSession. Already linked: the link is kept from now on.
   */
  openSession(peer: Address): void {
    if (this.running) this.connector.openSession(peer, MAX_CONNECTIONS);
  }

  /** The application no longer needs the session (the link stays if the ring still uses it). */
  closeSession(peer: Address): void {
    this.connector.closeSession(peer);
  }

  leftNeighbours(n: number): Address[] {
    return this.table.left(n);
  }

  rightNeighbours(n: number): Address[] {
    return this.table.right(n);
  }

  onApp(channel: number, handler: AppHandler): void {
    this.appHandlers.set(channel, handler);
  }

  /**
   * Sends application data straight over the session with a linked peer (direct or relayed): the
   * VPN's per-packet path. False (and nothing sent) when there is no session with the peer yet;
   * open one with openSession.
   */
  sendDatagram(peer: Address, data: Uint8Array): boolean {
    if (!this.running || !this.table.has(peer)) return false;
    this.stats.messagesOut++;
    return this.links.send(peer, encodeMessage({ kind: 'datagram', data }));
  }

  onDatagram(handler: DatagramHandler): void {
    this.datagramHandler = handler;
  }

  onBroadcast(channel: number, handler: BroadcastHandler): void {
    this.broadcast.onChannel(channel, handler);
  }

  sendApp(destination: Address, channel: number, data: Uint8Array): void {
    this.forwarding.route(destination, { type: 'app', channel, data }, { mode: RouteMode.EXACT });
  }

  /** Authenticated round trip over the overlay to the node at `destination`; null on timeout. */
  ping(destination: Address, timeoutMs: number, callback: (r: { rttMs: number; hops: number } | null) => void): void {
    const id = this.pings.add(timeoutMs, callback);
    if (id === null) return callback(null);
    this.forwarding.route(destination, { type: 'ping', id, sentAt: this.ctx.clock.now() }, { mode: RouteMode.EXACT });
  }

  /** Ask the node at `destination` for its neighbour lists. */
  crawl(destination: Address, timeoutMs: number, callback: (r: { left: PeerRecord[]; right: PeerRecord[] } | null) => void): void {
    const id = this.crawls.add(timeoutMs, callback);
    if (id === null) return callback(null);
    this.forwarding.route(destination, { type: 'crawl-request', id }, { mode: RouteMode.EXACT });
  }

  private onLinkEvent(e: LinkEvent): void {
    if (!this.running) return;
    switch (e.kind) {
      case 'up': {
        const peer = e.link.peer;
        const { answeredPeer } = this.connector.linkUp(peer);
        if (!this.table.has(peer) && this.table.size >= MAX_CONNECTIONS) {
          this.links.close(peer, 'too many connections');
          return;
        }
        let flags = 0;
        if (this.bootstrapEndpoints.has(e.link.endpoint) && !this.ring.joined) flags |= ConnectionFlag.LEAF;
        // INBOUND: the peer asked for this link, so the peer decides when it ends.
        if (answeredPeer) flags |= ConnectionFlag.INBOUND;
        else if (!e.link.initiator && !this.table.wouldBeNear(peer, this.ctx.k)) flags |= ConnectionFlag.INBOUND;
        const c = this.table.upsert(peer, e.link.endpoint, flags, this.ctx.clock.now());
        this.connector.afterLinkUp(peer);
        this.relayPaths.onLinkUp(peer);
        if (relayOf(e.link.endpoint) === null) this.sendDirect(peer, { kind: 'endpoint-report', observed: e.link.endpoint, sender: this.selfRecord() });
        if ((flags & ConnectionFlag.LEAF) !== 0 && this.endpoints.observationCount === 0 && !this.leafWaiting.has(peer)) {
          // Join once the bootstrap has told us our public endpoint (it comes right after the
          // handshake), so the nodes we link with can punch toward it; at most LEAF_WAIT_MS later.
          this.leafWaiting.set(peer, this.ctx.clock.setTimeout(() => this.releaseLeaf(peer), LEAF_WAIT_MS));
        } else this.ring.onLinkUp(peer, (flags & ConnectionFlag.LEAF) !== 0);
        if (c.flags === 0 && this.table.has(peer)) this.disconnect(peer, 'no reason to keep this link');
        this.connector.flushDeferredReply(peer);
        this.dht.onNeighboursChanged();
        this.applyLiveness();
        return;
      }
      case 'down': {
        this.endpoints.forget(e.peer);
        this.peerSelf.delete(e.peer);
        this.relayService.forgetPeer(e.peer);
        this.relayPaths.onLinkDown(e.peer);
        const lost = this.table.remove(e.peer);
        if (lost === undefined) return;
        this.ring.onLinkDown((lost.flags & ConnectionFlag.NEAR) !== 0);
        this.dht.onNeighboursChanged();
        if (e.timedOut) {
          this.lastFailureAt = this.ctx.clock.now();
          if ((lost.flags & ConnectionFlag.NEAR) !== 0) this.dht.onNeighbourFailed();
        }
        this.applyLiveness();
        return;
      }
      case 'moved':
        // Tell the peer where its datagrams come from now: its NAT mapping or network changed,
        // and this is how it learns its new public endpoint.
        if (this.table.has(e.peer) && relayOf(e.endpoint) === null) {
          this.table.get(e.peer)!.endpoint = e.endpoint;
          this.sendDirect(e.peer, { kind: 'endpoint-report', observed: e.endpoint, sender: this.selfRecord() });
        }
        return;
      case 'connect-failed':
        this.connector.onConnectFailed(e);
        this.ring.onConnectFailed();
        return;
      case 'message':
        this.onMessage(e.peer, e.payload);
        return;
    }
  }

  private onMessage(from: Address, bytes: Uint8Array): void {
    this.stats.messagesIn++;
    const decoded = decodeMessage(bytes);
    if (!decoded.ok) {
      this.stats.decodeErrors++;
      this.ctx.log.debug('dropped malformed message', { peer: shortAddress(from), reason: decoded.error.message });
      return;
    }
    const m = decoded.value;
    switch (m.kind) {
      case 'status':
        if (this.table.has(from)) this.ring.onStatus(from, m);
        return;
      case 'leave': {
        this.ring.onLeave(m);
        const left = this.table.remove(from);
        if (left !== undefined) {
          this.links.close(from, 'peer left');
          this.ring.onLinkDown((left.flags & ConnectionFlag.NEAR) !== 0);
          this.dht.onNeighboursChanged();
        }
        return;
      }
      case 'routed':
        this.forwarding.forward(m, from);
        return;
      case 'dht-replicate':
        if (this.table.has(from)) this.dht.onReplicate(m.records);
        return;
      case 'broadcast':
        if (this.table.has(from)) this.broadcast.receive(m);
        return;
      case 'endpoint-report': {
        const link = this.links.get(from);
        if (link === undefined || m.sender.address !== from) return;
        const natBefore = this.peerSelf.get(from)?.nat;
        this.peerSelf.set(from, { ...m.sender, endpoints: [...m.sender.endpoints] });
        if (m.sender.nat !== natBefore) this.applyLiveness();
        if (relayOf(link.endpoint) !== null) return;
        if (this.endpoints.report(from, m.observed, this.ctx.clock.now())) this.announceRecord();
        if (this.leafWaiting.has(from)) this.releaseLeaf(from);
        return;
      }
      case 'relay-send':
        this.relayService.onRelaySend(from, m.to, m.payload, this.ctx.clock.now());
        return;
      case 'datagram':
        if (this.table.has(from)) this.datagramHandler?.(from, m.data);
        return;
      case 'relay-deliver': {
        const link = this.links.get(from);
        if (link === undefined || relayOf(link.endpoint) !== null) return;
        this.nodeTransport.inject(from, m.from, m.payload);
        return;
      }
    }
  }

  /**
   * Our record changed (a NAT seen, a new public endpoint): tell every peer, with where we see it.
   * When our NAT's public mapping changed (a NAT restart), peers behind NATs drop our datagrams
   * from the new mapping, and each one we send would spoil their NAT for a later punch: those
   * sessions go over a relay at once, and are punched again later (RelayPaths.fallBack).
   */
  private announceRecord(): void {
    const sender = this.selfRecord();
    const selfNatted = (sender.nat ?? NatKind.NONE) !== NatKind.NONE;
    const publicEndpoint = selfNatted ? (sender.endpoints[0] ?? null) : null;
    const mappingChanged = publicEndpoint !== null && this.lastPublicEndpoint !== null && publicEndpoint !== this.lastPublicEndpoint;
    if (publicEndpoint !== null) this.lastPublicEndpoint = publicEndpoint;
    for (const link of this.links.links()) {
      if (relayOf(link.endpoint) !== null) continue;
      if (mappingChanged && this.peerNatted(link.peer)) {
        this.relayPaths.fallBack(link.peer, 'the public address of this node\'s NAT changed: relayed until a direct path is punched again');
      } else {
        this.sendDirect(link.peer, { kind: 'endpoint-report', observed: link.endpoint, sender });
      }
    }
    this.applyLiveness();
    this.ensurePathTick();
  }

  private peerNatted(peer: Address): boolean {
    return (this.peerSelf.get(peer)?.nat ?? NatKind.NONE) !== NatKind.NONE;
  }

  /**
   * A peer's record for others: what it told us of itself, with the endpoint we reach it at first
   * when that is direct (it works, as seen from the ring).
   */
  private peerRecord(a: Address): PeerRecord {
    const told = this.peerSelf.get(a);
    const seen = this.links.get(a)?.endpoint ?? this.table.get(a)?.endpoint;
    const endpoints: Endpoint[] = [];
    if (seen !== undefined && relayOf(seen) === null) endpoints.push(seen);
    for (const e of told?.endpoints ?? []) if (!endpoints.includes(e) && endpoints.length < 4) endpoints.push(e);
    const nat = told?.nat;
    return nat === undefined ? { address: a, endpoints } : { address: a, endpoints, nat };
  }

  private releaseLeaf(peer: Address): void {
    const timer = this.leafWaiting.get(peer);
    if (timer === undefined) return;
    timer.cancel();
    this.leafWaiting.delete(peer);
    if (this.running && this.table.has(peer)) this.ring.onLinkUp(peer, true);
  }

  /** Relays need a once-a-second look (failover, upgrades) only while they have work. */
  private ensurePathTick(): void {
    if (this.pathTick !== null || !this.running) return;
    this.pathTick = this.ctx.clock.setInterval(() => {
      this.relayPaths.tick();
      if (!this.relayPaths.busy) {
        this.pathTick?.cancel();
        this.pathTick = null;
      }
    }, 1_000);
  }

  private sendDirect(peer: Address, message: OverlayMessage): boolean {
    this.stats.messagesOut++;
    const label = message.kind === 'routed' ? message.body.type : message.kind;
    this.stats.sentByKind[label] = (this.stats.sentByKind[label] ?? 0) + 1;
    return this.links.send(peer, encodeMessage(message));
  }

  private deliver(m: RoutedMessage): void {
    this.stats.routedDelivered++;
    const body = m.body;
    switch (body.type) {
      case 'connect-request':
        return this.connector.onConnectRequest(m.source, body);
      case 'connect-reply':
        return this.connector.onConnectReply(body);
      case 'ping':
        return this.forwarding.route(m.source, { type: 'pong', id: body.id, sentAt: body.sentAt, requestHops: m.hops }, { mode: RouteMode.EXACT });
      case 'pong':
        return this.pings.resolve(body.id, { rttMs: this.ctx.clock.now() - body.sentAt, hops: body.requestHops });
      case 'dht-request':
        return this.dht.onRequest({ ...m, body });
      case 'dht-response':
        return this.dht.onResponse(body.requestId, body.status, body.records);
      case 'crawl-request': {
        const { left, right } = this.ring.neighbourRecords(this.ctx.k + 1);
        return this.forwarding.route(m.source, { type: 'crawl-reply', id: body.id, left, right }, { mode: RouteMode.EXACT });
      }
      case 'crawl-reply':
        return this.crawls.resolve(body.id, { left: body.left, right: body.right });
      case 'app':
        this.appHandlers.get(body.channel)?.(m.source, body.data, m.hops);
        return;
      case 'path-request':
        this.relayPaths.onPathRequest(m.source, body);
        this.ensurePathTick();
        this.applyLiveness();
        return;
      case 'path-reply':
        this.relayPaths.onPathReply(body);
        this.ensurePathTick();
        return;
    }
  }

  private disconnect(address: Address, reason: string): void {
    const gone = this.table.remove(address);
    if (gone === undefined) return;
    this.links.close(address, reason);
    this.ring.onLinkDown((gone.flags & ConnectionFlag.NEAR) !== 0);
    this.dht.onNeighboursChanged();
  }

  /**
   * Links get the churn failure detectors while this node sees churn (see FAST_NEAR_LIVENESS),
   * relayed ones the relay's, and punched paths between two NATs theirs (see PUNCHED_LIVENESS).
   */
  private applyLiveness(): void {
    const now = this.ctx.clock.now();
    const churn = this.churnActive(now);
    const selfNatted = this.endpoints.nat() !== NatKind.NONE;
    let punched = false;
    for (const c of this.table.all()) {
      const profile =
        this.relayPaths.hasPlan(c.address) ? 'relayed'
        : (c.flags & ConnectionFlag.NEAR) !== 0 && churn ? 'near'
        : this.relayPaths.watches(c.address, selfNatted) ? 'punched'
        : churn ? 'churn'
        : 'default';
      punched ||= profile === 'punched';
      if (profile === c.liveness) continue;
      c.liveness = profile;
      this.links.setLiveness(c.address, LIVENESS[profile]);
    }
    if (punched) this.ensurePathTick();
  }

  /** This node saw a peer fail, or a neighbour said it sees churn, within CHURN_MEMORY_MS. */
  private churnActive(now: number): boolean {
    return now - this.lastFailureAt < CHURN_MEMORY_MS || now - this.heardChurnAt < CHURN_MEMORY_MS;
  }

  private expireMaps(): void {
    this.applyLiveness();
    const now = this.ctx.clock.now();
    this.connector.expire(now, MAX_CONNECTIONS);
    this.relayService.expire(now);
  }
}

/** `createNode(init)(components)`: options apart from injected dependencies. */
export function createNode(init: OverlayNodeInit): (components: OverlayNodeComponents) => OverlayNode {
  return (components) => new OverlayNode(init, components);
}
