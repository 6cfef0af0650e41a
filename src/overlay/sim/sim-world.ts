/**
 * What an experiment (experiment.ts) drives: a simulated overlay it can grow, kill, query and
 * run. Two implementations: {@link InProcessWorld} (one thread, one event queue: sim-overlay.ts)
 * and ParallelWorld (partitions on several threads: parallel-world.ts). Each is deterministic for
 * a seed; the two give different runs for the same seed, since the parallel one draws network
 * randomness per partition.
 */
import { ringConsistency } from './ring-check.js';
import type { ProgressInfo } from './event-queue.js';
import type { SimNode, SimOverlay } from './sim-overlay.js';

export interface WorldNode {
  readonly alive: boolean;
}

export interface DhtGetOutcome {
  ok: boolean;
  /** `ok`, or why the get failed (`not-found`, `timeout`, …). */
  status: string;
  values: Uint8Array[];
}

export interface WorldRunOptions {
  onProgress?: (info: ProgressInfo) => void;
  /** Events between two `onProgress` calls (roughly, for a parallel world). */
  progressEvery?: number;
}

export interface SimWorld<N extends WorldNode = WorldNode> {
  /** Virtual time (ms). Inside a callback: the time the callback's event happened. */
  readonly now: number;
  /** Runs `fn` at virtual time `at` (the experiment's own events). */
  schedule(at: number, fn: () => void): void;
  randomFloat(): number;
  /** Adds a node that joins through up to two live, joined nodes. */
  spawn(): N;
  /** Crashes a node without warning. */
  kill(node: N): void;
  live(): N[];
  pickLive(): N | undefined;
  /** Forgets dead nodes. */
  compact(): void;
  /** ring-check.ts over the live nodes that have joined, now. */
  ringConsistency(): number;
  dhtPut(node: N, key: Uint8Array, value: Uint8Array, ttlSeconds: number, callback: (ok: boolean) => void): void;
  dhtGet(node: N, key: Uint8Array, callback: (outcome: DhtGetOutcome) => void): void;
  /** A routed ping from `from` to `to`'s address: its hop count, or null if unanswered. */
  ping(from: N, to: N, timeoutMs: number, callback: (hops: number | null) => void): void;
  /** Counts broadcasts on `channel` at every node live now. */
  listenBroadcasts(channel: number): void;
  broadcast(origin: N, channel: number, data: Uint8Array): void;
  broadcastsReceived(channel: number): number;
  runUntil(time: number, opts?: WorldRunOptions): void;
  eventsProcessed(): number;
  packetsSent(): number;
  /** Live nodes not (yet) joined. */
  joiningCount(): number;
  /** Connections summed over the live nodes. */
  connectionCount(): number;
  /** Releases threads; the world cannot run afterwards. */
  close(): Promise<void>;
}

/** A {@link SimWorld} on one thread, over one {@link SimOverlay}. */
export class InProcessWorld implements SimWorld<SimNode> {
  private readonly broadcasts = new Map<number, number>();

  constructor(readonly sim: SimOverlay) {}

  get now(): number {
    return this.sim.now;
  }

  schedule(at: number, fn: () => void): void {
    this.sim.queue.schedule(at, fn);
  }

  randomFloat(): number {
    return this.sim.randomFloat();
  }

  spawn(): SimNode {
    return this.sim.spawn();
  }

  kill(node: SimNode): void {
    this.sim.kill(node);
  }

  live(): SimNode[] {
    return this.sim.live();
  }

  pickLive(): SimNode | undefined {
    return this.sim.pickLive();
  }

  compact(): void {
    this.sim.compact();
  }

  ringConsistency(): number {
    return ringConsistency(
      this.sim
        .live()
        .filter((s) => s.node.joined)
        .map((s) => s.node),
    );
  }

  dhtPut(node: SimNode, key: Uint8Array, value: Uint8Array, ttlSeconds: number, callback: (ok: boolean) => void): void {
    node.node.dht.put(key, value, ttlSeconds, (r) => callback(r.ok));
  }

  dhtGet(node: SimNode, key: Uint8Array, callback: (outcome: DhtGetOutcome) => void): void {
    node.node.dht.get(key, (r) =>
      callback({ ok: r.ok, status: r.ok ? 'ok' : r.status, values: r.ok ? r.records.map((rec) => rec.value) : [] }),
    );
  }

  ping(from: SimNode, to: SimNode, timeoutMs: number, callback: (hops: number | null) => void): void {
    from.node.ping(to.node.address, timeoutMs, (r) => callback(r === null ? null : r.hops));
  }

  listenBroadcasts(channel: number): void {
    if (!this.broadcasts.has(channel)) this.broadcasts.set(channel, 0);
    for (const s of this.sim.live()) s.node.onBroadcast(channel, () => this.broadcasts.set(channel, this.broadcasts.get(channel)! + 1));
  }

  broadcast(origin: SimNode, channel: number, data: Uint8Array): void {
    origin.node.broadcast.send(channel, data);
  }

  broadcastsReceived(channel: number): number {
    return this.broadcasts.get(channel) ?? 0;
  }

  runUntil(time: number, opts?: WorldRunOptions): void {
    this.sim.queue.runUntil(time, opts);
  }

  eventsProcessed(): number {
    return this.sim.queue.processed;
  }

  packetsSent(): number {
    return this.sim.network.sent;
  }

  joiningCount(): number {
    return this.sim.live().filter((s) => !s.node.joined).length;
  }

  connectionCount(): number {
    return this.sim.live().reduce((n, s) => n + s.node.table.size, 0);
  }

  async close(): Promise<void> {
    for (const s of this.sim.live()) this.sim.kill(s);
  }
}
