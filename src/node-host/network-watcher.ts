import type { Logger } from '../overlay/log.js';

/**
 * How often the host's interface addresses are read. A few system calls every 2 s cost nothing,
 * and a change is seen in at most 2 s: the overlay then needs a round trip per peer to roam, well
 * inside the 10 s a person would wait after moving from Wi-Fi to cable or waking from sleep.
 */
export const NETWORK_POLL_MS = 2_000;

/**
 * A poll this much later than due means the process did not run meanwhile: the machine slept (or
 * was suspended). NAT mappings toward this host have likely expired and its network may have
 * changed while the addresses look the same, so a wake counts as a network change.
 */
export const WAKE_GAP_MS = 10_000;

export interface NetworkWatcher {
  stop(): void;
}

export type NetworkChange = 'addresses' | 'wake';

/**
 * Calls `refresh` every `intervalMs` (it re-reads the addresses and says whether they changed) and
 * `onChange` when they did, or when the machine woke from sleep. Polling instead of netlink
 * events: Node has no portable address-change event, and polling also notices a sleep (the poll
 * comes late). `now` is the wall clock (injected for tests).
 */
export function watchNetwork(
  refresh: () => boolean,
  onChange: (why: NetworkChange) => void,
  log: Logger,
  intervalMs = NETWORK_POLL_MS,
  now: () => number = Date.now,
): NetworkWatcher {
  let last = now();
  const timer = setInterval(() => {
    const at = now();
    const woke = at - last > intervalMs + WAKE_GAP_MS;
    last = at;
    let changed: boolean;
    try {
      changed = refresh();
    } catch (error) {
      log.warn('cannot read the network interfaces', { reason: (error as Error).message });
      changed = false;
    }
    if (changed) onChange('addresses');
    else if (woke) onChange('wake');
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
