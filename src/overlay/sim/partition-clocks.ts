/**
 * The clocks the partitions of a parallel simulation publish to each other, in shared memory.
 * A partition's clock is a time before which it will send no more packets: the earliest of its
 * next event and the earliest time a packet from another partition could still reach it. Another
 * partition may then run every event earlier than that clock plus the latency floor.
 *
 * Clocks are Int32 counts of 1/16 ms since SIM_EPOCH_MS, rounded down (a clock read is never
 * later than the one written), so that Atomics order them with the packets streamed before them;
 * that allows 37 hours of virtual time. Each sits on a cache line of its own.
 */
import { SIM_EPOCH_MS } from './virtual-clock.js';

const UNITS_PER_MS = 16;
const STRIDE = 16; // Int32s: 64 bytes
const NEVER = 0x7fffffff;

export class PartitionClocks {
  private readonly cells: Int32Array;
  private readonly sleepers: number;

  static create(partitions: number): SharedArrayBuffer {
    return new SharedArrayBuffer(4 * STRIDE * (partitions + 1));
  }

  constructor(
    buffer: SharedArrayBuffer,
    readonly count: number,
  ) {
    this.cells = new Int32Array(buffer);
    if (this.cells.length < STRIDE * (count + 1)) throw new RangeError('the clock buffer is too small for the partitions');
    this.sleepers = STRIDE * count;
  }

  /** Sets partition `p`'s clock (and wakes partitions sleeping on it). */
  publish(p: number, time: number): void {
    const slot = STRIDE * p;
    const value = encode(time);
    if (Atomics.load(this.cells, slot) === value) return;
    Atomics.store(this.cells, slot, value);
    if (Atomics.load(this.cells, this.sleepers) > 0) Atomics.notify(this.cells, slot);
  }

  read(p: number): number {
    return decode(Atomics.load(this.cells, STRIDE * p));
  }

  /** The earliest clock of the partitions other than `self`, and which partition has it. */
  earliestOther(self: number): { time: number; partition: number } {
    let time = Infinity;
    let partition = -1;
    for (let p = 0; p < this.count; p++) {
      if (p === self) continue;
      const t = this.read(p);
      if (t < time || partition < 0) {
        time = t;
        partition = p;
      }
    }
    return { time, partition };
  }

  /** Sleeps until partition `p`'s clock moves from `time`, or `timeoutMs` passes. */
  sleepOn(p: number, time: number, timeoutMs: number): void {
    const slot = STRIDE * p;
    Atomics.add(this.cells, this.sleepers, 1);
    try {
      Atomics.wait(this.cells, slot, encode(time), timeoutMs);
    } finally {
      Atomics.sub(this.cells, this.sleepers, 1);
    }
  }
}

function encode(time: number): number {
  if (time === Infinity) return NEVER;
  const units = Math.floor((time - SIM_EPOCH_MS) * UNITS_PER_MS);
  if (!(units >= 0 && units < NEVER)) throw new RangeError(`a parallel simulation covers 0 to 37 hours of virtual time, not ${time - SIM_EPOCH_MS} ms`);
  return units;
}

function decode(value: number): number {
  return value === NEVER ? Infinity : SIM_EPOCH_MS + value / UNITS_PER_MS;
}
