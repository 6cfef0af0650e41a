/**
 * Long polling of a group's CRL: a client asks with the sequence it holds and the server answers
 * when the CRL grows past it (a ban or removal) or when the wait is over, so members hear of a
 * revocation within a moment without polling every second. Waiters are bounded; past the bound a
 * request is answered at once, as a plain poll.
 */
export const MAX_CRL_WAIT_SECONDS = 25;
const MAX_WAITERS = 10_000;

type Waiter = (notified: boolean) => void;

export class CrlWatch {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private count = 0;
  private closed = false;

  /**
   * Resolves when the group's CRL (or a member's certificate) changes, with true; after `waitMs`,
   * when `abort` fires or the server closes, with false.
   */
  wait(groupId: string, waitMs: number, abort: AbortSignal): Promise<boolean> {
    if (this.closed || this.count >= MAX_WAITERS || waitMs <= 0 || abort.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      let set = this.waiters.get(groupId);
      if (set === undefined) {
        set = new Set();
        this.waiters.set(groupId, set);
      }
      const group = set;
      const done: Waiter = (notified) => {
        clearTimeout(timer);
        abort.removeEventListener('abort', stop);
        if (group.delete(done)) this.count--;
        if (group.size === 0 && this.waiters.get(groupId) === group) this.waiters.delete(groupId);
        resolve(notified && !this.closed);
      };
      const stop = (): void => done(false);
      const timer = setTimeout(stop, waitMs);
      abort.addEventListener('abort', stop, { once: true });
      group.add(done);
      this.count++;
    });
  }

  /** The group's CRL changed: answer everyone waiting on it. */
  notify(groupId: string): void {
    const set = this.waiters.get(groupId);
    if (set === undefined) return;
    for (const w of [...set]) w(true);
  }

  get waiting(): number {
    return this.count;
  }

  close(): void {
    this.closed = true;
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w(false);
  }
}
