/**
 * Synthetic Internet latencies for the simulator, deterministic from an injected {@link Random}.
 *
 * Hosts are placed in a 2-D plane whose unit is one millisecond of one-way propagation. The plane
 * holds a few clusters ("continents") of different sizes; a host lands at its continent's centre
 * plus a Gaussian offset, and gets a per-host access delay (its last mile). One-way latency
 * between two hosts is
 *
 *     clamp(euclidean distance + accessMs(a) + accessMs(b), 5, 300)
 *
 * which is symmetric and a pure function of the two coordinates, so a pair always sees the same
 * base latency. With the default continents, pairs on one continent are mostly 5–60 ms one way
 * and pairs on different continents 60–300 ms (test/sim/sim-network.test.ts checks both).
 *
 * A plane cannot embed every real distance at once (the Earth is not flat and routes are not
 * great circles), so the centres below are a compromise: the ordering of continent pairs matches
 * typical measured round trips halved, stretched where needed so that every inter-continent pair
 * stays above the intra-continent range. Measured with the defaults (seed 1, 3,000 hosts,
 * 200k pairs): intra-continent median 28 ms, 98 % ≤ 60 ms; inter-continent median 126 ms,
 * 99 % ≥ 58 ms, none at the 300 ms ceiling.
 */
import type { Random } from '../random.js';

/** A host's place in the latency plane. Opaque to the overlay: only the latency model reads it. */
export interface Coordinates {
  /** Position in ms of one-way propagation. */
  readonly x: number;
  readonly y: number;
  /** One-way delay of this host's own link (access network), added to every path through it. */
  readonly accessMs: number;
  /** Index of the cluster (continent) the host was placed in. */
  readonly cluster: number;
}

export interface ClusterSpec {
  readonly name: string;
  /** Relative share of hosts placed there (normalised over all clusters). */
  readonly weight: number;
  /** Centre in ms of one-way propagation. */
  readonly x: number;
  readonly y: number;
  /** Standard deviation of a host's offset from the centre on each axis (ms). */
  readonly spreadMs: number;
}

export interface LatencyModel {
  /** Draws coordinates for a new host; `cluster` forces the cluster (index into `clusters`). */
  place(cluster?: number): Coordinates;
  /** Base one-way latency in ms: symmetric, deterministic, within [minMs, maxMs]. */
  oneWayMs(a: Coordinates, b: Coordinates): number;
  /** One packet's delay: the base latency plus jitter drawn from the model's Random. */
  packetDelayMs?(a: Coordinates, b: Coordinates): number;
  readonly clusters?: readonly ClusterSpec[];
  /** No packet is faster than this (ms): the parallel simulator's lookahead. */
  readonly minMs?: number;
}

/**
 * Default continents. Centres are placed so that the distances between them (ms, one way) are:
 *
 *                 EU    SA   Asia   Oce
 *     N. America  85    76   112   170
 *     Europe            106  152   223
 *     S. America              187   242
 *     Asia                           72
 *
 * Measured round trips halved are roughly NA–EU 40–50, NA–SA 60–80, NA–Asia 75–90, EU–Asia
 * 100–130, Asia–Oceania 60–70, EU–Oceania 140–150, SA–Asia/Oceania 150+; NA–EU and NA–Asia are
 * stretched here so that no inter-continent pair falls into the intra-continent range.
 * Weights roughly follow where Internet users are, with the smaller continents kept
 * large enough to matter in a 1,000-node run. Spreads (σ per axis, ms): a host pair on one
 * continent is then on average ~1.8 σ apart, e.g. ~25 ms across North America and ~18 ms across
 * Europe, before access delays.
 */
export const DEFAULT_CLUSTERS: readonly ClusterSpec[] = [
  { name: 'north-america', weight: 0.28, x: 0, y: 0, spreadMs: 13 },
  { name: 'europe', weight: 0.3, x: 85, y: 0, spreadMs: 10 },
  { name: 'south-america', weight: 0.09, x: 10, y: -75, spreadMs: 10 },
  { name: 'asia', weight: 0.26, x: -20, y: 110, spreadMs: 14 },
  { name: 'oceania', weight: 0.07, x: -80, y: 150, spreadMs: 8 },
];

export interface LatencyModelOptions {
  clusters?: readonly ClusterSpec[];
  /**
   * Range of the per-host access delay (one way, ms). Default [1, 10]: fibre and good cable are
   * 1–3 ms, DSL and busy cable 5–10 ms. Drawn as min + (max − min)·u², so most hosts are on good
   * links and a few are slow.
   */
  accessMs?: readonly [number, number];
  /** Floor of any one-way latency (ms). Default 5: nearby hosts still cross an ISP's routers. */
  minMs?: number;
  /** Ceiling of any one-way latency (ms). Default 300: the worst paths across the planet. */
  maxMs?: number;
  /**
   * Per-packet jitter as a fraction of the base latency, in [0, 1]. Default 0.02 (a 100 ms path
   * varies by up to 2 ms, typical of wired paths). Jitter only adds delay, and the result is
   * clamped to maxMs, so a packet is never faster than the base latency, never below the floor.
   * Packets sent back to back on one path may be reordered, as real UDP may be. 0 disables it
   * (and then no random number is drawn per packet).
   */
  jitter?: number;
}

/** Gaussian offsets are cut at this many σ so that no host lands absurdly far from its continent. */
const MAX_SIGMAS = 3;

export function createLatencyModel(random: Random, opts: LatencyModelOptions = {}): Required<LatencyModel> {
  const clusters = opts.clusters ?? DEFAULT_CLUSTERS;
  const [accessMin, accessMax] = opts.accessMs ?? [1, 10];
  const minMs = opts.minMs ?? 5;
  const maxMs = opts.maxMs ?? 300;
  const jitter = opts.jitter ?? 0.02;
  if (clusters.length === 0) throw new RangeError('at least one cluster is needed');
  if (!(accessMin >= 0 && accessMax >= accessMin)) throw new RangeError('accessMs must be [min, max] with 0 ≤ min ≤ max');
  if (!(minMs >= 0 && maxMs >= minMs)) throw new RangeError('need 0 ≤ minMs ≤ maxMs');
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError('jitter must be in [0, 1]');

  const cumulative: number[] = [];
  let total = 0;
  for (const c of clusters) {
    if (!(c.weight >= 0) || !(c.spreadMs >= 0)) throw new RangeError(`bad cluster ${c.name}`);
    total += c.weight;
    cumulative.push(total);
  }
  if (!(total > 0)) throw new RangeError('cluster weights must not all be 0');

  const pickCluster = (): number => {
    const u = random.float() * total;
    for (let i = 0; i < cumulative.length; i++) if (u < cumulative[i]!) return i;
    return cumulative.length - 1;
  };

  /** Standard normal by Box–Muller, cut at ±MAX_SIGMAS. */
  const gaussian = (): number => {
    const u = 1 - random.float(); // (0, 1]: log(0) avoided
    const v = random.float();
    const g = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return g > MAX_SIGMAS ? MAX_SIGMAS : g < -MAX_SIGMAS ? -MAX_SIGMAS : g;
  };

  const oneWayMs = (a: Coordinates, b: Coordinates): number => {
    const dx = a.x - b.x;
    const dy = a.y - b.y;
    // Parenthesised so that oneWayMs(a, b) === oneWayMs(b, a) exactly (float addition is not associative).
    const ms = Math.sqrt(dx * dx + dy * dy) + (a.accessMs + b.accessMs);
    return ms < minMs ? minMs : ms > maxMs ? maxMs : ms;
  };

  return {
    clusters,
    minMs,
    place(cluster?: number): Coordinates {
      const index = cluster ?? pickCluster();
      const spec = clusters[index];
      if (spec === undefined || !Number.isInteger(index)) throw new RangeError(`no cluster ${index}`);
      const u = random.float();
      return {
        x: spec.x + spec.spreadMs * gaussian(),
        y: spec.y + spec.spreadMs * gaussian(),
        accessMs: accessMin + (accessMax - accessMin) * u * u,
        cluster: index,
      };
    },
    oneWayMs,
    packetDelayMs:
      jitter === 0
        ? oneWayMs
        : (a, b) => {
            const ms = oneWayMs(a, b) * (1 + jitter * random.float());
            return ms > maxMs ? maxMs : ms;
          },
  };
}
