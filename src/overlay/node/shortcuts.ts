import { type Address, addAddress, clockwiseDistance, RING_SIZE } from '../address.js';
import type { TimerHandle } from '../clock.js';
import { ConnectPurpose, RouteMode } from '../wire/messages.js';
import { ConnectionFlag } from './connection-table.js';
import type { NodeContext } from './node-context.js';

export interface ShortcutInit {
  /** How often the shortcut count is checked and a missing shortcut is asked for (default 20 s, two requests at most in flight). */
  intervalMs: number;
  /** A shortcut is replaced by a fresh draw after a random time in [min, max] (defaults 20–40 min). */
  minLifetimeMs: number;
  maxLifetimeMs: number;
}

export const defaultShortcutInit: ShortcutInit = {
  intervalMs: 20_000,
  minLifetimeMs: 20 * 60_000,
  maxLifetimeMs: 40 * 60_000,
};

/**
 * Estimates the ring's size from the span of our 2k near neighbours: they are 2k nodes spread evenly
 * over that arc, so N ≈ 2k · RING / span.
 */
export function estimateNetworkSize(self: Address, left: readonly Address[], right: readonly Address[]): number {
  const farLeft = left[left.length - 1];
  const farRight = right[right.length - 1];
  if (farLeft === undefined || farRight === undefined) return left.length + right.length + 1;
  const span = clockwiseDistance(farLeft, farRight);
  if (span === 0n) return left.length + 1;
  const nodes = left.length + right.length;
  return Math.max(nodes + 1, Number((BigInt(nodes) * RING_SIZE) / span));
}

/** Symphony's harmonic draw: a clockwise distance x·RING with density ∝ 1/x on [1/N, 1]. */
export function drawShortcutTarget(self: Address, networkSize: number, u: number): Address {
  const fraction = Math.exp(Math.log(Math.max(2, networkSize)) * (u - 1));
  const scaled = BigInt(Math.floor(fraction * 2 ** 52));
  return addAddress(self, (scaled * RING_SIZE) >> 52n);
}

/** Keeps about log2 N shortcut connections drawn from the harmonic distribution, and refreshes them over time. */
export class Shortcuts {
  private timer: TimerHandle | null = null;
  private readonly pending = new Map<number, number>(); // token -> sent at

  constructor(
    private readonly ctx: NodeContext,
    private readonly init: ShortcutInit,
    private readonly isJoined: () => boolean,
  ) {}

  start(): void {
    const period = this.init.intervalMs * (0.75 + this.ctx.random.float() * 0.5);
    this.timer = this.ctx.clock.setInterval(() => this.tick(), period);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    this.pending.clear();
  }

  networkSize(): number {
    const { table, self, k } = this.ctx;
    return estimateNetworkSize(self, table.left(k), table.right(k));
  }

  /**
   * Shortcuts this node asks for: half of log2 N. Links carry traffic both ways and other nodes'
   * draws land on us about as often, so each node ends up with about log2 N shortcut connections,
   * the Symphony count, at half the links (and keepalives) of drawing log2 N each.
   */
  target(): number {
    const n = this.networkSize();
    return n <= 2 * this.ctx.k + 1 ? 0 : Math.max(1, Math.round(Math.log2(n) / 2));
  }

  owned(): Address[] {
    const out: Address[] = [];
    for (const c of this.ctx.table.all()) if ((c.flags & ConnectionFlag.SHORTCUT) !== 0) out.push(c.address);
    return out;
  }

  /** Whether a connect-reply with this token answers one of our shortcut requests. */
  takeToken(token: number): boolean {
    return this.pending.delete(token);
  }

  /** Called when a connection we asked for as a shortcut is up. */
  adopt(address: Address): void {
    const { table, clock, random } = this.ctx;
    const c = table.get(address);
    if (c === undefined) return;
    table.addFlags(address, ConnectionFlag.SHORTCUT);
    // We asked for it: its lifetime is ours to decide, whoever happened to start the handshake.
    table.clearFlags(address, ConnectionFlag.INBOUND);
    const span = this.init.maxLifetimeMs - this.init.minLifetimeMs;
    c.shortcutExpiresAt = clock.now() + this.init.minLifetimeMs + random.float() * span;
  }

  private tick(): void {
    if (!this.isJoined()) return;
    const { table, clock } = this.ctx;
    const now = clock.now();
    for (const [token, sentAt] of this.pending) if (now - sentAt > 30_000) this.pending.delete(token);
    const owned = this.owned();
    for (const a of owned) {
      const c = table.get(a);
      if (c !== undefined && c.shortcutExpiresAt <= now) this.release(a, 'shortcut refreshed');
    }
    const current = this.owned();
    const target = this.target();
    if (current.length > target) {
      const newest = current.sort((a, b) => (table.get(b)?.since ?? 0) - (table.get(a)?.since ?? 0))[0];
      if (newest !== undefined) this.release(newest, 'more shortcuts than the ring size needs');
    } else {
      for (let missing = target - current.length; missing > 0 && this.pending.size < 2; missing--) this.request();
    }
  }

  private release(address: Address, reason: string): void {
    if (this.ctx.table.clearFlags(address, ConnectionFlag.SHORTCUT) === 0) this.ctx.disconnect(address, reason);
  }

  private request(): void {
    const { self, random, clock } = this.ctx;
    // Random tokens: a peer cannot guess one to slip itself in as our shortcut.
    const token = random.int(0x1_0000_0000);
    this.pending.set(token, clock.now());
    const destination = drawShortcutTarget(self, this.networkSize(), random.float());
    this.ctx.route(
      destination,
      { type: 'connect-request', token, purpose: ConnectPurpose.SHORTCUT, requester: this.ctx.selfRecord(), via: null },
      { mode: RouteMode.CLOSEST, excludeSource: true },
    );
  }
}
