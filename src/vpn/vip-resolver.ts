import type { Address } from '../overlay/address.js';
import type { Clock } from '../overlay/clock.js';
import type { DhtResult } from '../overlay/node/dht-service.js';
import { vipKey, winningOwner } from './vip-records.js';

export interface ResolverInit {
  readonly networkIdHex: string;
  /**
   * How long an answer is used before it is looked up again (default 60 s). The old answer keeps
   * being used while the new lookup runs, so traffic never waits for a refresh.
   */
  readonly positiveTtlMs?: number;
  /** How long "nobody has this address" is believed (default 5 s: a member that just came up is found soon). */
  readonly negativeTtlMs?: number;
  /** Addresses kept at most (default 4096); the oldest is forgotten first. */
  readonly maxEntries?: number;
  /** Lookups in flight at most (default 64); more are refused (answered "unknown" later). */
  readonly maxInFlight?: number;
}

export interface ResolverComponents {
  readonly dht: { get(key: Uint8Array, cb: (r: DhtResult) => void): void };
  readonly clock: Clock;
}

interface Entry {
  /** null: no owner. */
  owner: Address | null;
  expiresAt: number;
}

export type ResolveCallback = (owner: Address | null) => void;

/**
 * Virtual IP -> overlay address, through the DHT owner records (believed only when the record's
 * writer is the node it names: vip-records.ts), with a cache, a negative cache and one lookup in
 * flight per address however many packets ask.
 */
export class VipResolver {
  private readonly entries = new Map<number, Entry>();
  private readonly byOwner = new Map<Address, number>();
  private readonly inFlight = new Map<number, ResolveCallback[]>();
  private readonly positiveTtlMs: number;
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly maxInFlight: number;
  private stopped = false;
  readonly stats = { lookups: 0, found: 0, notFound: 0, failed: 0, refused: 0 };

  constructor(
    private readonly init: ResolverInit,
    private readonly c: ResolverComponents,
  ) {
    this.positiveTtlMs = init.positiveTtlMs ?? 60_000;
    this.negativeTtlMs = init.negativeTtlMs ?? 5_000;
    this.maxEntries = init.maxEntries ?? 4_096;
    this.maxInFlight = init.maxInFlight ?? 64;
  }

  /**
   * The per-packet question: the owner if known (possibly stale, then a refresh starts), null if
   * known to have none, undefined if unknown (call resolve).
   */
  lookup(ip: number): Address | null | undefined {
    const e = this.entries.get(ip);
    if (e === undefined) return undefined;
    if (e.expiresAt <= this.c.clock.now()) {
      if (e.owner === null) return undefined;
      this.resolve(ip, () => {});
    }
    return e.owner;
  }

  /** Looks the address up (joining a lookup already running); the callback gets the owner or null. */
  resolve(ip: number, cb: ResolveCallback): void {
    const waiting = this.inFlight.get(ip);
    if (waiting !== undefined) {
      if (waiting.length < 64) waiting.push(cb);
      return;
    }
    if (this.inFlight.size >= this.maxInFlight || this.stopped) {
      this.stats.refused++;
      cb(this.entries.get(ip)?.owner ?? null);
      return;
    }
    this.inFlight.set(ip, [cb]);
    this.stats.lookups++;
    this.c.dht.get(vipKey(this.init.networkIdHex, ip), (r) => this.answered(ip, r));
  }

  /** Forget what is known of an address (its owner stopped answering). */
  invalidate(ip: number): void {
    const e = this.entries.get(ip);
    if (e === undefined) return;
    this.entries.delete(ip);
    if (e.owner !== null && this.byOwner.get(e.owner) === ip) this.byOwner.delete(e.owner);
  }

  /** The virtual IP a node was last found to own. */
  vipOf(peer: Address): number | undefined {
    return this.byOwner.get(peer);
  }

  stop(): void {
    this.stopped = true;
  }

  private answered(ip: number, r: DhtResult): void {
    const callbacks = this.inFlight.get(ip) ?? [];
    this.inFlight.delete(ip);
    const now = this.c.clock.now();
    let owner: Address | null;
    if (r.ok || r.status === 'not-found') {
      owner = r.ok ? (winningOwner(r.records, ip)?.owner ?? null) : null;
      if (owner === null) this.stats.notFound++;
      else this.stats.found++;
      this.store(ip, { owner, expiresAt: now + (owner === null ? this.negativeTtlMs : this.positiveTtlMs) });
    } else {
      // Timeout or overload: keep what was known, look again soon.
      this.stats.failed++;
      const known = this.entries.get(ip);
      owner = known?.owner ?? null;
      if (known !== undefined) known.expiresAt = now + this.negativeTtlMs;
    }
    if (this.stopped) return;
    for (const cb of callbacks) cb(owner);
  }

  private store(ip: number, entry: Entry): void {
    const old = this.entries.get(ip);
    if (old?.owner !== undefined && old.owner !== null && old.owner !== entry.owner && this.byOwner.get(old.owner) === ip) this.byOwner.delete(old.owner);
    this.entries.delete(ip);
    this.entries.set(ip, entry);
    if (entry.owner !== null) this.byOwner.set(entry.owner, ip);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as number;
      this.invalidate(oldest);
    }
  }
}
