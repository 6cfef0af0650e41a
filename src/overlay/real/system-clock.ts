import type { Clock, TimerHandle } from '../clock.js';

/**
 * The Clock over the global timers, for real runs. Every timer is unref'd: what keeps a real
 * node's process alive is its socket, never an overlay timer, so a node whose socket is closed
 * lets the process exit even if some part forgot to cancel a timer.
 */
export function createSystemClock(): Clock {
  return {
    now: () => Date.now(),
    setTimeout(fn, delayMs): TimerHandle {
      const t = setTimeout(fn, Math.max(0, delayMs));
      t.unref();
      return { cancel: () => clearTimeout(t) };
    },
    setInterval(fn, periodMs): TimerHandle {
      const t = setInterval(fn, Math.max(1, periodMs));
      t.unref();
      return { cancel: () => clearInterval(t) };
    },
  };
}
