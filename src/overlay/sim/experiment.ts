import { ParallelWorld } from './parallel-world.js';
import { percentile } from './ring-check.js';
import { SimOverlay } from './sim-overlay.js';
import { InProcessWorld, type SimWorld, type WorldNode } from './sim-world.js';

export interface ExperimentOptions {
  nodes: number;
  minutes: number;
  /** Median session time under churn, virtual minutes; 0 = no churn. */
  churnMedianMinutes: number;
  /** DHT put/get pairs spread over the run. */
  dhtOps: number;
  seed: number | string;
  encrypt: boolean;
  lossRate: number;
  /** Fraction of live nodes killed at once at `killAtMinute` (0 = none). */
  killFraction: number;
  killAtMinute: number;
  /** Routed pings between random pairs at the end, for the hop counts. */
  hopSamples: number;
  /** Progress lines on stderr. */
  progress: (line: string) => void;
  /**
   * Threads the nodes are spread over (1: one event queue, sim-overlay.ts; more: parallel-world.ts).
   * The run depends on it: the same seed gives another (equally valid) run with another count.
   * Default: {@link defaultPartitions}.
   */
  partitions?: number;
}

export interface ExperimentResult {
  nodes: number;
  liveNodes: number;
  virtualSeconds: number;
  wallSeconds: number;
  consistency: number;
  meanHops: number;
  p99Hops: number;
  pingSuccess: number;
  dhtPuts: number;
  dhtPutSuccess: number;
  dhtGets: number;
  dhtGetSuccess: number;
  dhtGetFailures: Record<string, number>;
  broadcastCoverage: number;
  messagesPerNodePerSecond: number;
  peakRssMB: number;
  encrypted: boolean;
  /** Threads the simulation ran on (see ExperimentOptions.partitions). */
  partitions: number;
  joins: number;
  departures: number;
  meanConnections: number;
  /** Live nodes still joining at the end (not yet ring members, so not in `consistency`). */
  joiningAtEnd: number;
  killed?: number;
  recoverySeconds?: number | null;
  dhtValuesLost?: number;
  dhtValuesCheckedAfterKill?: number;
}

const MINUTE = 60_000;
/** Value lifetime in DHT runs: longer than any run, so every value put is expected to be found. */
const DHT_TTL_SECONDS = 6 * 3600;

/**
 * From this many nodes on, a run uses two threads by default. Below it one thread is faster: the
 * threads have too little work per millisecond of virtual time to pay for keeping in step. Fixed rather than taken
 * from the machine's core count, so that a command line names one run on every machine.
 */
export const PARALLEL_FROM_NODES = 2000;

export function defaultPartitions(nodes: number): number {
  return nodes >= PARALLEL_FROM_NODES ? 2 : 1;
}

export async function runExperiment(o: ExperimentOptions): Promise<ExperimentResult> {
  const wallStart = performance.now();
  const partitions = o.partitions ?? defaultPartitions(o.nodes);
  if (partitions <= 1) {
    const world = new InProcessWorld(await SimOverlay.create({ seed: o.seed, encrypt: o.encrypt, lossRate: o.lossRate }));
    return withWorld(world, () => experimentOn(world, o, 1, wallStart));
  }
  const world = await ParallelWorld.create({ seed: o.seed, encrypt: o.encrypt, lossRate: o.lossRate, partitions });
  return withWorld(world, () => experimentOn(world, o, partitions, wallStart));
}

async function withWorld<T>(world: { close(): Promise<void> }, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } finally {
    await world.close();
  }
}

async function experimentOn<N extends WorldNode>(sim: SimWorld<N>, o: ExperimentOptions, partitions: number, wallStart: number): Promise<ExperimentResult> {
  const start = sim.now;
  const end = start + o.minutes * MINUTE;
  // Initial joins spread over a warm-up: 60 ms per node, between 1 and 10 minutes, at most a third of the run.
  const joinSpread = Math.min(o.minutes * MINUTE * 0.33, Math.max(MINUTE, Math.min(10 * MINUTE, o.nodes * 60)));
  const meanSessionMs = o.churnMedianMinutes > 0 ? (o.churnMedianMinutes * MINUTE) / Math.LN2 : 0;
  let joins = 0;
  let departures = 0;
  let liveIntegral = 0;
  let lastSample = start;
  const sampleLive = (): void => {
    const now = sim.now;
    liveIntegral += sim.live().length * (now - lastSample);
    lastSample = now;
  };

  const scheduleDeparture = (s: N): void => {
    if (meanSessionMs <= 0) return;
    const session = -Math.log(1 - sim.randomFloat()) * meanSessionMs;
    if (sim.now + session >= end) return;
    sim.schedule(sim.now + session, () => {
      if (!s.alive) return;
      sampleLive();
      sim.kill(s);
      departures++;
    });
  };
  const join = (): void => {
    sampleLive();
    scheduleDeparture(sim.spawn());
    joins++;
  };

  for (let i = 0; i < o.nodes; i++) sim.schedule(start + (i * joinSpread) / o.nodes, join);
  if (meanSessionMs > 0) {
    // Poisson arrivals at the rate that keeps the population steady: N / mean session.
    const rate = o.nodes / meanSessionMs;
    const arrive = (): void => {
      join();
      sim.schedule(sim.now - Math.log(1 - sim.randomFloat()) / rate, arrive);
    };
    sim.schedule(start + joinSpread - Math.log(1 - sim.randomFloat()) / rate, arrive);
  }

  // DHT put/get pairs, spread from the end of the warm-up to two minutes before the end.
  const dht = { puts: 0, putOk: 0, gets: 0, getOk: 0 };
  /** Why gets failed: the status they ended with, `wrong-value`, or `reader-left` / `unanswered` at the end. */
  const getFailures: Record<string, number> = {};
  const openGets = new Set<{ reader: N }>();
  const stored: { key: Uint8Array; value: Uint8Array; putAt: number }[] = [];
  const opsStart = start + joinSpread + MINUTE;
  const opsEnd = Math.max(opsStart + 1, end - 2 * MINUTE);
  for (let i = 0; i < o.dhtOps; i++) {
    const at = opsStart + ((opsEnd - opsStart) * (i + 0.5)) / o.dhtOps;
    sim.schedule(at, () => {
      const writer = sim.pickLive();
      if (writer === undefined) return;
      const key = new TextEncoder().encode(`sim-key-${i}`);
      const value = new TextEncoder().encode(`value-${i}-${Math.floor(sim.randomFloat() * 1e9)}`);
      dht.puts++;
      sim.dhtPut(writer, key, value, DHT_TTL_SECONDS, (ok) => {
        if (!ok) return;
        dht.putOk++;
        stored.push({ key, value, putAt: at });
        const delay = 10_000 + sim.randomFloat() * 50_000;
        sim.schedule(sim.now + delay, () => {
          const reader = sim.pickLive();
          if (reader === undefined) return;
          dht.gets++;
          const open = { reader };
          openGets.add(open);
          sim.dhtGet(reader, key, (g) => {
            openGets.delete(open);
            if (g.ok && g.values.some((v) => sameBytes(v, value))) dht.getOk++;
            else {
              const why = g.ok ? 'wrong-value' : g.status;
              getFailures[why] = (getFailures[why] ?? 0) + 1;
            }
          });
        });
      });
    });
  }

  // Mass failure.
  let killed: number | undefined;
  let recoverySeconds: number | null | undefined;
  const killAt = start + o.killAtMinute * MINUTE;
  if (o.killFraction > 0) {
    sim.schedule(killAt, () => {
      sampleLive();
      const live = sim.live();
      const count = Math.floor(live.length * o.killFraction);
      for (let i = live.length - 1; i > 0; i--) {
        const j = Math.floor(sim.randomFloat() * (i + 1));
        [live[i], live[j]] = [live[j] as N, live[i] as N];
      }
      for (const s of live.slice(0, count)) sim.kill(s);
      killed = count;
      recoverySeconds = null;
      const check = (): void => {
        if (sim.ringConsistency() === 1) {
          recoverySeconds = (sim.now - killAt) / 1000;
          return;
        }
        if (sim.now + 1000 <= end) sim.schedule(sim.now + 1000, check);
      };
      sim.schedule(killAt + 1000, check);
    });
  }

  let peakRss = 0;
  let lastPrint = performance.now();
  const report = (): void => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const wall = (performance.now() - wallStart) / 1000;
    const live = sim.live();
    o.progress(
      `t=${((sim.now - start) / 1000).toFixed(0)}s live=${live.length} consistency=${sim.ringConsistency().toFixed(4)} ` +
        `events=${sim.eventsProcessed()} wall=${wall.toFixed(1)}s rate=${((sim.now - start) / 1000 / Math.max(wall, 1e-3)).toFixed(1)}x`,
    );
  };
  sim.runUntil(end, {
    progressEvery: 200_000,
    onProgress: () => {
      if (performance.now() - lastPrint >= 5000) {
        lastPrint = performance.now();
        report();
        if (meanSessionMs > 0) sim.compact();
      }
    },
  });
  sampleLive();
  const sentDuringRun = sim.packetsSent();
  const virtualSeconds = (end - start) / 1000;
  const consistency = sim.ringConsistency();
  const joiningAtEnd = sim.joiningCount();

  // Measurements after the run, in extra virtual time that the figures above do not include.
  const live = sim.live();
  const hops: number[] = [];
  let pingsOk = 0;
  const samples = Math.min(o.hopSamples, live.length > 1 ? o.hopSamples : 0);
  for (let i = 0; i < samples; i++) {
    const a = live[Math.floor(sim.randomFloat() * live.length)] as N;
    let b = live[Math.floor(sim.randomFloat() * live.length)] as N;
    if (b === a) b = live[(live.indexOf(a) + 1) % live.length] as N;
    sim.schedule(sim.now + i * 5, () =>
      sim.ping(a, b, 20_000, (h) => {
        if (h === null) return;
        pingsOk++;
        hops.push(h);
      }),
    );
  }
  const channel = 7;
  sim.listenBroadcasts(channel);
  const origin = live[Math.floor(sim.randomFloat() * live.length)];
  if (origin !== undefined) sim.broadcast(origin, channel, new Uint8Array([1, 2, 3]));

  let lost: number | undefined;
  let checked: number | undefined;
  if (o.killFraction > 0) {
    const before = stored.filter((s) => s.putAt < killAt);
    checked = before.length;
    lost = 0;
    before.forEach((s, i) => {
      sim.schedule(sim.now + i * 2, () => {
        const reader = sim.pickLive();
        if (reader === undefined) return;
        sim.dhtGet(reader, s.key, (g) => {
          if (!(g.ok && g.values.some((v) => sameBytes(v, s.value)))) lost = (lost ?? 0) + 1;
        });
      });
    });
  }
  // Long enough for the last ping (20 s timeout), the broadcast and the DHT checks (3 tries of 5 s).
  sim.runUntil(sim.now + samples * 5 + (checked ?? 0) * 2 + (checked === undefined ? 30_000 : 60_000));
  peakRss = Math.max(peakRss, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);

  for (const open of openGets) {
    const why = open.reader.alive ? 'unanswered' : 'reader-left';
    getFailures[why] = (getFailures[why] ?? 0) + 1;
  }
  const totalConnections = sim.connectionCount();
  const reached = sim.broadcastsReceived(channel);
  const result: ExperimentResult = {
    nodes: o.nodes,
    liveNodes: live.length,
    virtualSeconds,
    wallSeconds: round((performance.now() - wallStart) / 1000, 1),
    consistency,
    meanHops: round(hops.reduce((a, b) => a + b, 0) / Math.max(1, hops.length), 3),
    p99Hops: hops.length > 0 ? percentile(hops, 99) : 0,
    pingSuccess: round(samples > 0 ? pingsOk / samples : 1, 4),
    dhtPuts: dht.puts,
    dhtPutSuccess: round(dht.puts > 0 ? dht.putOk / dht.puts : 1, 5),
    dhtGets: dht.gets,
    dhtGetSuccess: round(dht.gets > 0 ? dht.getOk / dht.gets : 1, 5),
    dhtGetFailures: getFailures,
    broadcastCoverage: round(live.length > 0 ? reached / live.length : 1, 5),
    messagesPerNodePerSecond: round(sentDuringRun / Math.max(1, liveIntegral / 1000), 3),
    peakRssMB: Math.round(peakRss / (1024 * 1024)),
    encrypted: o.encrypt,
    partitions,
    joins,
    departures,
    meanConnections: round(totalConnections / Math.max(1, live.length), 2),
    joiningAtEnd,
  };
  if (killed !== undefined) {
    result.killed = killed;
    result.recoverySeconds = recoverySeconds ?? null;
    result.dhtValuesLost = lost ?? 0;
    result.dhtValuesCheckedAfterKill = checked ?? 0;
  }
  return result;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
