/**
 * One partition of a parallel simulation (parallel-world.ts): a {@link SimOverlay} holding some of
 * the nodes, driven by requests from the coordinator. A request carries the coordinator's
 * commands (executed at the partition's current time, in order) and an action: run up to a
 * virtual time, or report views and counters. The reply carries the results of commands that
 * finished and what changed about the partition's nodes.
 *
 * While it runs, a partition streams the packets it sends to other partitions through shared
 * memory (packet-stream.ts) and publishes its clock (partition-clocks.ts) after every event; it
 * runs each event as soon as no other partition can still send it anything earlier. So a burst of work on one thread (handshakes) holds the others up only when it is
 * more than the latency floor of virtual time behind them, not at every step of that size.
 *
 * The same class runs inside a worker thread (partition-worker.ts) and, for partition 0, on the
 * coordinator's own thread.
 */
import type { Address } from '../address.js';
import type { Endpoint } from '../transport.js';
import type { Coordinates } from './latency-model.js';
import { PartitionClocks } from './partition-clocks.js';
import { PacketStream } from './packet-stream.js';
import type { RemoteHost } from './sim-network.js';
import { SimOverlay, type SimNode } from './sim-overlay.js';

export interface PartitionInit {
  seed: number | string;
  encrypt: boolean;
  lossRate: number;
  index: number;
  count: number;
  /** No packet between two partitions is faster than this (ms): the latency model's floor. */
  lookahead: number;
}

/**
 * How a partition reaches the others, as shared memory handed to its thread: everyone's clocks,
 * and a packet stream to and from each other partition (null for itself).
 */
export interface SharedPartitionLinks {
  clocks: SharedArrayBuffer;
  outgoing: (SharedArrayBuffer | null)[];
  incoming: (SharedArrayBuffer | null)[];
  /** Checks of the others' clocks before sleeping while blocked (0: sleep at once). */
  streamSpins: number;
}

interface PartitionLinks {
  clocks: PartitionClocks;
  outgoing: (PacketStream | null)[];
  incoming: (PacketStream | null)[];
  spins: number;
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
  /** Nodes spawned since the last reply, with their overlay addresses. */
  spawned: { index: number; address: Address }[];
  /** Nodes whose `joined` changed since the last reply. */
  joined: { index: number; joined: boolean }[];
  /** Events processed so far. */
  processed: number;
  /** Packets sent so far. */
  sent: number;
  views?: NodeView[];
  stats?: PartitionStats;
  /** Set when the partition failed: the message and stack. */
  error?: string;
}

/** Checking every node's `joined` flag after each run is too slow; reverts are rare, so check all only this often. */
const FULL_JOIN_SCAN_MS = 1000;
/**
 * Events run between two publications of the clock. Measured on a 2,000-node run: 58.9 s with 8,
 * 52.5 s with 2, 50 s with 1 (the same figures each time: the run does not depend on it).
 */
const PUBLISH_EVERY = 1;
/**
 * Events run only when they are this much (ms) earlier than the others' clocks plus the lookahead:
 * virtual times are around 1.8e12 ms, where doubles step by 0.00024 ms.
 */
const MARGIN_MS = 0.001;
/** A partition blocked for this long (wall ms) on another has lost it (it failed or ran out of memory). */
const STALL_MS = 300_000;

export class Partition {
  private readonly nodes = new Map<number, SimNode>();
  private readonly indexOf = new Map<SimNode, number>();
  private readonly remote = new Map<string, RemoteHost>();
  /** Packets sent to other partitions so far: their ranks (event-queue.ts) are `sent · count + index`. */
  private remoteSent = 0;
  private readonly injectFn: (from: Endpoint, to: Endpoint, bytes: Uint8Array, at: number, rank: number) => void;
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
    private readonly links: PartitionLinks,
  ) {
    const { count, index } = init;
    sim.network.setRemoteHosts({
      find: (ip) => this.remote.get(ip),
      send: (host, from, to, bytes, at) => links.outgoing[host.partition]!.write(from, to, bytes, at, this.remoteSent++ * count + index),
    });
    this.injectFn = (from, to, bytes, at, rank) => sim.network.injectRemote(from, to, bytes, at, rank);
  }

  static async create(init: PartitionInit, shared: SharedPartitionLinks): Promise<Partition> {
    const open = (b: SharedArrayBuffer | null): PacketStream | null => (b === null ? null : new PacketStream(b));
    const links: PartitionLinks = {
      clocks: new PartitionClocks(shared.clocks, init.count),
      outgoing: shared.outgoing.map(open),
      incoming: shared.incoming.map(open),
      spins: shared.streamSpins,
    };
    const sim = await SimOverlay.create({
      seed: init.seed,
      encrypt: init.encrypt,
      lossRate: init.lossRate,
      partition: { index: init.index, count: init.count },
    });
    return new Partition(sim, init, links);
  }

  handle(request: PartitionRequest): PartitionReply {
    for (const command of request.commands) this.apply(command);
    const action = request.action;
    let views: NodeView[] | undefined;
    let stats: PartitionStats | undefined;
    if (action.kind === 'run') {
      try {
        this.run(action.until);
      } catch (e) {
        // Let the other partitions finish the run (this one sends nothing more), so that the
        // coordinator gets every reply and reports this failure instead of waiting for this clock.
        this.links.clocks.publish(this.init.index, Infinity);
        throw e;
      }
    }
    else if (action.kind === 'views') views = this.views();
    else if (action.kind === 'stats') stats = this.stats();
    const reply: PartitionReply = {
      results: this.results,
      spawned: this.spawned,
      joined: this.joinedChanges(),
      processed: this.sim.queue.processed,
      sent: this.sim.network.sent,
    };
    if (views !== undefined) reply.views = views;
    if (stats !== undefined) reply.stats = stats;
    this.results = [];
    this.spawned = [];
    return reply;
  }

  /**
   * Runs every event up to `until` (inclusive), streaming with the other partitions. An event runs
   * once it is earlier than every other partition's clock plus the lookahead: read the clocks
   * first, then take the packets sent before them, and nothing earlier can still come.
   */
  private run(until: number): void {
    const { clocks, spins } = this.links;
    const { index, lookahead } = this.init;
    const queue = this.sim.queue;
    let idle = 0;
    let blockedSince = -1;
    for (;;) {
      const other = clocks.earliestOther(index);
      const bound = other.time + lookahead;
      this.drain();
      const limit = Math.min(until, bound - MARGIN_MS);
      const ran = limit >= queue.now && queue.nextTime() <= limit ? queue.runUntil(limit, { maxEvents: PUBLISH_EVERY }) : 0;
      const next = queue.nextTime();
      clocks.publish(index, Math.min(next, bound));
      if (next > until && bound > until) break;
      if (ran > 0) {
        idle = 0;
        blockedSince = -1;
        continue;
      }
      if (++idle < spins) continue;
      const now = performance.now();
      if (blockedSince < 0) blockedSince = now;
      else if (now - blockedSince > STALL_MS) {
        throw new Error(`simulation thread ${other.partition} made no progress for ${STALL_MS / 1000} s (it may have failed or run out of memory)`);
      }
      clocks.sleepOn(other.partition, other.time, 1);
    }
    if (until > queue.now) queue.runUntil(until);
  }

  /** Takes the packets the other partitions have streamed here so far. */
  private drain(): void {
    const { incoming } = this.links;
    for (let p = 0; p < incoming.length; p++) incoming[p]?.drain(this.injectFn);
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
