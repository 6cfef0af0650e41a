import { type Address, addressApprox, clockwiseDistance } from '../address.js';
import type { Endpoint } from '../transport.js';

/** Why this node keeps a connection. A connection with no flag left is closed. */
export const ConnectionFlag = {
  /** To a bootstrap peer, only while joining. Not used for routing. */
  LEAF: 1,
  /** Among the k nearest on one side of the ring. */
  NEAR: 2,
  /** A Symphony shortcut this node asked for. */
  SHORTCUT: 4,
  /** Asked for by the peer; the peer decides when it ends. */
  INBOUND: 8,
  /** A relay (or reserve relay) for a peer this node cannot reach directly. */
  RELAY: 16,
  /** A session the application asked for (openSession), kept until it closes it. */
  SESSION: 32,
} as const;

const STRUCTURED = ConnectionFlag.NEAR | ConnectionFlag.SHORTCUT | ConnectionFlag.INBOUND | ConnectionFlag.RELAY | ConnectionFlag.SESSION;

export interface Connection {
  readonly address: Address;
  endpoint: Endpoint;
  flags: number;
  readonly since: number;
  /** When this node's own shortcut should be replaced by a fresh draw (shortcut refresh). */
  shortcutExpiresAt: number;
  /** Which failure detector the link runs (overlay-node.ts: default, or the churn profiles). */
  liveness: 'default' | 'near' | 'churn' | 'relayed' | 'punched';
}

/**
 * The one owner of this node's connections. Structured connections (anything but leaf-only) are
 * also kept sorted by address, which is what routing and the neighbour queries walk.
 */
export class ConnectionTable {
  private readonly byAddress = new Map<Address, Connection>();
  /** Structured connections' addresses, ascending. */
  private ring: Address[] = [];
  /** addressApprox of each entry of `ring`, at the same index. */
  private ringApprox: number[] = [];

  constructor(readonly self: Address) {}

  get size(): number {
    return this.byAddress.size;
  }

  get structuredCount(): number {
    return this.ring.length;
  }

  get(address: Address): Connection | undefined {
    return this.byAddress.get(address);
  }

  has(address: Address): boolean {
    return this.byAddress.has(address);
  }

  all(): IterableIterator<Connection> {
    return this.byAddress.values();
  }

  /** Structured connections, ascending by address. Read-only view. */
  structured(): readonly Address[] {
    return this.ring;
  }

  /** addressApprox of each address of {@link structured}, at the same index. Read-only view. */
  structuredApprox(): readonly number[] {
    return this.ringApprox;
  }

  /** Adds the connection or adds flags to an existing one. */
  upsert(address: Address, endpoint: Endpoint, flags: number, now: number): Connection {
    let c = this.byAddress.get(address);
    if (c === undefined) {
      c = { address, endpoint, flags: 0, since: now, shortcutExpiresAt: 0, liveness: 'default' };
      this.byAddress.set(address, c);
    }
    c.endpoint = endpoint;
    this.setFlags(c, c.flags | flags);
    return c;
  }

  addFlags(address: Address, flags: number): void {
    const c = this.byAddress.get(address);
    if (c !== undefined) this.setFlags(c, c.flags | flags);
  }

  /** Clears flags; returns the flags left (0 means nothing keeps the connection). */
  clearFlags(address: Address, flags: number): number {
    const c = this.byAddress.get(address);
    if (c === undefined) return 0;
    this.setFlags(c, c.flags & ~flags);
    return c.flags;
  }

  remove(address: Address): Connection | undefined {
    const c = this.byAddress.get(address);
    if (c === undefined) return undefined;
    this.byAddress.delete(address);
    if ((c.flags & STRUCTURED) !== 0) this.ringRemove(address);
    return c;
  }

  /** Up to `n` structured neighbours counter-clockwise, nearest first. */
  left(n: number): Address[] {
    const out: Address[] = [];
    const len = this.ring.length;
    if (len === 0) return out;
    const start = this.insertionIndex(this.self);
    for (let i = 1; i <= Math.min(n, len); i++) out.push(this.ring[(start - i + len * 2) % len] as Address);
    return out;
  }

  /** Up to `n` structured neighbours clockwise, nearest first. */
  right(n: number): Address[] {
    const out: Address[] = [];
    const len = this.ring.length;
    if (len === 0) return out;
    const start = this.insertionIndex(this.self);
    for (let i = 0; i < Math.min(n, len); i++) out.push(this.ring[(start + i) % len] as Address);
    return out;
  }

  /**
   * Would a node at `candidate` be among our `k` nearest on its side?
   * True when that side has fewer than k structured connections, or the candidate is closer than the k-th.
   */
  wouldBeNear(candidate: Address, k: number): boolean {
    if (candidate === this.self) return false;
    const cw = clockwiseDistance(this.self, candidate);
    const ccw = clockwiseDistance(candidate, this.self);
    const side = cw <= ccw ? this.right(k) : this.left(k);
    if (side.length < k || this.ring.length < 2 * k) return true;
    const kth = side[k - 1] as Address;
    return cw <= ccw ? cw < clockwiseDistance(this.self, kth) : ccw < clockwiseDistance(kth, this.self);
  }

  private setFlags(c: Connection, flags: number): void {
    const wasStructured = (c.flags & STRUCTURED) !== 0;
    c.flags = flags;
    const isStructured = (flags & STRUCTURED) !== 0;
    if (isStructured && !wasStructured) this.ringInsert(c.address);
    else if (!isStructured && wasStructured) this.ringRemove(c.address);
  }

  private insertionIndex(address: Address): number {
    let lo = 0;
    let hi = this.ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ring[mid] as Address) < address) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private ringInsert(address: Address): void {
    const i = this.insertionIndex(address);
    if (this.ring[i] !== address) {
      this.ring.splice(i, 0, address);
      this.ringApprox.splice(i, 0, addressApprox(address));
    }
  }

  private ringRemove(address: Address): void {
    const i = this.insertionIndex(address);
    if (this.ring[i] === address) {
      this.ring.splice(i, 1);
      this.ringApprox.splice(i, 1);
    }
  }
}
