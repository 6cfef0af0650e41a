import { type Address, addressToHex } from '../overlay/address.js';
import type { OverlayNode } from '../overlay/node/overlay-node.js';
import { type PathKind, describePath } from './status-snapshot.js';

export interface ConnectResult {
  address: string;
  /** The session existed before the request (ms is then 0). */
  alreadyLinked: boolean;
  /** From the request to the first authenticated packet of the session (its handshake's completion). */
  ms: number;
  path: PathKind;
  endpoint: string | null;
  via: string | null;
  reason: string;
}

/** How often the session is looked for while connecting; the figure itself comes from the link's own timestamp. */
const POLL_MS = 5;

/** The session did not come up in time, in words (the CLI prints it). */
export class ConnectTimeoutError extends Error {
  override readonly name = 'ConnectTimeoutError';
}

/**
 * Opens a session with `peer` (a connect-request routed over the overlay; NAT traversal and relays
 * are the overlay's) and resolves once it is up, with the path and the time it took: from this
 * call to the link's establishment, i.e. the first authenticated packet from the peer, measured
 * on the node's clock.
 */
export function connectSession(node: OverlayNode, peer: Address, timeoutMs: number, now: () => number = Date.now): Promise<ConnectResult> {
  const requestedAt = now();
  const result = (alreadyLinked: boolean, establishedAt: number): ConnectResult => ({
    address: addressToHex(peer),
    alreadyLinked,
    ms: alreadyLinked ? 0 : Math.max(0, establishedAt - requestedAt),
    ...describePath(node, peer),
  });
  const existing = node.links.get(peer);
  node.openSession(peer);
  if (existing !== undefined) return Promise.resolve(result(true, existing.establishedAt));
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const link = node.links.get(peer);
      if (link !== undefined) {
        clearInterval(timer);
        resolve(result(false, link.establishedAt));
      } else if (now() - requestedAt >= timeoutMs) {
        clearInterval(timer);
        reject(
          new ConnectTimeoutError(
            `No session with ${addressToHex(peer).slice(0, 12)} within ${Math.round(timeoutMs / 100) / 10} s: the node may be offline, ` +
              'not in this ring, or unreachable both directly and through relays. The node keeps trying in the background.',
          ),
        );
      }
    }, POLL_MS);
  });
}
