import { APPROX_RING, type Address, addressApprox, clockwiseDistance, ringDistance } from '../address.js';
import { RouteMode, type RouteModeValue } from '../wire/messages.js';

export type RouteDecision =
  | { action: 'deliver' }
  | { action: 'forward'; nextHop: Address }
  | { action: 'drop'; reason: string };

/** How far `node` is from `target` under a delivery mode: routing greedily lowers this number. */
export function routeMetric(mode: RouteModeValue, node: Address, target: Address): bigint {
  switch (mode) {
    case RouteMode.PREDECESSOR:
      return clockwiseDistance(node, target);
    case RouteMode.SUCCESSOR:
      return clockwiseDistance(target, node);
    default:
      return ringDistance(node, target);
  }
}

/**
 * Greedy routing: forward to the structured connection that lowers the metric most; deliver here
 * when no connection is better. `excluded` (the source, for joins and repairs) is never chosen.
 * `cameFrom` is never the next hop, which keeps a message from bouncing between two nodes that
 * disagree about the ring while it is being repaired. Of connections equally good, the first
 * in `connections` is chosen.
 *
 * `approx`, when given, holds addressApprox of each connection (same index): the metric is then
 * compared first on those numbers, and computed exactly (bigints, which allocate) only for the
 * connections that can be the best. The decision is the same either way.
 */
export function decideRoute(
  self: Address,
  connections: readonly Address[],
  destination: Address,
  mode: RouteModeValue,
  excluded: Address | null,
  cameFrom: Address | null,
  approx: readonly number[] | null = null,
): RouteDecision {
  if (mode === RouteMode.EXACT && destination === self) return { action: 'deliver' };
  const contenders = approx !== null && approx.length === connections.length ? nearBest(connections, approx, destination, mode, excluded, cameFrom) : null;
  let best: Address | null = null;
  let bestMetric = 0n;
  for (let i = 0; i < connections.length; i++) {
    const c = connections[i] as Address;
    if (c === excluded || c === cameFrom) continue;
    if (mode === RouteMode.EXACT && c === destination) return { action: 'forward', nextHop: c };
    if (contenders !== null && contenders[i] !== 1) continue;
    const m = routeMetric(mode, c, destination);
    if (best === null || m < bestMetric) {
      best = c;
      bestMetric = m;
    }
  }
  const selfIsCandidate = self !== excluded;
  if (selfIsCandidate && (best === null || routeMetric(mode, self, destination) <= bestMetric)) {
    return mode === RouteMode.EXACT ? { action: 'drop', reason: 'no such node' } : { action: 'deliver' };
  }
  if (best === null) return { action: 'drop', reason: 'no connection to route through' };
  return { action: 'forward', nextHop: best };
}

/** Marks (1) the connections whose exact metric may be the smallest; 0 for the rest. Valid until the next call. */
function nearBest(
  connections: readonly Address[],
  approx: readonly number[],
  destination: Address,
  mode: RouteModeValue,
  excluded: Address | null,
  cameFrom: Address | null,
): Uint8Array {
  const d = addressApprox(destination);
  if (scratchMetrics.length < connections.length) {
    scratchMetrics = new Float64Array(2 * connections.length);
    scratchMarks = new Uint8Array(2 * connections.length);
  }
  const metrics = scratchMetrics;
  let min = Infinity;
  for (let i = 0; i < connections.length; i++) {
    const c = connections[i] as Address;
    if (c === excluded || c === cameFrom) {
      metrics[i] = Infinity;
      continue;
    }
    const m = approxMetric(mode, approx[i] as number, d);
    metrics[i] = m;
    if (m >= 0 && m < min) min = m;
  }
  // The approximate metric is within 1 of the exact one (scaled), so the exact minimum is among
  // those within 2 of the approximate minimum; -1 (no bound near the wrap-around) always is.
  const out = scratchMarks;
  for (let i = 0; i < connections.length; i++) {
    const m = metrics[i] as number;
    out[i] = m === -1 || m <= min + 2 ? 1 : 0;
  }
  return out;
}

// Reused by every call (decideRoute runs no callbacks, so calls never overlap).
let scratchMetrics = new Float64Array(64);
let scratchMarks = new Uint8Array(64);

/**
 * routeMetric on addressApprox values, in units of 2^107: within 1 of the exact metric, or -1
 * where a clockwise metric is so close to 0 (or to the whole ring) that the exact one may sit on
 * the other side of the wrap-around.
 */
function approxMetric(mode: RouteModeValue, node: number, target: number): number {
  switch (mode) {
    case RouteMode.PREDECESSOR:
      return clockwiseApprox(node, target);
    case RouteMode.SUCCESSOR:
      return clockwiseApprox(target, node);
    default: {
      const cw = wrap(target - node);
      return cw < APPROX_RING - cw ? cw : APPROX_RING - cw;
    }
  }
}

function clockwiseApprox(from: number, to: number): number {
  const cw = wrap(to - from);
  return cw <= 1 || cw >= APPROX_RING - 2 ? -1 : cw;
}

function wrap(x: number): number {
  return x < 0 ? x + APPROX_RING : x;
}
