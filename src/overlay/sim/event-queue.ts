/**
 * The simulator's discrete-event queue: a binary min-heap ordered by (time, rank), where the rank
 * is the insertion sequence unless given ({@link EventQueue.postRanked}). Two events at the same
 * virtual millisecond run in the order they were scheduled, so a run is a pure function of its seed.
 *
 * Speed matters here (a 10,000-node run processes 30–60 million events). Measured with
 * bench/sim-queue.ts (100k pending timers re-arming themselves, one 2-vCPU VM core): a heap of
 * event objects ran 1.3 M events/s; keys in typed arrays beside the objects, 2.0 M; no object
 * per event at all (below), 4–5 M. Pending events live for seconds of virtual time, survive
 * young-generation collections and get promoted, so per-event objects churn the old generation,
 * and every comparison that chases an object pointer misses the cache. Hence:
 * - The queue allocates nothing per event. Pending events live in "slots" (parallel arrays of
 *   callback, argument and generation, reused through a free list); the heap itself is typed
 *   arrays of keys `(time, seq)` and slot numbers, so comparisons read contiguous memory and
 *   moving an entry touches no object.
 * - {@link EventQueue.post} schedules `fn(arg)` and returns a number ({@link EventId}), so hot
 *   paths (packet delivery, timers) share one function and pass a data object instead of
 *   allocating a closure and a handle per event. {@link EventQueue.schedule} and
 *   {@link EventQueue.scheduleCall} return a small {@link ScheduledEvent} handle for convenience;
 *   the queue does not keep it, so a dropped handle dies young and costs little.
 * - Cancellation is lazy: the slot's callback is cleared and the heap entry is skipped when it
 *   reaches the top; the heap is compacted once dead entries outnumber live ones.
 */

/** A pending call in an {@link EventQueue}. */
export interface ScheduledEvent {
  /** Virtual time (ms) at which it runs or ran. */
  readonly time: number;
  /** True until it has run or been cancelled. */
  readonly pending: boolean;
  /** Stops it from running. Idempotent; harmless after it ran; callable from inside any callback. */
  cancel(): void;
}

/**
 * Names one scheduled call of {@link EventQueue.post}: the slot and its generation. Stale ids
 * (the call ran or was cancelled, even if the slot has been reused) are recognised and ignored.
 */
export type EventId = number;

export interface ProgressInfo {
  /** Virtual time (ms) of the event just processed. */
  now: number;
  /** Events processed by this queue since it was created. */
  processed: number;
  /** Live events still waiting. */
  pending: number;
}

export interface RunOptions {
  /** Called every `progressEvery` processed events (for progress bars, wall-clock budgets). */
  onProgress?: (info: ProgressInfo) => void;
  /** Events between two `onProgress` calls. Default 1,000,000: well under a second of work. */
  progressEvery?: number;
  /** Return after this many events, leaving `now` at the last one's time (default: no limit). */
  maxEvents?: number;
}

export interface EventQueueInit {
  /** Initial virtual time in ms. The simulator passes `SIM_EPOCH_MS` (virtual-clock.ts). Default 0. */
  startTime?: number;
  /**
   * Ranks for a partition of a parallel simulation: this queue's own events get the ranks
   * `i · rankStride + rankOffset` (i = 0, 1, …), so that events posted with
   * {@link EventQueue.postRanked} by other partitions (offsets of their own) never tie with them.
   * Default stride 1, offset 0.
   */
  rankStride?: number;
  rankOffset?: number;
}

// `arg` is whatever the scheduler passed along with `fn`; the pairing is checked at post().
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCall = (arg: any) => void;

/** Slots per generation: at most 16.7 million events can be pending at once. */
const SLOT_BITS = 24;
const SLOT_LIMIT = 2 ** SLOT_BITS;
/** Generations wrap after 2^29 reuses of one slot, keeping ids below 2^53. */
const GEN_MASK = 2 ** 29 - 1;
/** Below this many heap entries compaction is not worth it. */
const MIN_COMPACT_SIZE = 1024;
const INITIAL_CAPACITY = 1024;

class EventHandle implements ScheduledEvent {
  constructor(
    private readonly queue: EventQueue,
    private readonly id: EventId,
    readonly time: number,
  ) {}

  get pending(): boolean {
    return this.queue.isPending(this.id);
  }

  cancel(): void {
    this.queue.cancel(this.id);
  }
}

export class EventQueue {
  // Heap: keys (time, seq) interleaved in one Float64Array, and each entry's slot.
  private keys = new Float64Array(2 * INITIAL_CAPACITY);
  private heapSlots = new Int32Array(INITIAL_CAPACITY);
  private count = 0;
  // Slots: callback (null when free or cancelled), argument, generation; free ones stacked.
  private readonly slotFn: Array<AnyCall | null> = [];
  private readonly slotArg: unknown[] = [];
  private slotGen = new Int32Array(INITIAL_CAPACITY);
  private freeSlots = new Int32Array(INITIAL_CAPACITY);
  private freeCount = 0;

  private currentTime: number;
  private nextSeq = 0;
  private readonly rankStride: number;
  private readonly rankOffset: number;
  private liveCount = 0;
  private processedCount = 0;
  private stopRequested = false;
  /** True while runNext/runUntil is running a callback (they are not re-entrant). */
  private running = false;

  constructor(init: number | EventQueueInit = {}) {
    const startTime = typeof init === 'number' ? init : (init.startTime ?? 0);
    if (!Number.isFinite(startTime)) throw new RangeError(`startTime must be finite, got ${startTime}`);
    this.currentTime = startTime;
    const stride = typeof init === 'number' ? 1 : (init.rankStride ?? 1);
    const offset = typeof init === 'number' ? 0 : (init.rankOffset ?? 0);
    if (!(Number.isInteger(stride) && stride >= 1 && Number.isInteger(offset) && offset >= 0 && offset < stride)) {
      throw new RangeError(`need whole numbers 0 ≤ rankOffset < rankStride, got ${offset} and ${stride}`);
    }
    this.rankStride = stride;
    this.rankOffset = offset;
  }

  /** Current virtual time in ms. */
  get now(): number {
    return this.currentTime;
  }

  /** Events run so far (cancelled ones are not counted). */
  get processed(): number {
    return this.processedCount;
  }

  /** Live (not yet run, not cancelled) events. */
  get size(): number {
    return this.liveCount;
  }

  /**
   * Runs `fn` at virtual time `at` (ms). A time in the past runs at `now`, after everything
   * already scheduled for `now`.
   */
  schedule(at: number, fn: () => void): ScheduledEvent {
    return this.scheduleCall(at, fn, undefined);
  }

  /** Like {@link schedule} but calls `fn(arg)`. */
  scheduleCall<T>(at: number, fn: (arg: T) => void, arg: T): ScheduledEvent {
    const time = this.clampTime(at);
    return new EventHandle(this, this.add(time, fn, arg), time);
  }

  /**
   * Allocation-free form of {@link scheduleCall} for hot paths: calls `fn(arg)` at `at` and
   * returns an id for {@link cancel} / {@link isPending}.
   */
  post<T>(at: number, fn: (arg: T) => void, arg: T): EventId {
    return this.add(this.clampTime(at), fn, arg);
  }

  /**
   * Like {@link post}, with the rank given: among events at the same time, lower ranks run first.
   * An event from another partition of a parallel simulation carries its sender's rank, so the
   * order of events does not depend on when the event was handed over.
   */
  postRanked<T>(at: number, fn: (arg: T) => void, arg: T, rank: number): EventId {
    return this.add(this.clampTime(at), fn, arg, rank);
  }

  /** Cancels a call made with {@link post}. False if it already ran or was cancelled. */
  cancel(id: EventId): boolean {
    const slot = id % SLOT_LIMIT;
    if (!this.isPending(id)) return false;
    this.slotFn[slot] = null;
    this.slotArg[slot] = undefined;
    this.liveCount--;
    if (this.count >= MIN_COMPACT_SIZE && this.count > 2 * this.liveCount) this.compact();
    return true;
  }

  /** True until the call has run or been cancelled. */
  isPending(id: EventId): boolean {
    const slot = id % SLOT_LIMIT;
    return slot < this.slotFn.length && this.slotGen[slot] === (id - slot) / SLOT_LIMIT && this.slotFn[slot] !== null;
  }

  /** Time of the next live event, or `Infinity` when there is none. */
  nextTime(): number {
    return this.dropDeadTop() ? this.keys[0]! : Infinity;
  }

  /** Runs the earliest live event and advances `now` to its time. False when the queue is empty. */
  runNext(): boolean {
    this.enter();
    try {
      if (!this.dropDeadTop()) return false;
      this.runTop();
      return true;
    } finally {
      this.running = false;
    }
  }

  /**
   * Runs every event whose time is ≤ `time` (including events those events schedule), then sets
   * `now = time`. If {@link stop} is called from a callback, returns after that event and leaves
   * `now` at its time. `runUntil(Infinity)` runs until the queue is empty and leaves `now` at the
   * last event's time (with a live interval it never returns). Returns the number of events run by
   * this call. An exception thrown by a callback propagates; the queue stays consistent and can be
   * run again. Not re-entrant: calling it (or runNext) from a callback throws.
   */
  runUntil(time: number, opts?: RunOptions): number {
    if (!(time >= this.currentTime)) throw new RangeError(`cannot run back in time: ${time} < now ${this.currentTime}`);
    this.enter();
    const onProgress = opts?.onProgress;
    const every = Math.max(1, Math.floor(opts?.progressEvery ?? 1_000_000));
    const start = this.processedCount;
    let nextReport = start + every;
    const last = start + (opts?.maxEvents ?? Infinity);
    this.stopRequested = false;
    try {
      while (this.count > 0) {
        if (this.keys[0]! > time) break;
        if (this.slotFn[this.heapSlots[0]!] === null) {
          this.popTop();
          continue;
        }
        this.runTop();
        if (onProgress !== undefined && this.processedCount >= nextReport) {
          nextReport = this.processedCount + every;
          onProgress({ now: this.currentTime, processed: this.processedCount, pending: this.liveCount });
        }
        if (this.stopRequested || this.processedCount >= last) {
          this.stopRequested = false;
          return this.processedCount - start;
        }
      }
      if (time !== Infinity) this.currentTime = time;
      return this.processedCount - start;
    } finally {
      this.running = false;
    }
  }

  /** Makes the running {@link runUntil} return after the current event (for "stop when X happens"). */
  stop(): void {
    this.stopRequested = true;
  }

  // ---- internals ------------------------------------------------------------------------------

  private enter(): void {
    if (this.running) throw new Error('EventQueue.runNext/runUntil called from inside an event');
    this.running = true;
  }

  /** Takes a slot (from the free list, else a new one) and pushes the entry on the heap. */
  private add(time: number, fn: AnyCall, arg: unknown, rank = this.nextSeq++ * this.rankStride + this.rankOffset): EventId {
    let slot: number;
    if (this.freeCount > 0) {
      slot = this.freeSlots[--this.freeCount]!;
      this.slotFn[slot] = fn;
      this.slotArg[slot] = arg;
    } else {
      slot = this.slotFn.length;
      if (slot >= SLOT_LIMIT) throw new RangeError(`more than ${SLOT_LIMIT} pending events`);
      if (slot === this.slotGen.length) this.growSlots();
      this.slotFn.push(fn);
      this.slotArg.push(arg);
    }
    const gen = (this.slotGen[slot]! + 1) & GEN_MASK;
    this.slotGen[slot] = gen;
    this.liveCount++;
    this.push(slot, time, rank);
    return gen * SLOT_LIMIT + slot;
  }

  private clampTime(at: number): number {
    if (at >= this.currentTime) {
      if (at === Infinity) throw new RangeError('cannot schedule at Infinity');
      return at;
    }
    if (Number.isNaN(at)) throw new RangeError('cannot schedule at NaN');
    return this.currentTime;
  }

  /** Pops cancelled entries off the top. True if a live event is now on top. */
  private dropDeadTop(): boolean {
    while (this.count > 0) {
      if (this.slotFn[this.heapSlots[0]!] !== null) return true;
      this.popTop();
    }
    return false;
  }

  /** Pops the (live) top event, frees its slot and runs it. */
  private runTop(): void {
    const time = this.keys[0]!;
    const slot = this.popTop();
    const fn = this.slotFn[slot]!;
    const arg = this.slotArg[slot];
    this.slotFn[slot] = null;
    this.slotArg[slot] = undefined;
    this.liveCount--;
    this.currentTime = time;
    this.processedCount++;
    fn(arg);
  }

  /** Removes the top entry and returns its slot, which goes back to the free list. */
  private popTop(): number {
    const keys = this.keys;
    const heapSlots = this.heapSlots;
    const slot = heapSlots[0]!;
    this.freeSlots[this.freeCount++] = slot;
    const n = --this.count;
    if (n > 0) this.siftDown(0, heapSlots[n]!, keys[2 * n]!, keys[2 * n + 1]!);
    return slot;
  }

  private push(slot: number, time: number, seq: number): void {
    if (this.count === this.heapSlots.length) this.growHeap();
    const keys = this.keys;
    const heapSlots = this.heapSlots;
    let i = this.count++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = keys[2 * parent]!;
      if (pt < time || (pt === time && keys[2 * parent + 1]! < seq)) break;
      keys[2 * i] = pt;
      keys[2 * i + 1] = keys[2 * parent + 1]!;
      heapSlots[i] = heapSlots[parent]!;
      i = parent;
    }
    keys[2 * i] = time;
    keys[2 * i + 1] = seq;
    heapSlots[i] = slot;
  }

  /** Places the entry (`slot`, `time`, `seq`) into the hole at `i`, moving smaller children up. */
  private siftDown(i: number, slot: number, time: number, seq: number): void {
    const keys = this.keys;
    const heapSlots = this.heapSlots;
    const n = this.count;
    const half = n >> 1; // entries below `half` have at least one child
    while (i < half) {
      let child = 2 * i + 1;
      let ct = keys[2 * child]!;
      let cs = keys[2 * child + 1]!;
      const right = child + 1;
      if (right < n) {
        const rt = keys[2 * right]!;
        if (rt < ct || (rt === ct && keys[2 * right + 1]! < cs)) {
          child = right;
          ct = rt;
          cs = keys[2 * right + 1]!;
        }
      }
      if (time < ct || (time === ct && seq < cs)) break;
      keys[2 * i] = ct;
      keys[2 * i + 1] = cs;
      heapSlots[i] = heapSlots[child]!;
      i = child;
    }
    keys[2 * i] = time;
    keys[2 * i + 1] = seq;
    heapSlots[i] = slot;
  }

  /** Drops cancelled entries (freeing their slots) and rebuilds the heap in O(n). */
  private compact(): void {
    const keys = this.keys;
    const heapSlots = this.heapSlots;
    let w = 0;
    for (let r = 0; r < this.count; r++) {
      const slot = heapSlots[r]!;
      if (this.slotFn[slot] !== null) {
        heapSlots[w] = slot;
        keys[2 * w] = keys[2 * r]!;
        keys[2 * w + 1] = keys[2 * r + 1]!;
        w++;
      } else {
        this.freeSlots[this.freeCount++] = slot;
      }
    }
    this.count = w;
    for (let i = (w >> 1) - 1; i >= 0; i--) this.siftDown(i, heapSlots[i]!, keys[2 * i]!, keys[2 * i + 1]!);
  }

  private growHeap(): void {
    const cap = this.heapSlots.length * 2;
    const keys = new Float64Array(2 * cap);
    keys.set(this.keys);
    this.keys = keys;
    const heapSlots = new Int32Array(cap);
    heapSlots.set(this.heapSlots);
    this.heapSlots = heapSlots;
  }

  private growSlots(): void {
    const cap = this.slotGen.length * 2;
    const gen = new Int32Array(cap);
    gen.set(this.slotGen);
    this.slotGen = gen;
    const free = new Int32Array(cap);
    free.set(this.freeSlots);
    this.freeSlots = free;
  }
}
