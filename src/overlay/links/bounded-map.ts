/**
 * A Map with a size cap: inserting past the cap drops the least recently set entry.
 * Used for caches whose loss is harmless or bounded in effect (documented where used).
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(readonly cap: number) {
    if (!(cap >= 1)) throw new RangeError('cap must be at least 1');
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  /** Sets and marks as most recent; evicts the oldest entry when over the cap. */
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.cap) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) this.map.delete(oldest.value);
    }
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
