import { type Address, addressForKey } from '../address.js';
import type { DhtRecord } from '../wire/messages.js';
import { isTombstone, keyId, recordExpiresAt, recordSlot } from './dht-record.js';

export interface DhtStoreLimits {
  /** Keys one node stores (default 20,000): a full store refuses new keys, it never grows unbounded. */
  maxKeys: number;
  /** Values (writers × values) per key (default 16: one DHT response carries them all). */
  maxValuesPerKey: number;
}

export const defaultDhtStoreLimits: DhtStoreLimits = { maxKeys: 20_000, maxValuesPerKey: 16 };

interface KeyEntry {
  key: Uint8Array;
  location: Address;
  /** slot -> record (live values and tombstones). */
  slots: Map<string, DhtRecord>;
}

export type StoreOutcome = 'stored' | 'unchanged' | 'stale' | 'full';

/** The one owner of the records this node holds as a replica. Signatures are checked before `put`. */
export class DhtStore {
  private readonly keys = new Map<string, KeyEntry>();
  /** Signatures already verified and stored; a record seen again skips the expensive check. */
  private readonly known = new Set<string>();
  droppedFull = 0;

  constructor(private readonly limits: DhtStoreLimits) {}

  get keyCount(): number {
    return this.keys.size;
  }

  get recordCount(): number {
    let n = 0;
    for (const e of this.keys.values()) n += e.slots.size;
    return n;
  }

  /** Whether this exact record (by signature) is already stored. */
  has(record: DhtRecord): boolean {
    return this.known.has(sigId(record));
  }

  /** Newer records (by issuedAt) replace older ones in the same slot; tombstones are records too. */
  put(record: DhtRecord): StoreOutcome {
    const id = keyId(record.key);
    let entry = this.keys.get(id);
    if (entry === undefined) {
      if (this.keys.size >= this.limits.maxKeys) {
        this.droppedFull++;
        return 'full';
      }
      entry = { key: record.key, location: addressForKey(record.key), slots: new Map() };
      this.keys.set(id, entry);
    }
    const slot = recordSlot(record);
    const old = entry.slots.get(slot);
    if (old !== undefined) {
      if (old.issuedAt > record.issuedAt) return 'stale';
      if (old.issuedAt === record.issuedAt && isTombstone(old) === isTombstone(record)) return 'unchanged';
      this.known.delete(sigId(old));
    } else if (entry.slots.size >= this.limits.maxValuesPerKey) {
      this.droppedFull++;
      return 'full';
    }
    entry.slots.set(slot, record);
    this.known.add(sigId(record));
    return 'stored';
  }

  /** Live (not expired, not removed) values of a key. */
  live(key: Uint8Array, now: number): DhtRecord[] {
    const entry = this.keys.get(keyId(key));
    if (entry === undefined) return [];
    const out: DhtRecord[] = [];
    for (const r of entry.slots.values()) if (!isTombstone(r) && recordExpiresAt(r) > now) out.push(r);
    return out;
  }

  /** Every record of a key, tombstones included (for replication). */
  records(key: Uint8Array): DhtRecord[] {
    const entry = this.keys.get(keyId(key));
    return entry === undefined ? [] : [...entry.slots.values()];
  }

  entries(): IterableIterator<{ key: Uint8Array; location: Address; slots: Map<string, DhtRecord> }> {
    return this.keys.values();
  }

  deleteKey(key: Uint8Array): void {
    const entry = this.keys.get(keyId(key));
    if (entry === undefined) return;
    for (const r of entry.slots.values()) this.known.delete(sigId(r));
    this.keys.delete(keyId(key));
  }

  /** Drops expired records and empty keys; returns how many records went. */
  expire(now: number): number {
    let n = 0;
    for (const [id, entry] of this.keys) {
      for (const [slot, r] of entry.slots) {
        if (recordExpiresAt(r) <= now) {
          entry.slots.delete(slot);
          this.known.delete(sigId(r));
          n++;
        }
      }
      if (entry.slots.size === 0) this.keys.delete(id);
    }
    return n;
  }
}

function sigId(record: DhtRecord): string {
  return Buffer.from(record.signature.buffer, record.signature.byteOffset, record.signature.byteLength).toString('base64');
}
