/** A cancellable timer returned by {@link Clock}. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * Time as the overlay sees it. The core never calls the global timers or `Date.now()`:
 * real runs pass a system clock, the simulator a virtual one.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (the simulator starts its virtual clock at a fixed date). */
  now(): number;
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
  setInterval(fn: () => void, periodMs: number): TimerHandle;
}
