import type { Address } from '../address.js';

export interface RelayServiceInit {
  /** Pairs of peers this node carries at once (default 64); a new pair beyond it is refused. */
  maxPairs: number;
  /** Bytes per second one source may push through this relay, sustained (default 2 MB/s). */
  bytesPerSecond: number;
  /** Burst allowance in bytes (default 1 MB). */
  burstBytes: number;
  /** A pair that sent nothing for this long no longer counts against maxPairs (default 60 s). */
  pairIdleMs: number;
}

export const defaultRelayServiceInit: RelayServiceInit = {
  maxPairs: 64,
  bytesPerSecond: 2_000_000,
  burstBytes: 1_000_000,
  pairIdleMs: 60_000,
};

interface Bucket {
  tokens: number;
  at: number;
}

export interface RelayServiceStats {
  forwarded: number;
  bytesForwarded: number;
  refusedNotLinked: number;
  refusedPairCap: number;
  refusedRateLimited: number;
}

/**
 * The relay side of autonomic relays: passes link datagrams between two peers this node is linked
 * with (so both were admitted to its ring). It sees only ciphertext of their end-to-end session.
 * A cap on pairs and a per-source byte rate keep one busy pair, or a crowd choosing the same
 * well-connected node, from taking it over: refused datagrams make the sides pick a reserve.
 */
export class RelayService {
  readonly stats: RelayServiceStats = { forwarded: 0, bytesForwarded: 0, refusedNotLinked: 0, refusedPairCap: 0, refusedRateLimited: 0 };
  private readonly pairs = new Map<string, number>();
  private readonly buckets = new Map<Address, Bucket>();

  constructor(
    private readonly init: RelayServiceInit,
    private readonly isLinked: (peer: Address) => boolean,
    private readonly deliver: (to: Address, from: Address, payload: Uint8Array) => boolean,
  ) {}

  get pairCount(): number {
    return this.pairs.size;
  }

  /** `from` asks us to pass `payload` to `to`. Returns whether it went out. */
  onRelaySend(from: Address, to: Address, payload: Uint8Array, now: number): boolean {
    if (to === from || !this.isLinked(to) || !this.isLinked(from)) {
      this.stats.refusedNotLinked++;
      return false;
    }
    const key = from < to ? `${from}|${to}` : `${to}|${from}`;
    if (!this.pairs.has(key)) {
      if (this.pairs.size >= this.init.maxPairs) this.expirePairs(now);
      if (this.pairs.size >= this.init.maxPairs) {
        this.stats.refusedPairCap++;
        return false;
      }
    }
    if (!this.take(from, payload.length, now)) {
      this.stats.refusedRateLimited++;
      return false;
    }
    this.pairs.set(key, now);
    if (!this.deliver(to, from, payload)) return false;
    this.stats.forwarded++;
    this.stats.bytesForwarded += payload.length;
    return true;
  }

  /** Periodic cleanup: idle pairs and full buckets are forgotten. */
  expire(now: number): void {
    this.expirePairs(now);
    for (const [peer, b] of this.buckets) {
      if (now - b.at > (this.init.burstBytes / this.init.bytesPerSecond) * 1000) this.buckets.delete(peer);
    }
  }

  /** A peer's link went away: its pairs end with it. */
  forgetPeer(peer: Address): void {
    this.buckets.delete(peer);
    for (const key of this.pairs.keys()) {
      const [a, b] = key.split('|');
      if (a === String(peer) || b === String(peer)) this.pairs.delete(key);
    }
  }

  private expirePairs(now: number): void {
    for (const [key, at] of this.pairs) if (now - at > this.init.pairIdleMs) this.pairs.delete(key);
  }

  private take(peer: Address, bytes: number, now: number): boolean {
    let b = this.buckets.get(peer);
    if (b === undefined) {
      b = { tokens: this.init.burstBytes, at: now };
      this.buckets.set(peer, b);
    } else {
      b.tokens = Math.min(this.init.burstBytes, b.tokens + ((now - b.at) / 1000) * this.init.bytesPerSecond);
      b.at = now;
    }
    if (b.tokens < bytes) return false;
    b.tokens -= bytes;
    return true;
  }
}
