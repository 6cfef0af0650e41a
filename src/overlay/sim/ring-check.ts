import type { Address } from '../address.js';

/** What the consistency check needs of a node. */
export interface RingView {
  readonly address: Address;
  leftNeighbours(n: number): Address[];
  rightNeighbours(n: number): Address[];
}

/**
 * Ring consistency over the live nodes: the fraction whose first and second left and right
 * neighbours (as their own connection tables say) are the true ones.
 */
export function ringConsistency(nodes: readonly RingView[]): number {
  const n = nodes.length;
  if (n <= 1) return 1;
  const sorted = [...nodes].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  const depth = Math.min(2, n - 1);
  let good = 0;
  for (let i = 0; i < n; i++) {
    const node = sorted[i] as RingView;
    const left = node.leftNeighbours(depth);
    const right = node.rightNeighbours(depth);
    let ok = left.length === depth && right.length === depth;
    for (let d = 1; ok && d <= depth; d++) {
      ok = left[d - 1] === (sorted[(i - d + n) % n] as RingView).address && right[d - 1] === (sorted[(i + d) % n] as RingView).address;
    }
    if (ok) good++;
  }
  return good / n;
}

/** Nearest-rank percentile of a list of numbers (p in [0, 100]); NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}
