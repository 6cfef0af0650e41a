/**
 * A simulation spread over threads: the nodes are split into partitions (node i goes to partition
 * i mod P), partition 0 runs on this thread beside the coordinator, the others in worker threads
 * (partition-worker.ts). The coordinator runs the experiment's own events and keeps the
 * partitions in step with conservative synchronisation:
 *
 * No packet arrives sooner than the latency model's floor L (5 ms) after it was sent. So if the
 * earliest pending event anywhere is at time t, every partition can run all its events up to
 * t + L without waiting for the others: nothing sent in that window can arrive inside it. After
 * each window the packets that crossed between partitions are handed to their destinations with
 * their delivery times, and the next window starts. A window also ends at the coordinator's next
 * event, so that event sees every partition at exactly its time and its commands (spawn, kill,
 * DHT operations) run there at that time.
 *
 * A run is deterministic for a seed and a partition count: partitions draw network loss and jitter
 * from streams of their own, packets between partitions are handed over in a fixed order, and
 * results are taken in (time, partition, order). Changing the partition count changes the run.
 */
import { availableParallelism } from 'node:os';
import { Worker, MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Address } from '../address.js';
import { createSeededRandom, type Random } from '../random.js';
import { EventQueue } from './event-queue.js';
import { createLatencyModel, type LatencyModel } from './latency-model.js';
import { PacketBatchBuilder, earliest, batchTransferables, type PacketBatch } from './packet-batch.js';
import { SharedPacketArea } from './shared-packets.js';
import type { PartitionWorkerData } from './partition-worker.js';
import { Partition, type PartitionCommand, type PartitionReply, type PartitionRequest, type PartitionResult } from './partition.js';
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

/** Shared memory per direction for one window's packets; a window that needs more sends them by postMessage. */
const PACKET_AREA_BYTES = 32 * 1024 * 1024;

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
    private readonly index: number,
    private readonly toWorker: SharedPacketArea,
    private readonly fromWorker: SharedPacketArea,
    private readonly partitions: number,
  ) {}
  start(request: PartitionRequest): void {
    if (request.inbound.length > 0 && this.toWorker.write(request.inbound.map((batch) => ({ dest: this.index, batch })))) {
      request = { ...request, inbound: [], sharedInbound: true };
    }
    this.channel.send(request, request.inbound.flatMap(batchTransferables));
  }
  finish(): PartitionReply {
    let reply: PartitionReply;
    try {
      reply = this.channel.receive(STALL_MS) as PartitionReply;
    } catch {
      throw new Error(`a simulation worker thread stopped answering for ${STALL_MS / 1000} s (it may have run out of memory)`);
    }
    if (reply.sharedOutbound === true) {
      const builders = Array.from({ length: this.partitions }, () => new PacketBatchBuilder());
      this.fromWorker.read((dest, from, to, bytes, at) => builders[dest]!.push(from, to, bytes, at));
      reply.outbound = builders.map((b) => b.take());
    }
    return reply;
  }
  async close(): Promise<void> {
    this.channel.send({ inbound: [], commands: [], action: { kind: 'stop' } } satisfies PartitionRequest);
    await this.worker.terminate();
  }
}

export class ParallelWorld implements SimWorld<ParallelNode> {
  private readonly orchestrator = new EventQueue({ startTime: SIM_EPOCH_MS });
  private readonly random: Random;
  private readonly placement: Required<LatencyModel>;
  private readonly lookahead: number;
  private readonly count: number;
  private time = SIM_EPOCH_MS;
  /** Set while results are handed to their callbacks: the time each happened. */
  private callbackTime: number | null = null;
  private nodes: ParallelNode[] = [];
  private readonly byIndex = new Map<number, ParallelNode>();
  private spawned = 0;
  private readonly commands: PartitionCommand[][];
  private readonly inbound: PacketBatch[][];
  private readonly inboundMin: number[];
  private readonly nextTimes: number[];
  private readonly processed: number[];
  private readonly sent: number[];
  private readonly callbacks = new Map<number, (r: PartitionResult) => void>();
  private nextId = 1;
  private closed = false;

  private constructor(
    private readonly links: PartitionLink[],
    options: ParallelWorldOptions,
  ) {
    this.count = links.length;
    this.random = createSeededRandom(`${options.seed}:overlay`);
    this.placement = createLatencyModel(createSeededRandom(`${options.seed}:latency`));
    this.lookahead = this.placement.minMs;
    if (!(this.lookahead > 0)) throw new RangeError('a parallel simulation needs a latency floor above 0 ms');
    this.commands = links.map(() => []);
    this.inbound = links.map(() => []);
    this.inboundMin = links.map(() => Infinity);
    this.nextTimes = links.map(() => Infinity);
    this.processed = links.map(() => 0);
    this.sent = links.map(() => 0);
  }

  static async create(options: ParallelWorldOptions): Promise<ParallelWorld> {
    const count = options.partitions;
    if (!Number.isInteger(count) || count < 2 || count > 64) throw new RangeError(`partitions must be a whole number from 2 to 64, got ${count}`);
    const flags = new Int32Array(new SharedArrayBuffer(4 * 2 * count));
    const links: PartitionLink[] = [];
    try {
      for (let index = 1; index < count; index++) links.push(await startWorker(options, index, count, flags));
      const local = await Partition.create({ seed: options.seed, encrypt: options.encrypt, lossRate: options.lossRate, index: 0, count });
      links.unshift(new LocalLink(local));
    } catch (e) {
      await Promise.all(links.map((l) => l.close().catch(() => {})));
      throw e;
    }
    return new ParallelWorld(links, options);
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
      const lb = this.lowerBound();
      if (lb > end && ot > end) break;
      let horizon = Math.min(end, lb + this.lookahead);
      if (ot <= horizon) horizon = Math.max(ot, this.time);
      this.exchange({ kind: 'run', until: horizon });
      this.time = horizon;
      if (ot <= horizon) this.orchestrator.runUntil(horizon);
      if (opts.onProgress !== undefined && this.eventsProcessed() >= nextReport) {
        nextReport = this.eventsProcessed() + every;
        opts.onProgress({ now: this.time, processed: this.eventsProcessed(), pending: 0 });
      }
    }
    if (this.time < end) {
      this.exchange({ kind: 'run', until: end });
      this.time = end;
    }
    this.orchestrator.runUntil(end);
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

  /** No partition has anything to do before this time. */
  private lowerBound(): number {
    let lb = Infinity;
    for (let p = 0; p < this.count; p++) {
      lb = Math.min(lb, this.nextTimes[p]!, this.inboundMin[p]!);
      if (this.commands[p]!.length > 0) lb = Math.min(lb, this.time);
    }
    return lb;
  }

  /** Queries every partition at the current time (their pending commands run first). */
  private query(action: { kind: 'views' } | { kind: 'stats' }): PartitionReply[] {
    if (this.closed) throw new Error('this simulation has been closed');
    return this.exchange(action);
  }

  /** One request to every partition (the workers' first, so they work while partition 0 does), then their replies. */
  private exchange(action: PartitionRequest['action']): PartitionReply[] {
    const requests = this.links.map((_, p) => ({ inbound: this.inbound[p]!.splice(0), commands: this.commands[p]!.splice(0), action }));
    this.inboundMin.fill(Infinity);
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
      this.nextTimes[p] = reply.nextTime;
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
      reply.outbound.forEach((batch, q) => {
        if (batch === null) return;
        this.inbound[q]!.push(batch);
        this.inboundMin[q] = Math.min(this.inboundMin[q]!, earliest(batch));
      });
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

async function startWorker(options: ParallelWorldOptions, index: number, count: number, flags: Int32Array): Promise<PartitionLink> {
  const { port1, port2 } = new MessageChannel();
  // Fewer cores than threads: waiting threads sleep at once rather than poll (the run is the same).
  const spins = availableParallelism() >= count ? DEFAULT_SPINS : 0;
  const workerData: PartitionWorkerData = {
    spins,
    init: { seed: options.seed, encrypt: options.encrypt, lossRate: options.lossRate, index, count },
    port: port2,
    flags,
    toWorker: 2 * index,
    toCoordinator: 2 * index + 1,
    inboundArea: new SharedArrayBuffer(PACKET_AREA_BYTES),
    outboundArea: new SharedArrayBuffer(PACKET_AREA_BYTES),
  };
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
  const channel = new SyncChannel(port1, flags, 2 * index + 1, 2 * index, spins);
  return new WorkerLink(worker, channel, index, new SharedPacketArea(workerData.inboundArea), new SharedPacketArea(workerData.outboundArea), count);
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
