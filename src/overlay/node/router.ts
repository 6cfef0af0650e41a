import { type Address, clockwiseDistance, ringDistance } from '../address.js';
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
 * disagree about the ring while it is being repaired.
 */
export function decideRoute(
  self: Address,
  connections: readonly Address[],
  destination: Address,
  mode: RouteModeValue,
  excluded: Address | null,
  cameFrom: Address | null,
): RouteDecision {
  if (mode === RouteMode.EXACT && destination === self) return { action: 'deliver' };
  let best: Address | null = null;
  let bestMetric = 0n;
  for (const c of connections) {
    if (c === excluded || c === cameFrom) continue;
    if (mode === RouteMode.EXACT && c === destination) return { action: 'forward', nextHop: c };
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
