/**
 * Packets crossing from one partition of a parallel simulation to another (parallel-world.ts),
 * packed for `postMessage`: one byte buffer, one array of delivery times, one of end offsets, so
 * a batch clones and transfers as a handful of objects however many packets it holds.
 */
import type { Endpoint } from '../transport.js';

export interface PacketBatch {
  /** Virtual delivery time of each packet (ms). */
  readonly at: Float64Array;
  readonly from: Endpoint[];
  readonly to: Endpoint[];
  /** All payloads, back to back; packet i is `data[ends[i-1] .. ends[i])`. */
  readonly data: Uint8Array;
  readonly ends: Uint32Array;
}

export class PacketBatchBuilder {
  private at: number[] = [];
  private from: Endpoint[] = [];
  private to: Endpoint[] = [];
  private ends: number[] = [];
  private data = new Uint8Array(4096);
  private used = 0;

  get size(): number {
    return this.at.length;
  }

  push(from: Endpoint, to: Endpoint, bytes: Uint8Array, at: number): void {
    const need = this.used + bytes.length;
    if (need > this.data.length) {
      const grown = new Uint8Array(Math.max(need, 2 * this.data.length));
      grown.set(this.data.subarray(0, this.used));
      this.data = grown;
    }
    this.data.set(bytes, this.used);
    this.used = need;
    this.at.push(at);
    this.from.push(from);
    this.to.push(to);
    this.ends.push(need);
  }

  /** The packets pushed since the last take, or null if there are none; the builder starts empty again. */
  take(): PacketBatch | null {
    if (this.at.length === 0) return null;
    const batch: PacketBatch = {
      at: Float64Array.from(this.at),
      from: this.from,
      to: this.to,
      data: this.data.slice(0, this.used),
      ends: Uint32Array.from(this.ends),
    };
    this.at = [];
    this.from = [];
    this.to = [];
    this.ends = [];
    this.used = 0;
    return batch;
  }
}

/** Earliest delivery time in a batch (Infinity for none). */
export function earliest(batch: PacketBatch): number {
  let min = Infinity;
  for (const t of batch.at) if (t < min) min = t;
  return min;
}

/** Calls `fn` for each packet in order; each payload is a copy of its own, so a receiver may keep it. */
export function forEachPacket(batch: PacketBatch, fn: (from: Endpoint, to: Endpoint, bytes: Uint8Array, at: number) => void): void {
  let start = 0;
  for (let i = 0; i < batch.at.length; i++) {
    const end = batch.ends[i]!;
    fn(batch.from[i]!, batch.to[i]!, batch.data.slice(start, end), batch.at[i]!);
    start = end;
  }
}

/** The buffers a batch can hand over with `postMessage` instead of copying. */
export function batchTransferables(batch: PacketBatch): ArrayBuffer[] {
  return [batch.at.buffer as ArrayBuffer, batch.data.buffer as ArrayBuffer, batch.ends.buffer as ArrayBuffer];
}
