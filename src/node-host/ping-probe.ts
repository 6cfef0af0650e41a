import { performance } from 'node:perf_hooks';
import { type Address, addressToHex } from '../overlay/address.js';
import type { OverlayNode } from '../overlay/node/overlay-node.js';
import { type PathKind, describePath } from './status-snapshot.js';

export interface PingResult {
  address: string;
  answered: boolean;
  /** Round trip measured by this process (sub-millisecond), null when unanswered. */
  rttMs: number | null;
  /** Hops the probe took to reach the node (1: straight over the session with it). */
  hops: number | null;
  path: PathKind | null;
  endpoint: string | null;
  via: string | null;
  reason: string;
}

/**
 * One authenticated probe over the overlay: the node's routed ping, which travels inside link
 * sessions (encrypted, signed handshakes) and is answered by the node at `address` only.
 * The path is what the probe actually took: one hop over this node's session with the target is
 * that session's path; more hops means it was routed through the ring.
 */
export function pingOverOverlay(node: OverlayNode, address: Address, timeoutMs: number): Promise<PingResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    node.ping(address, timeoutMs, (answer) => {
      const hex = addressToHex(address);
      if (answer === null) {
        resolve({ address: hex, answered: false, rttMs: null, hops: null, path: null, endpoint: null, via: null, reason: `no answer within ${timeoutMs} ms` });
        return;
      }
      const rttMs = Math.round((performance.now() - started) * 1000) / 1000;
      const session = describePath(node, address);
      if (answer.hops <= 1 && session.path !== 'overlay') {
        resolve({ address: hex, answered: true, rttMs, hops: answer.hops, ...session });
        return;
      }
      resolve({
        address: hex,
        answered: true,
        rttMs,
        hops: answer.hops,
        path: 'overlay',
        endpoint: null,
        via: null,
        reason: `overlay: routed through ${answer.hops - 1} other node${answer.hops === 2 ? '' : 's'} (no session with this node)`,
      });
    });
  });
}
