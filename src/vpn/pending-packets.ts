/**
 * Packets waiting for something about their key (an address lookup, a session coming up), bounded
 * per key and in keys: beyond either bound the newest packet is dropped and counted, as a router's
 * queue would.
 */
export interface PendingQueue {
  readonly since: number;
  readonly packets: Uint8Array[];
}

export class PendingPackets<K> {
  private readonly queues = new Map<K, PendingQueue>();
  dropped = 0;

  constructor(
    private readonly perKey: number,
    private readonly maxKeys: number,
  ) {}

  get size(): number {
    return this.queues.size;
  }

  /** Queues a packet (kept as given: pass a copy if the caller's buffer is reused). False if dropped. */
  add(key: K, packet: Uint8Array, now: number): boolean {
    let q = this.queues.get(key);
    if (q === undefined) {
      if (this.queues.size >= this.maxKeys) {
        this.dropped++;
        return false;
      }
      q = { since: now, packets: [] };
      this.queues.set(key, q);
    }
    if (q.packets.length >= this.perKey) {
      this.dropped++;
      return false;
    }
    q.packets.push(packet);
    return true;
  }

  has(key: K): boolean {
    return this.queues.has(key);
  }

  /** Removes and returns a key's packets. */
  take(key: K): Uint8Array[] {
    const q = this.queues.get(key);
    this.queues.delete(key);
    return q?.packets ?? [];
  }

  entries(): IterableIterator<[K, PendingQueue]> {
    return this.queues.entries();
  }

  clear(): void {
    this.queues.clear();
  }
}
