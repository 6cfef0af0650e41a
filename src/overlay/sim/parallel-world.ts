/**
 * A simulation spread over threads: the nodes are split into partitions (node i goes to partition
 * i mod P), partition 0 runs on this thread beside the coordinator, the others in worker threads
 * (partition-worker.ts). The coordinator runs the experiment's own events; the partitions keep
 * in step with each other by conservative synchronisation, streamed:
 *
 * No packet arrives sooner than the latency model's floor L (5 ms) after it was sent. Each
 * partition publishes a clock, a time before which it will send nothing more (partition-clocks.ts),
 * and streams the packets it sends to the others as it sends them (packet-stream.ts). A partition
 * may run any event earlier than every other partition's clock plus L. So partitions move ahead
 * independently, each at most L of virtual time beyond the slowest, and a burst of work on one
 * thread only holds the others up once it is L behind them.
 *
 * The coordinator stops all partitions together at its own events (and at least every virtual
 * second, for progress): every partition runs up to exactly that time, the event runs, and its
 * commands (spawn, kill, DHT operations) run in their partitions at that time.
 *
 * A run is deterministic for a seed and a partition count, whatever the threads' pace: partitions
 * draw network loss and jitter from streams of their own, an event's place among events at the
 * same virtual time is fixed by its rank (its partition's own count; event-queue.ts) and not by
 * when it was handed over, and results are taken in (time, partition, order). Changing the
 * partition count changes the run.
 */
import { availableParallelism } from 'node:os';
import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Address } from '../address.js';
import { createSeededRandom, type Random } from '../random.js';
import { EventQueue } from './event-queue.js';
import { createLatencyModel, type LatencyModel } from './latency-model.js';
import { PacketStream } from './packet-stream.js';
import { PartitionClocks } from './partition-clocks.js';
import type { PartitionWorkerData } from './partition-worker.js';
import { Partition, type PartitionCommand, type PartitionInit, type PartitionReply, type PartitionRequest, type PartitionResult } from './partition.js';
import { ringConsistency } from './ring-check.js';
import { DEFAULT_PORT, hostIp } from './sim-network.js';
import { DEFAULT_SPINS, SyncChannel } from './sync-channel.js';
import type { DhtGetOutcome, SimWorld, WorldNode, WorldRunOptions } from './sim-world.js';
import { SIM_EPOCH_MS } from './virtual-clock.js';

export interface ParallelWorldOptions {
  seed: number | string;
  encrypt: boolean;
  lossRate: number;
  /** 2 or more (1 partition is {@link InProcessWorld}'s job). */
  partitions: number;
}

export interface ParallelNode extends WorldNode {
  readonly index: number;
  readonly partition: number;
  readonly endpoint: string;
  alive: boolean;
  /** As of the last window: whether the node has joined the ring. */
  joined: boolean;
  /** Its overlay address, known once its partition has created it. */
  address: Address | null;
}

/** Shared memory for the packets from one partition to another: 64 MiB over the other partitions, at least 4. */
function streamBytes(partitions: number): number {
  return Math.max(4 << 20, Math.floor((64 << 20) / (partitions - 1) / 8) * 8);
}

/**
 * Checks of the other partitions' clocks before a blocked partition sleeps (a few milliseconds):
 * waking from a sleep costs about 0.1 ms on a virtual machine, more than most waits. The price is
 * paid when the cores are shared: two 300-node runs side by side on two cores took 191 s each
 * with 20,000 checks and 85 s with 2,000, against 33 s alone; a 10,000-node run alone took 552 s
 * with 2,000 and 527.9 s with 20,000. Where the cores are shared, `--threads 1` is the faster
 * choice: the two 300-node runs side by side took 47 s each on one thread apiece.
 */
const STREAM_SPINS = 20_000;

/** The coordinator stops the partitions at least this often (virtual ms), for progress reports. */
const MAX_RUN_MS = 1000;

/** A worker that has not answered for this long has died (out of memory, say): give up. */
const STALL_MS = 300_000;

interface PartitionLink {
  /** Starts a request; `finish` returns its reply. */
  start(request: PartitionRequest): void;
  finish(): PartitionReply;
  close(): Promise<void>;
}

class LocalLink implements PartitionLink {
  private request: PartitionRequest | null = null;
  constructor(private readonly partition: Partition) {}
  start(request: PartitionRequest): void {
    this.request = request;
  }
  finish(): PartitionReply {
    const reply = this.partition.handle(this.request!);
    this.request = null;
    return reply;
  }
  async close(): Promise<void> {
    for (const s of this.partition.sim.live()) this.partition.sim.kill(s);
  }
}

class WorkerLink implements PartitionLink {
  constructor(
    private readonly worker: Worker,
    private readonly channel: SyncChannel,
  ) {}
  start(request: PartitionRequest): void {
    this.channel.send(request);
  }
  finish(): PartitionReply {
    try {
      return this.channel.receive(STALL_MS) as PartitionReply;
    } catch {
      throw new Error(`a simulation worker thread stopped answering for ${STALL_MS / 1000} s (it may have run out of memory)`);
    }
  }
  async close(): Promise<void> {
    this.channel.send({ commands: [], action: { kind: 'stop' } } satisfies PartitionRequest);
    await this.worker.terminate();
  }
}

export class ParallelWorld implements SimWorld<ParallelNode> {
  private readonly orchestrator = new EventQueue({ startTime: SIM_EPOCH_MS });
  private readonly random: Random;
  private readonly count: number;
  private time = SIM_EPOCH_MS;
  /** Set while results are handed to their callbacks: the time each happened. */
  private callbackTime: number | null = null;
  private nodes: ParallelNode[] = [];
  private readonly byIndex = new Map<number, ParallelNode>();
  private spawned = 0;
  private readonly commands: PartitionCommand[][];
  private readonly processed: number[];
  private readonly sent: number[];
  private readonly callbacks = new Map<number, (r: PartitionResult) => void>();
  private nextId = 1;
  private closed = false;

  private constructor(
    private readonly links: PartitionLink[],
    private readonly clocks: PartitionClocks,
    /** Draws the coordinates of each new node's host. */
    private readonly placement: Required<LatencyModel>,
    options: ParallelWorldOptions,
  ) {
    this.count = links.length;
    this.random = createSeededRandom(`${options.seed}:overlay`);
    this.commands = links.map(() => []);
    this.processed = links.map(() => 0);
    this.sent = links.map(() => 0);
  }

  static async create(options: ParallelWorldOptions): Promise<ParallelWorld> {
    const count = options.partitions;
    if (!Number.isInteger(count) || count < 2 || count > 64) throw new RangeError(`partitions must be a whole number from 2 to 64, got ${count}`);
    const placement = createLatencyModel(createSeededRandom(`${options.seed}:latency`));
    const lookahead = placement.minMs;
    if (!(lookahead > 0)) throw new RangeError('a parallel simulation needs a latency floor above 0 ms');
    const flags = new Int32Array(new SharedArrayBuffer(4 * 2 * count));
    const clockBuffer = PartitionClocks.create(count);
    // streams[p][q]: packets from partition p to partition q.
    const streams = Array.from({ length: count }, (_, p) =>
      Array.from({ length: count }, (_, q) => (p === q ? null : PacketStream.create(streamBytes(count)))),
    );
    // Fewer cores than threads: waiting threads sleep at once rather than poll (the run is the same).
    const enoughCores = availableParallelism() >= count;
    const init = (index: number): PartitionInit => ({ seed: options.seed, encrypt: options.encrypt, lossRate: options.lossRate, index, count, lookahead });
    const setup = (index: number): PartitionSetup => ({
      init: init(index),
      clocks: clockBuffer,
      outgoing: streams[index]!,
      incoming: streams.map((row) => row[index]!),
      spins: enoughCores ? DEFAULT_SPINS : 0,
      streamSpins: enoughCores ? STREAM_SPINS : 0,
    });
    const links: PartitionLink[] = [];
    try {
      for (let index = 1; index < count; index++) links.push(await startWorker(setup(index), flags));
      const local = setup(0);
      links.unshift(new LocalLink(await Partition.create(local.init, local)));
    } catch (e) {
      await Promise.all(links.map((l) => l.close().catch(() => {})));
      throw e;
    }
    return new ParallelWorld(links, new PartitionClocks(clockBuffer, count), placement, options);
  }

  get now(): number {
    return this.callbackTime ?? this.time;
  }

  schedule(at: number, fn: () => void): void {
    this.orchestrator.schedule(at, fn);
  }

  randomFloat(): number {
    return this.random.float();
  }

  spawn(): ParallelNode {
    const index = this.spawned++;
    const partition = index % this.count;
    const ip = hostIp(index);
    const coordinates = this.placement.place();
    const candidates = this.live().filter((n) => n.joined);
    const bootstraps: string[] = [];
    for (let i = 0; i < 2 && candidates.length > 0; i++) {
      const b = candidates[this.random.int(candidates.length)]!;
      if (!bootstraps.includes(b.endpoint)) bootstraps.push(b.endpoint);
    }
    for (let p = 0; p < this.count; p++) {
      if (p !== partition) this.commands[p]!.push({ kind: 'host', ip, partition, coordinates });
    }
    this.commands[partition]!.push({ kind: 'spawn', index, coordinates, bootstraps });
    const node: ParallelNode = { index, partition, endpoint: `${ip}:${DEFAULT_PORT}`, alive: true, joined: false, address: null };
    this.nodes.push(node);
    this.byIndex.set(index, node);
    return node;
  }

  kill(node: ParallelNode): void {
    if (!node.alive) return;
    node.alive = false;
    node.joined = false;
    this.commands[node.partition]!.push({ kind: 'kill', index: node.index });
  }

  live(): ParallelNode[] {
    return this.nodes.filter((n) => n.alive);
  }

  pickLive(): ParallelNode | undefined {
    const live = this.live();
    return live.length === 0 ? undefined : live[this.random.int(live.length)];
  }

  compact(): void {
    for (const n of this.nodes) if (!n.alive) this.byIndex.delete(n.index);
    this.nodes = this.nodes.filter((n) => n.alive);
    for (const c of this.commands) c.push({ kind: 'compact' });
  }

  ringConsistency(): number {
    const views = this.query({ kind: 'views' }).flatMap((r) => r.views ?? []);
    return ringConsistency(
      views.map((v) => ({ address: v.address, leftNeighbours: (n: number) => v.left.slice(0, n), rightNeighbours: (n: number) => v.right.slice(0, n) })),
    );
  }

  dhtPut(node: ParallelNode, key: Uint8Array, value: Uint8Array, ttlSeconds: number, callback: (ok: boolean) => void): void {
    const id = this.expect((r) => callback(r.kind === 'put' && r.ok));
    this.commands[node.partition]!.push({ kind: 'put', index: node.index, id, key, value, ttlSeconds });
  }

  dhtGet(node: ParallelNode, key: Uint8Array, callback: (outcome: DhtGetOutcome) => void): void {
    const id = this.expect((r) => {
      if (r.kind === 'get') callback({ ok: r.ok, status: r.status, values: r.values });
    });
    this.commands[node.partition]!.push({ kind: 'get', index: node.index, id, key });
  }

  ping(from: ParallelNode, to: ParallelNode, timeoutMs: number, callback: (hops: number | null) => void): void {
    if (to.address === null) {
      callback(null);
      return;
    }
    const id = this.expect((r) => callback(r.kind === 'ping' ? r.hops : null));
    this.commands[from.partition]!.push({ kind: 'ping', index: from.index, id, target: to.address, timeoutMs });
  }

  listenBroadcasts(channel: number): void {
    for (const c of this.commands) c.push({ kind: 'listen', channel });
  }

  broadcast(origin: ParallelNode, channel: number, data: Uint8Array): void {
    this.commands[origin.partition]!.push({ kind: 'broadcast', index: origin.index, channel, data });
  }

  broadcastsReceived(channel: number): number {
    return this.query({ kind: 'stats' }).reduce((n, r) => n + (r.stats?.broadcastsReceived[channel] ?? 0), 0);
  }

  runUntil(end: number, opts: WorldRunOptions = {}): void {
    if (this.closed) throw new Error('this simulation has been closed');
    if (!(end >= this.time)) throw new RangeError(`cannot run back in time: ${end} < now ${this.time}`);
    const every = Math.max(1, Math.floor(opts.progressEvery ?? 1_000_000));
    let nextReport = this.eventsProcessed() + every;
    for (;;) {
      const ot = this.orchestrator.nextTime();
      const until = Math.min(end, ot, this.time + MAX_RUN_MS);
      this.exchange({ kind: 'run', until });
      this.time = until;
      if (ot <= until) this.orchestrator.runUntil(until);
      if (opts.onProgress !== undefined && this.eventsProcessed() >= nextReport) {
        nextReport = this.eventsProcessed() + every;
        opts.onProgress({ now: this.time, processed: this.eventsProcessed(), pending: 0 });
      }
      if (until >= end && this.orchestrator.nextTime() > end) break;
    }
  }

  eventsProcessed(): number {
    return this.processed.reduce((a, b) => a + b, 0);
  }

  packetsSent(): number {
    return this.sent.reduce((a, b) => a + b, 0);
  }

  joiningCount(): number {
    return this.query({ kind: 'stats' }).reduce((n, r) => n + (r.stats?.joining ?? 0), 0);
  }

  connectionCount(): number {
    return this.query({ kind: 'stats' }).reduce((n, r) => n + (r.stats?.connections ?? 0), 0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.links.map((l) => l.close()));
  }

  // ---- internals ------------------------------------------------------------------------------

  private expect(callback: (r: PartitionResult) => void): number {
    const id = this.nextId++;
    this.callbacks.set(id, callback);
    return id;
  }

  /** Queries every partition at the current time (their pending commands run first). */
  private query(action: { kind: 'views' } | { kind: 'stats' }): PartitionReply[] {
    if (this.closed) throw new Error('this simulation has been closed');
    return this.exchange(action);
  }

  /**
   * One request to every partition (the workers' first, so they work while partition 0 does), then
   * their replies. Every partition has run everything up to now, and its commands run now: so now
   * is every partition's clock until it publishes its own.
   */
  private exchange(action: PartitionRequest['action']): PartitionReply[] {
    const requests = this.links.map((_, p) => ({ commands: this.commands[p]!.splice(0), action }));
    for (let p = 0; p < this.count; p++) this.clocks.publish(p, this.time);
    for (let p = 1; p < this.count; p++) this.links[p]!.start(requests[p]!);
    this.links[0]!.start(requests[0]!);
    const replies = this.links.map((l) => l.finish());
    this.absorb(replies);
    return replies;
  }

  private absorb(replies: PartitionReply[]): void {
    const failed = replies.find((r) => r.error !== undefined);
    if (failed !== undefined) throw new Error(`a simulation partition failed: ${failed.error}`);
    const results: { r: PartitionResult; p: number; i: number }[] = [];
    replies.forEach((reply, p) => {
      this.processed[p] = reply.processed;
      this.sent[p] = reply.sent;
      for (const s of reply.spawned) {
        const node = this.byIndex.get(s.index);
        if (node !== undefined) node.address = s.address;
      }
      for (const j of reply.joined) {
        const node = this.byIndex.get(j.index);
        if (node !== undefined) node.joined = node.alive && j.joined;
      }
      reply.results.forEach((r, i) => results.push({ r, p, i }));
    });
    if (results.length === 0) return;
    results.sort((a, b) => a.r.time - b.r.time || a.p - b.p || a.i - b.i);
    try {
      for (const { r } of results) {
        const callback = this.callbacks.get(r.id);
        if (callback === undefined) continue;
        this.callbacks.delete(r.id);
        this.callbackTime = r.time;
        callback(r);
      }
    } finally {
      this.callbackTime = null;
    }
  }
}

/** What a partition needs to start: its settings, its streams and clocks, and how long to poll. */
type PartitionSetup = Omit<PartitionWorkerData, 'port' | 'flags' | 'toWorker' | 'toCoordinator'>;

async function startWorker(setup: PartitionSetup, flags: Int32Array): Promise<PartitionLink> {
  const { port1, port2 } = new MessageChannel();
  const index = setup.init.index;
  const workerData: PartitionWorkerData = { ...setup, port: port2, flags, toWorker: 2 * index, toCoordinator: 2 * index + 1 };
  const worker = workerFor(workerData, [port2]);
  try {
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`a simulation worker thread exited with code ${code} while starting`)));
    });
  } catch (e) {
    await worker.terminate();
    throw e;
  }
  worker.removeAllListeners();
  return new WorkerLink(worker, new SyncChannel(port1, flags, 2 * index + 1, 2 * index, setup.spins));
}

/**
 * The worker runs partition-worker.js beside this file; when this file is TypeScript loaded
 * through tsx (npm run sim, the tests), the worker registers tsx first, since a worker does not
 * inherit the loader hooks of its parent on Node 20.
 */
function workerFor(workerData: PartitionWorkerData, transferList: MessagePort[]): Worker {
  const typescript = import.meta.url.endsWith('.ts');
  const entry = new URL(typescript ? './partition-worker.ts' : './partition-worker.js', import.meta.url);
  if (!typescript) return new Worker(entry, { workerData, transferList });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData, transferList });
}
