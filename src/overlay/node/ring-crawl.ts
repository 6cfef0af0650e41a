import type { Address } from '../address.js';
import type { PeerRecord } from '../wire/messages.js';

/** What the crawl needs of the node it starts from. */
export interface CrawlStart {
  readonly address: Address;
  leftNeighbours(n: number): Address[];
  rightNeighbours(n: number): Address[];
  crawl(destination: Address, timeoutMs: number, callback: (r: { left: PeerRecord[]; right: PeerRecord[] } | null) => void): void;
}

export interface CrawlReport {
  /** Nodes met walking clockwise, in ring order, starting with the crawler. */
  visited: Address[];
  /** True when the walk came back to the start. */
  complete: boolean;
  /** Nodes whose first and second left and right neighbours (as they reported them) match the walk. */
  consistent: number;
  /** Nodes that did not answer the crawl request in time. */
  unanswered: number;
}

/**
 * Walks the ring over the overlay: from the start node, repeatedly asks the next node clockwise
 * (a routed crawl-request, exact delivery) for its neighbour lists, until the walk returns to the
 * start or `maxNodes` is reached. Then checks that every node agrees with its first and second
 * left and right neighbours. One request at a time: about N round trips.
 */
export function crawlRing(
  start: CrawlStart,
  options: { maxNodes: number; timeoutMs: number },
  done: (report: CrawlReport) => void,
): void {
  const views = new Map<Address, { left: Address[]; right: Address[] }>();
  const visited: Address[] = [start.address];
  views.set(start.address, { left: start.leftNeighbours(2), right: start.rightNeighbours(2) });
  let unanswered = 0;

  const finish = (complete: boolean): void => {
    const n = visited.length;
    let consistent = 0;
    for (let i = 0; complete && i < n; i++) {
      const view = views.get(visited[i] as Address);
      if (view === undefined) continue;
      const expect = (d: number): Address => visited[(((i + d) % n) + n) % n] as Address;
      const depth = Math.min(2, n - 1);
      let ok = view.left.length >= depth && view.right.length >= depth;
      for (let d = 1; ok && d <= depth; d++) ok = view.left[d - 1] === expect(-d) && view.right[d - 1] === expect(d);
      if (ok) consistent++;
    }
    done({ visited, complete, consistent, unanswered });
  };

  const step = (current: Address): void => {
    const next = views.get(current)?.right[0];
    if (next === undefined) return finish(false);
    if (next === start.address) return finish(true);
    if (views.has(next) || visited.length >= options.maxNodes) return finish(false);
    start.crawl(next, options.timeoutMs, (reply) => {
      if (reply === null) {
        unanswered++;
        return finish(false);
      }
      visited.push(next);
      views.set(next, { left: reply.left.slice(0, 2).map((r) => r.address), right: reply.right.slice(0, 2).map((r) => r.address) });
      step(next);
    });
  };
  step(start.address);
}
