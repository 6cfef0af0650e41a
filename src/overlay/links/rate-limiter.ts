/**
 * Token buckets keyed by source (an IP address), with a bounded table.
 *
 * Each source may spend `burst` tokens at once and earns `ratePerSecond` back. When the table is
 * full, sources without a bucket share one overflow bucket with the same rate: memory stays
 * bounded, and a flood from many addresses is held to one source's worth until the maintenance
 * tick frees the buckets of sources that went quiet.
 */
export class SourceRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly overflow: Bucket;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly maxSources: number,
    now: number,
  ) {
    if (!(ratePerSecond > 0) || !(burst >= 1) || !(maxSources >= 1)) throw new RangeError('invalid rate limiter settings');
    this.overflow = { tokens: burst, updatedAt: now };
  }

  /** Spends one token for `source`; false when the source is over its rate. */
  take(source: string, now: number): boolean {
    let bucket = this.buckets.get(source);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxSources) return this.spend(this.overflow, now);
      bucket = { tokens: this.burst, updatedAt: now };
      this.buckets.set(source, bucket);
    }
    return this.spend(bucket, now);
  }

  /** Forgets the buckets that have refilled completely (their sources went quiet). */
  expire(now: number): void {
    for (const [source, bucket] of this.buckets) {
      this.refill(bucket, now);
      if (bucket.tokens >= this.burst) this.buckets.delete(source);
    }
  }

  get size(): number {
    return this.buckets.size;
  }

  private spend(bucket: Bucket, now: number): boolean {
    this.refill(bucket, now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private refill(bucket: Bucket, now: number): void {
    const elapsed = now - bucket.updatedAt;
    if (elapsed > 0) {
      bucket.tokens = Math.min(this.burst, bucket.tokens + (elapsed * this.ratePerSecond) / 1000);
      bucket.updatedAt = now;
    }
  }
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** The IP part of an `ip:port` / `[ipv6]:port` endpoint (no validation: used only as a map key). */
export function sourceOf(endpoint: string): string {
  const colon = endpoint.lastIndexOf(':');
  return colon < 0 ? endpoint : endpoint.slice(0, colon);
}
