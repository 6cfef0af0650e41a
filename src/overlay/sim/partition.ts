/**
 * One partition of a parallel simulation (parallel-world.ts): a {@link SimOverlay} holding some of
 * the nodes, driven by requests from the coordinator. A request carries the packets other
 * partitions sent here, the coordinator's commands (executed at the partition's current time, in
 * order), and an action: run up to a virtual time, or report views and counters. The reply
 * carries the packets for other partitions, the results of commands that finished, and the
 * partition's next event time.
 *
 * The same class runs inside a worker thread (partition-worker.ts) and, for partition 0, on the
 * coordinator's own thread.
 */
import type { Address } from '../address.js';
import type { Endpoint } from '../transport.js';
import type { Coordinates } from './latency-model.js';
import { PacketBatchBuilder, forEachPacket, type PacketBatch } from './packet-batch.js';
import type { RemoteHost } from './sim-network.js';
import { SimOverlay, type SimNode } from './sim-overlay.js';

export interface PartitionInit {
  seed: number | string;
  encrypt: boolean;
  lossRate: number;
  index: number;
  count: number;
}

export type PartitionCommand =
  /** A host of another partition: where to send packets for it, and its coordinates. */
  | { kind: 'host'; ip: string; partition: number; coordinates: Coordinates }
  | { kind: 'spawn'; index: number; coordinates: Coordinates; bootstraps: string[] }
  | { kind: 'kill'; index: number }
  | { kind: 'put'; index: number; id: number; key: Uint8Array; value: Uint8Array; ttlSeconds: number }
  | { kind: 'get'; index: number; id: number; key: Uint8Array }
  | { kind: 'ping'; index: number; id: number; target: Address; timeoutMs: number }
  /** Count broadcasts on `channel` at every live node of this partition. */
  | { kind: 'listen'; channel: number }
  | { kind: 'broadcast'; index: number; channel: number; data: Uint8Array }
  | { kind: 'compact' };

export type PartitionResult =
  | { kind: 'put'; id: number; time: number; ok: boolean }
  | { kind: 'get'; id: number; time: number; ok: boolean; status: string; values: Uint8Array[] }
  | { kind: 'ping'; id: number; time: number; hops: number | null };

/** A result before it is stamped with its time (Omit over each member of the union). */
type Unstamped<T> = T extends unknown ? Omit<T, 'time'> : never;
type UnstampedResult = Unstamped<PartitionResult>;

export type PartitionAction = { kind: 'run'; until: number } | { kind: 'views' } | { kind: 'stats' } | { kind: 'stop' };

export interface PartitionRequest {
  inbound: PacketBatch[];
  /** More inbound packets wait in the channel's shared memory (shared-packets.ts), to be taken before `inbound`. */
  sharedInbound?: boolean;
  commands: PartitionCommand[];
  action: PartitionAction;
}

/** What the ring-consistency check needs of one joined node. */
export interface NodeView {
  address: Address;
  left: Address[];
  right: Address[];
}

export interface PartitionStats {
  /** Live nodes that have not joined the ring. */
  joining: number;
  /** Connections over the live nodes. */
  connections: number;
  broadcastsReceived: Record<number, number>;
}

export interface PartitionReply {
  /** Results of commands, in the order they finished. */
  results: PartitionResult[];
  /** Packets for each partition (null: none), indexed by partition. */
  outbound: (PacketBatch | null)[];
  /** The packets are in the channel's shared memory instead (shared-packets.ts); `outbound` is empty. */
  sharedOutbound?: boolean;
  /** Nodes spawned since the last reply, with their overlay addresses. */
  spawned: { index: number; address: Address }[];
  /** Nodes whose `joined` changed since the last reply. */
  joined: { index: number; joined: boolean }[];
  /** Time of the partition's next event (Infinity: none). */
  nextTime: number;
  /** Events processed so far. */
  processed: number;
  /** Packets sent so far. */
  sent: number;
  views?: NodeView[];
  stats?: PartitionStats;
  /** Set when the partition failed: the message and stack. */
  error?: string;
}

/** Checking every node's `joined` flag after each window is too slow; reverts are rare, so check all only this often. */
const FULL_JOIN_SCAN_MS = 1000;

export class Partition {
  private readonly nodes = new Map<number, SimNode>();
  private readonly indexOf = new Map<SimNode, number>();
  private readonly remote = new Map<string, RemoteHost>();
  private readonly outbound: PacketBatchBuilder[];
  private results: PartitionResult[] = [];
  private spawned: { index: number; address: Address }[] = [];
  /** Last `joined` reported per node. */
  private readonly reportedJoined = new Map<SimNode, boolean>();
  private readonly unjoined = new Set<SimNode>();
  private lastFullScan = -Infinity;
  private readonly broadcasts: Record<number, number> = {};

  private constructor(
    readonly sim: SimOverlay,
    readonly init: PartitionInit,
  ) {
    this.outbound = Array.from({ length: init.count }, () => new PacketBatchBuilder());
    sim.network.setRemoteHosts({
      find: (ip) => this.remote.get(ip),
      send: (host, from, to, bytes, at) => this.outbound[host.partition]!.push(from, to, bytes, at),
    });
  }

  static async create(init: PartitionInit): Promise<Partition> {
    const sim = await SimOverlay.create({
      seed: init.seed,
      encrypt: init.encrypt,
      lossRate: init.lossRate,
      partition: { index: init.index, count: init.count },
    });
    return new Partition(sim, init);
  }

  /** A packet from another partition. */
  inject(from: Endpoint, to: Endpoint, bytes: Uint8Array, at: number): void {
    this.sim.network.injectRemote(from, to, bytes, at);
  }

  handle(request: PartitionRequest): PartitionReply {
    for (const batch of request.inbound) {
      forEachPacket(batch, (from, to, bytes, at) => this.sim.network.injectRemote(from, to, bytes, at));
    }
    for (const command of request.commands) this.apply(command);
    const action = request.action;
    let views: NodeView[] | undefined;
    let stats: PartitionStats | undefined;
    if (action.kind === 'run') this.sim.queue.runUntil(action.until);
    else if (action.kind === 'views') views = this.views();
    else if (action.kind === 'stats') stats = this.stats();
    const reply: PartitionReply = {
      results: this.results,
      outbound: this.outbound.map((b) => b.take()),
      spawned: this.spawned,
      joined: this.joinedChanges(),
      nextTime: this.sim.queue.nextTime(),
      processed: this.sim.queue.processed,
      sent: this.sim.network.sent,
    };
    if (views !== undefined) reply.views = views;
    if (stats !== undefined) reply.stats = stats;
    this.results = [];
    this.spawned = [];
    return reply;
  }

  private apply(c: PartitionCommand): void {
    switch (c.kind) {
      case 'host':
        this.remote.set(c.ip, { partition: c.partition, coordinates: c.coordinates });
        return;
      case 'spawn': {
        const s = this.sim.spawnAt({ index: c.index, coordinates: c.coordinates, bootstraps: c.bootstraps });
        this.nodes.set(c.index, s);
        this.indexOf.set(s, c.index);
        this.spawned.push({ index: c.index, address: s.node.address });
        this.reportedJoined.set(s, false);
        this.unjoined.add(s); // the first node joins at once, and is reported so after this request

        return;
      }
      case 'kill': {
        const s = this.nodes.get(c.index);
        if (s !== undefined) this.sim.kill(s);
        return;
      }
      case 'put': {
        const s = this.live(c.index);
        if (s === undefined) return this.record({ kind: 'put', id: c.id, ok: false });
        s.node.dht.put(c.key, c.value, c.ttlSeconds, (r) => this.record({ kind: 'put', id: c.id, ok: r.ok }));
        return;
      }
      case 'get': {
        const s = this.live(c.index);
        if (s === undefined) return this.record({ kind: 'get', id: c.id, ok: false, status: 'reader-left', values: [] });
        s.node.dht.get(c.key, (r) =>
          this.record({ kind: 'get', id: c.id, ok: r.ok, status: r.ok ? 'ok' : r.status, values: r.ok ? r.records.map((rec) => rec.value) : [] }),
        );
        return;
      }
      case 'ping': {
        const s = this.live(c.index);
        if (s === undefined) return this.record({ kind: 'ping', id: c.id, hops: null });
        s.node.ping(c.target, c.timeoutMs, (r) => this.record({ kind: 'ping', id: c.id, hops: r === null ? null : r.hops }));
        return;
      }
      case 'listen':
        this.broadcasts[c.channel] ??= 0;
        for (const s of this.nodes.values()) {
          if (s.alive) s.node.onBroadcast(c.channel, () => this.broadcasts[c.channel]!++);
        }
        return;
      case 'broadcast':
        this.live(c.index)?.node.broadcast.send(c.channel, c.data);
        return;
      case 'compact':
        for (const [index, s] of this.nodes) {
          if (s.alive) continue;
          this.nodes.delete(index);
          this.indexOf.delete(s);
          this.reportedJoined.delete(s);
          this.unjoined.delete(s);
        }
        this.sim.compact();
        return;
    }
  }

  /** A finished command's result, stamped with the time it finished. */
  private record(result: UnstampedResult): void {
    this.results.push({ ...result, time: this.sim.now } as PartitionResult);
  }

  private live(index: number): SimNode | undefined {
    const s = this.nodes.get(index);
    return s !== undefined && s.alive ? s : undefined;
  }

  /** Nodes whose `joined` flag changed: the not-yet-joined ones every time, all of them now and then. */
  private joinedChanges(): { index: number; joined: boolean }[] {
    const changes: { index: number; joined: boolean }[] = [];
    const check = (s: SimNode): void => {
      const joined = s.alive && s.node.joined;
      if (this.reportedJoined.get(s) === joined) return;
      this.reportedJoined.set(s, joined);
      changes.push({ index: this.indexOf.get(s)!, joined });
      if (joined) this.unjoined.delete(s);
      else if (s.alive) this.unjoined.add(s);
    };
    if (this.sim.now - this.lastFullScan >= FULL_JOIN_SCAN_MS) {
      this.lastFullScan = this.sim.now;
      for (const s of this.nodes.values()) check(s);
    } else {
      for (const s of [...this.unjoined]) check(s);
    }
    for (const s of this.unjoined) if (!s.alive) this.unjoined.delete(s);
    return changes;
  }

  private views(): NodeView[] {
    const out: NodeView[] = [];
    for (const s of this.nodes.values()) {
      if (!s.alive || !s.node.joined) continue;
      out.push({ address: s.node.address, left: s.node.leftNeighbours(2), right: s.node.rightNeighbours(2) });
    }
    return out;
  }

  private stats(): PartitionStats {
    let joining = 0;
    let connections = 0;
    for (const s of this.nodes.values()) {
      if (!s.alive) continue;
      if (!s.node.joined) joining++;
      connections += s.node.table.size;
    }
    return { joining, connections, broadcastsReceived: { ...this.broadcasts } };
  }
}
