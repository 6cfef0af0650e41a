import type { Clock, TimerHandle } from '../clock.js';

/** Outstanding requests by id, each with a timeout; capped so that no caller can grow it without bound. */
export class RoutedPending<T> {
  private readonly waiting = new Map<number, { timer: TimerHandle; callback: (r: T | null) => void }>();
  private nextId = 1;

  constructor(
    private readonly clock: Clock,
    private readonly capacity: number,
  ) {}

  /** Returns the id to send, or null when too many are outstanding. */
  add(timeoutMs: number, callback: (r: T | null) => void): number | null {
    if (this.waiting.size >= this.capacity) return null;
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0 || 1;
    const timer = this.clock.setTimeout(() => {
      this.waiting.delete(id);
      callback(null);
    }, timeoutMs);
    this.waiting.set(id, { timer, callback });
    return id;
  }

  resolve(id: number, value: T): void {
    const w = this.waiting.get(id);
    if (w === undefined) return;
    this.waiting.delete(id);
    w.timer.cancel();
    w.callback(value);
  }

  clear(): void {
    for (const w of this.waiting.values()) w.timer.cancel();
    this.waiting.clear();
  }
}
