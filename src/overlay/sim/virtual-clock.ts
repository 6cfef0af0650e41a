/**
 * A {@link Clock} over the simulator's shared {@link EventQueue}. Each simulated node gets its own
 * VirtualClock, so the node's timers can be counted ({@link VirtualClock.activeTimers}: a test
 * asserts that a stopped node left none) and dropped at once when the node crashes
 * ({@link ManagedVirtualClock.cancelAll}).
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { EventId, EventQueue } from './event-queue.js';

/**
 * Virtual time 0 of a simulation: 2026-01-01T00:00:00Z, i.e. `Date.UTC(2026, 0, 1)`. A fixed,
 * recent date keeps certificate validity checks and logs meaningful and runs reproducible.
 */
export const SIM_EPOCH_MS = 1_767_225_600_000;

/**
 * Shortest interval period. A period of 0 would run forever without virtual time advancing;
 * 1 ms is the resolution Node's own timers use.
 */
export const MIN_INTERVAL_MS = 1;

export interface VirtualClock extends Clock {
  /** Live timeouts and intervals created through this clock. */
  activeTimers(): number;
}

/** What {@link createVirtualClock} returns: a VirtualClock its owner can also wipe. */
export interface ManagedVirtualClock extends VirtualClock {
  /** Cancels every live timer of this clock (a crashed node's code stops running). */
  cancelAll(): void;
}

/**
 * One timer, and the handle the caller gets. Kept in a doubly linked list per clock (O(1) add and
 * remove, no hashing) so that `cancelAll` can find them. The queue calls the shared
 * `fireTimeout`/`fireInterval` with it, so the only allocation per timeout is this object, and an
 * interval allocates nothing per period.
 */
class Timer implements TimerHandle {
  prev: Timer | null = null;
  next: Timer | null = null;
  /** The queued call, while active. */
  event: EventId = -1;
  active = true;

  constructor(
    readonly clock: ClockImpl,
    readonly fn: () => void,
    /** 0 for a timeout. */
    readonly periodMs: number,
  ) {}

  cancel(): void {
    if (!this.active) return;
    this.clock.queue.cancel(this.event);
    this.clock.unlink(this);
  }
}

function fireTimeout(timer: Timer): void {
  timer.clock.unlink(timer);
  timer.fn();
}

function fireInterval(timer: Timer): void {
  // Re-arm first (from this run's time, so periods do not drift), then call: a callback that
  // cancels its own interval cancels the next run.
  const queue = timer.clock.queue;
  timer.event = queue.post(queue.now + timer.periodMs, fireInterval, timer);
  timer.fn();
}

class ClockImpl implements ManagedVirtualClock {
  private head: Timer | null = null;
  private count = 0;

  constructor(readonly queue: EventQueue) {}

  now(): number {
    return this.queue.now;
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const timer = this.link(new Timer(this, fn, 0));
    timer.event = this.queue.post(this.queue.now + sanitizeDelay(delayMs), fireTimeout, timer);
    return timer;
  }

  setInterval(fn: () => void, periodMs: number): TimerHandle {
    const period = Math.max(MIN_INTERVAL_MS, sanitizeDelay(periodMs));
    const timer = this.link(new Timer(this, fn, period));
    timer.event = this.queue.post(this.queue.now + period, fireInterval, timer);
    return timer;
  }

  activeTimers(): number {
    return this.count;
  }

  cancelAll(): void {
    while (this.head !== null) this.head.cancel();
  }

  private link(timer: Timer): Timer {
    timer.next = this.head;
    if (this.head !== null) this.head.prev = timer;
    this.head = timer;
    this.count++;
    return timer;
  }

  unlink(timer: Timer): void {
    timer.active = false;
    if (timer.prev !== null) timer.prev.next = timer.next;
    else this.head = timer.next;
    if (timer.next !== null) timer.next.prev = timer.prev;
    timer.prev = null;
    timer.next = null;
    this.count--;
  }
}

/** Negative, NaN or non-finite delays behave like 0 (as with Node's timers); the queue then runs it at `now`. */
function sanitizeDelay(ms: number): number {
  return ms > 0 && ms < Infinity ? ms : 0;
}

export function createVirtualClock(queue: EventQueue): ManagedVirtualClock {
  return new ClockImpl(queue);
}
