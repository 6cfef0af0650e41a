import type { Logger } from '../overlay/log.js';

/**
 * How often the host's interface addresses are read. A few system calls every 2 s cost nothing,
 * and a change is seen in at most 2 s: the overlay then needs a round trip per peer to roam, well
 * inside the 10 s a person would wait after moving from Wi-Fi to cable or waking from sleep.
 */
export const NETWORK_POLL_MS = 2_000;

export interface NetworkWatcher {
  stop(): void;
}

/**
 * Calls `refresh` every `intervalMs` (it re-reads the addresses and says whether they changed) and
 * `onChange` when they did. Polling instead of netlink events: Node has no portable address-change
 * event, and a laptop waking from sleep is caught the same way as a new address.
 */
export function watchNetwork(refresh: () => boolean, onChange: () => void, log: Logger, intervalMs = NETWORK_POLL_MS): NetworkWatcher {
  const timer = setInterval(() => {
    let changed: boolean;
    try {
      changed = refresh();
    } catch (error) {
      log.warn('cannot read the network interfaces', { reason: (error as Error).message });
      return;
    }
    if (changed) onChange();
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
