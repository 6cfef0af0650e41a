import type { RelayStrategy } from '../node/relay-choice.js';
import type { NatPreset } from './sim-network.js';
import { SimOverlay, type SimNode } from './sim-overlay.js';

export interface RelayExperimentOptions {
  /** Public nodes (relays are drawn from them; they churn). */
  nodes: number;
  /** Pairs of nodes that cannot link directly (both behind symmetric NATs). */
  pairs: number;
  minutes: number;
  /** Median session of the public nodes; 0 = no churn. */
  churnMedianMinutes: number;
  seed: string;
  progress: (line: string) => void;
}

export type PathWay = 'overlay-routing' | 'random-relay' | 'lowest-latency-relay' | 'most-stable-relay';

export interface RelayRow {
  way: PathWay;
  samples: number;
  /** One-way path latency (half the measured round trip), over the samples that got through. */
  medianLatencyMs: number | null;
  p99LatencyMs: number | null;
  /** Fraction of samples with no answer within 2 s: the pair's path was broken then. */
  brokenFraction: number;
  /** Pairs whose session was relayed at the end (relay strategies). */
  relayedPairsAtEnd: number;
  failovers: number;
  wallSeconds: number;
}

export interface RelayExperimentResult {
  experiment: 'relays';
  nodes: number;
  pairs: number;
  minutes: number;
  churnMedianMinutes: number;
  seed: string;
  rows: RelayRow[];
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const SAMPLE_EVERY_MS = 2 * SECOND;
const SAMPLE_TIMEOUT_MS = 2 * SECOND;
const PAIR_NATS: [NatPreset, NatPreset][] = [
  ['symmetric', 'symmetric'],
  ['linux-symmetric', 'symmetric'],
  ['linux-symmetric', 'linux-symmetric'],
];

const WAYS: { way: PathWay; strategy: RelayStrategy | null }[] = [
  { way: 'overlay-routing', strategy: null },
  { way: 'random-relay', strategy: 'random' },
  { way: 'lowest-latency-relay', strategy: 'lowest-latency' },
  { way: 'most-stable-relay', strategy: 'most-stable' },
];

/**
 * For pairs that cannot link directly, compares four ways to carry their traffic: multi-hop
 * overlay routing (no relay), a random common neighbour, the lowest-latency common neighbour and
 * the most stable one. Every way runs the same seed: the same nodes, NATs, latencies and churn.
 * Each pair pings every 2 s from minute 5 on; a ping unanswered within 2 s is a broken sample.
 */
export async function runRelayExperiment(o: RelayExperimentOptions): Promise<RelayExperimentResult> {
  const rows: RelayRow[] = [];
  for (const { way, strategy } of WAYS) {
    o.progress(`${way}: ${o.nodes} public nodes, ${o.pairs} pairs behind symmetric NATs, ${o.minutes} min`);
    rows.push(await runOne(o, way, strategy));
  }
  return { experiment: 'relays', nodes: o.nodes, pairs: o.pairs, minutes: o.minutes, churnMedianMinutes: o.churnMedianMinutes, seed: o.seed, rows };
}

async function runOne(o: RelayExperimentOptions, way: PathWay, strategy: RelayStrategy | null): Promise<RelayRow> {
  const wallStart = performance.now();
  const sim = await SimOverlay.create({
    seed: `${o.seed}:relays`,
    nodeInit: strategy === null ? { useRelays: false } : { relayStrategy: strategy },
  });
  const start = sim.now;
  const end = start + o.minutes * MINUTE;
  const joinSpread = 2 * MINUTE;
  for (let i = 0; i < o.nodes; i++) {
    sim.queue.schedule(start + (joinSpread * i) / o.nodes, () => scheduleLife(sim, sim.spawn(), o, end));
  }
  const pairs: [SimNode, SimNode][] = [];
  sim.queue.schedule(start + joinSpread + 30 * SECOND, () => {
    for (let i = 0; i < o.pairs; i++) {
      const [ka, kb] = PAIR_NATS[i % PAIR_NATS.length] as [NatPreset, NatPreset];
      const a = sim.spawn({ behind: sim.network.createNat(ka) });
      const b = sim.spawn({ behind: sim.network.createNat(kb) });
      pairs.push([a, b]);
    }
  });
  sim.queue.schedule(start + 4 * MINUTE, () => {
    if (strategy === null) return;
    for (const [a, b] of pairs) a.node.openSession(b.node.address);
  });

  const latencies: number[] = [];
  let samples = 0;
  let broken = 0;
  const measureFrom = start + 5 * MINUTE;
  for (let t = measureFrom; t < end - SAMPLE_TIMEOUT_MS; t += SAMPLE_EVERY_MS) {
    sim.queue.schedule(t, () => {
      for (const [a, b] of pairs) {
        samples++;
        a.node.ping(b.node.address, SAMPLE_TIMEOUT_MS, (r) => {
          if (r === null) broken++;
          else latencies.push(r.rttMs / 2);
        });
      }
    });
  }
  let lastProgress = performance.now();
  while (sim.now < end) {
    sim.queue.runUntil(Math.min(end, sim.now + MINUTE));
    sim.compact();
    if (performance.now() - lastProgress > 5_000) {
      lastProgress = performance.now();
      o.progress(`${way}: t=${Math.round((sim.now - start) / 1000)}s live=${sim.live().length}`);
    }
  }
  latencies.sort((x, y) => x - y);
  let relayed = 0;
  let failovers = 0;
  for (const [a, b] of pairs) {
    if (a.node.pathOf(b.node.address)?.path === 'relayed') relayed++;
    failovers += a.node.relayPaths.stats.failovers;
  }
  for (const s of sim.live()) sim.kill(s);
  return {
    way,
    samples,
    medianLatencyMs: percentile(latencies, 50),
    p99LatencyMs: percentile(latencies, 99),
    brokenFraction: samples === 0 ? 0 : Math.round((broken / samples) * 10_000) / 10_000,
    relayedPairsAtEnd: relayed,
    failovers,
    wallSeconds: Math.round((performance.now() - wallStart) / 100) / 10,
  };
}

/** A public node lives for an exponential time with the given median, then crashes and is replaced. */
function scheduleLife(sim: SimOverlay, node: SimNode, o: RelayExperimentOptions, end: number): void {
  if (o.churnMedianMinutes <= 0) return;
  const mean = (o.churnMedianMinutes * MINUTE) / Math.LN2;
  const at = sim.now - Math.log(1 - sim.randomFloat()) * mean;
  if (at >= end) return;
  sim.queue.schedule(at, () => {
    sim.kill(node);
    scheduleLife(sim, sim.spawn(), o, end);
  });
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round((sorted[Math.max(0, i)] as number) * 10) / 10;
}
