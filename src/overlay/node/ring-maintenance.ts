import { type Address, addAddress, clockwiseDistance, RING_SIZE } from '../address.js';
import type { TimerHandle } from '../clock.js';
import {
  ConnectPurpose,
  type LeaveMessage,
  type PeerRecord,
  RouteMode,
  type StatusMessage,
} from '../wire/messages.js';
import { ConnectionFlag } from './connection-table.js';
import type { NodeContext } from './node-context.js';

export interface RingMaintenanceInit {
  /** Regular status exchange with near neighbours (default 2 min: a safety net, since every change is sent at once). */
  statusIntervalMs: number;
  /** Ring probes toward our own predecessor and successor through the far side (default 2 min: a safety net behind the status exchange; repairs probe at once). */
  ringProbeIntervalMs: number;
  /** Least time between two repair probes of one side (default 5 s): repairs never flood. */
  repairBackoffMs: number;
  /** Join retry while not joined (default 5 s). */
  joinRetryMs: number;
}

/** A second look at the ring this long after a neighbour went away (see scheduleVerify). */
const VERIFY_AFTER_MS = 8_000;

export const defaultRingMaintenanceInit: RingMaintenanceInit = {
  statusIntervalMs: 120_000,
  ringProbeIntervalMs: 120_000,
  repairBackoffMs: 5_000,
  joinRetryMs: 5_000,
};

/**
 * Keeps this node's place in the ring: joining through a bootstrap peer, the k nearest neighbours on
 * each side (learned from neighbours' status lists and from routed probes), repair after failures.
 */
export class RingMaintenance {
  private joinedFlag = false;
  private bootstraps: string[] = [];
  private readonly timers: TimerHandle[] = [];
  private statusSoon: TimerHandle | null = null;
  private joinRetry: TimerHandle | null = null;
  private verifyTimer: TimerHandle | null = null;
  private lastRepair = { left: -Infinity, right: -Infinity };
  private nextToken = 1;

  constructor(
    private readonly ctx: NodeContext,
    private readonly init: RingMaintenanceInit,
  ) {}

  get joined(): boolean {
    return this.joinedFlag;
  }

  start(bootstraps: string[]): void {
    const { clock, random } = this.ctx;
    this.bootstraps = bootstraps;
    if (bootstraps.length === 0) this.joinedFlag = true;
    else this.contactBootstraps();
    const jitter = (ms: number): number => ms * (0.75 + random.float() * 0.5);
    this.timers.push(
      clock.setInterval(() => this.sendStatusToNear(false), jitter(this.init.statusIntervalMs)),
      clock.setInterval(() => this.probeRing(), jitter(this.init.ringProbeIntervalMs)),
    );
    if (!this.joinedFlag) this.startJoinRetries();
  }

  stop(): void {
    this.joinRetry?.cancel();
    this.joinRetry = null;
    this.verifyTimer?.cancel();
    this.verifyTimer = null;
    for (const t of this.timers) t.cancel();
    this.timers.length = 0;
    this.statusSoon?.cancel();
    this.statusSoon = null;
  }

  /** The left and right near neighbours, nearest first, as records to hand to others. */
  neighbourRecords(count: number): { left: PeerRecord[]; right: PeerRecord[] } {
    const { table } = this.ctx;
    return {
      left: table.left(count).map((a) => this.ctx.peerRecord(a)),
      right: table.right(count).map((a) => this.ctx.peerRecord(a)),
    };
  }

  onLinkUp(peer: Address, isBootstrap: boolean): void {
    if (isBootstrap && !this.joinedFlag) this.sendJoinRequest(peer);
    this.recomputeNear();
    if (this.ctx.table.get(peer) !== undefined && this.isNear(peer)) this.sendStatus(peer, true);
  }

  /** A connection went away (already removed from the table); `wasNear` if it was a near neighbour. */
  onLinkDown(wasNear: boolean): void {
    if (this.ctx.table.size === 0 && this.bootstraps.length > 0 && this.joinedFlag) {
      // Cut off from the ring (every connection lost): join again through the bootstrap peers.
      this.joinedFlag = false;
      this.contactBootstraps();
      this.startJoinRetries();
      return;
    }
    const before = this.nearSet();
    this.recomputeNear();
    const { table, k } = this.ctx;
    if (table.left(k).length < k || table.right(k).length < k) this.repair();
    if (wasNear || !sameSet(before, this.nearSet())) {
      this.scheduleStatus();
      if (wasNear) this.scheduleVerify();
    }
  }

  /**
   * After a neighbour went away, probe both sides again a little later: the first repair may have
   * been routed through other nodes that had failed too (a mass failure) and been lost, and a side
   * can look full while a closer live node is still unknown.
   */
  private scheduleVerify(): void {
    if (this.verifyTimer !== null || !this.joinedFlag) return;
    this.verifyTimer = this.ctx.clock.setTimeout(() => {
      this.verifyTimer = null;
      this.probeRing();
    }, VERIFY_AFTER_MS);
  }

  /**
   * A connection attempt failed (often to a neighbour someone listed that has just died): if a side
   * is still short, ask again, through probes and our neighbours' lists.
   */
  onConnectFailed(): void {
    const { table, k } = this.ctx;
    if (!this.joinedFlag || (table.left(k).length >= k && table.right(k).length >= k)) return;
    this.repair();
    this.scheduleStatus();
  }

  onStatus(from: Address, message: StatusMessage): void {
    // Before joining, the only peer is a bootstrap somewhere else on the ring: its lists are not ours.
    if (!this.joinedFlag) return;
    if (message.churn) this.ctx.heardChurn();
    this.learn([...message.left, ...message.right], from);
    if (message.wantReply) this.sendStatus(from, false);
  }

  onLeave(message: LeaveMessage): void {
    this.learn([...message.left, ...message.right]);
  }

  /** A JOIN or NEAR connect-reply reached us: the responder is one of our ring neighbours. */
  onNearReply(responder: PeerRecord, left: PeerRecord[], right: PeerRecord[], purpose: number): void {
    if (purpose === ConnectPurpose.JOIN && !this.joinedFlag) this.markJoined();
    this.learn([responder, ...left, ...right], responder.address);
  }

  /**
   * Consider the peers someone told us about: connect to those that would be among our k nearest
   * on a side, judged together with our connections and with each other (so that a list does not
   * make us link to a peer that a closer one in the same list already pushes out).
   */
  learn(records: PeerRecord[], informant?: Address): void {
    const { table, self, k } = this.ctx;
    // Cheap test first: most records in a neighbour's list are already known or too far away.
    const fresh = records.filter(
      (r) => r.address !== self && r.endpoints.length > 0 && !table.has(r.address) && table.wouldBeNear(r.address, k),
    );
    if (fresh.length === 0) return;
    const nearest = nearestPerSide(self, [...table.structured(), ...fresh.map((r) => r.address)], k);
    const done = new Set<Address>();
    for (const r of fresh) {
      if (!nearest.has(r.address) || done.has(r.address)) continue;
      done.add(r.address);
      this.ctx.connectTo(r, 'near', informant !== undefined && informant !== r.address ? informant : undefined);
    }
  }

  isNear(address: Address): boolean {
    return this.nearSet().has(address);
  }

  /**
   * NEAR flags follow the ring: the k nearest on each side get it, connections beyond k + 1 lose it,
   * and a connection left without any reason is closed.
   */
  recomputeNear(): void {
    const { table, k } = this.ctx;
    // A new link (even a leaf) that would be near becomes structured first, so the ring view sees it.
    for (const c of [...table.all()]) {
      // A bootstrap peer is near only if the join says so (its reply or a status after joining).
      if (!this.joinedFlag && c.flags === ConnectionFlag.LEAF) continue;
      if ((c.flags & ConnectionFlag.NEAR) === 0 && table.wouldBeNear(c.address, k)) {
        table.addFlags(c.address, ConnectionFlag.NEAR);
      }
    }
    const keep = new Set<Address>([...table.left(k + 1), ...table.right(k + 1)]);
    const near = this.nearSet();
    for (const c of [...table.all()]) {
      if (near.has(c.address)) {
        if ((c.flags & ConnectionFlag.NEAR) === 0) table.addFlags(c.address, ConnectionFlag.NEAR);
      } else if ((c.flags & ConnectionFlag.NEAR) !== 0 && !keep.has(c.address)) {
        if (table.clearFlags(c.address, ConnectionFlag.NEAR) === 0) this.ctx.disconnect(c.address, 'no longer a near neighbour');
      }
    }
  }

  private nearSet(): Set<Address> {
    const { table, k } = this.ctx;
    return new Set<Address>([...table.left(k), ...table.right(k)]);
  }

  private startJoinRetries(): void {
    if (this.joinRetry !== null) return;
    this.joinRetry = this.ctx.clock.setInterval(() => {
      if (!this.joinedFlag) this.contactBootstraps();
    }, this.init.joinRetryMs);
  }

  private markJoined(): void {
    this.joinedFlag = true;
    this.joinRetry?.cancel();
    this.joinRetry = null;
    // A bootstrap peer that is in fact a ring neighbour stays, as a near neighbour.
    this.recomputeNear();
    // Other leaf links to bootstrap peers were only for joining.
    for (const c of [...this.ctx.table.all()]) {
      if ((c.flags & ConnectionFlag.LEAF) !== 0 && this.ctx.table.clearFlags(c.address, ConnectionFlag.LEAF) === 0) {
        this.ctx.disconnect(c.address, 'joined the ring; bootstrap link no longer needed');
      }
    }
    this.scheduleStatus();
  }

  private contactBootstraps(): void {
    const leaves = [...this.ctx.table.all()].filter((c) => (c.flags & ConnectionFlag.LEAF) !== 0);
    if (leaves.length > 0) {
      for (const l of leaves) this.sendJoinRequest(l.address);
      return;
    }
    for (const endpoint of this.bootstraps) this.ctx.links.connect(endpoint);
  }

  private sendJoinRequest(via: Address): void {
    this.ctx.route(
      this.ctx.self,
      { type: 'connect-request', token: this.nextToken++, purpose: ConnectPurpose.JOIN, requester: this.ctx.selfRecord(), via },
      { mode: RouteMode.CLOSEST, excludeSource: true, firstHop: via },
    );
  }

  private repair(): void {
    const { table, k, clock } = this.ctx;
    const now = clock.now();
    if (table.left(k).length < k && now - this.lastRepair.left >= this.init.repairBackoffMs) {
      this.lastRepair.left = now;
      this.probeSide('left');
    }
    if (table.right(k).length < k && now - this.lastRepair.right >= this.init.repairBackoffMs) {
      this.lastRepair.right = now;
      this.probeSide('right');
    }
  }

  private probeRing(): void {
    if (!this.joinedFlag || this.ctx.table.structuredCount === 0) return;
    this.probeSide('left');
    this.probeSide('right');
  }

  /**
   * Route a NEAR connect-request to our own predecessor (or successor), entering the ring through a
   * connection away from that side, so the greedy path arrives from the far side and meets any node
   * our neighbours have not told us about.
   */
  private probeSide(side: 'left' | 'right'): void {
    const { table, self, k, random } = this.ctx;
    const structured = table.structured();
    if (structured.length === 0) return;
    const near = new Set(side === 'left' ? table.left(k) : table.right(k));
    const far = structured.filter((a) => !near.has(a));
    const pool = far.length > 0 ? far : structured;
    const firstHop = pool[random.int(pool.length)] as Address;
    const destination = side === 'left' ? addAddress(self, RING_SIZE - 1n) : addAddress(self, 1n);
    this.ctx.route(
      destination,
      { type: 'connect-request', token: this.nextToken++, purpose: ConnectPurpose.NEAR, requester: this.ctx.selfRecord(), via: null },
      { mode: side === 'left' ? RouteMode.PREDECESSOR : RouteMode.SUCCESSOR, excludeSource: true, firstHop },
    );
  }

  private scheduleStatus(): void {
    if (this.statusSoon !== null) return;
    this.statusSoon = this.ctx.clock.setTimeout(() => {
      this.statusSoon = null;
      this.sendStatusToNear(true);
    }, 200);
  }

  private sendStatusToNear(wantReply: boolean): void {
    for (const peer of this.nearSet()) this.sendStatus(peer, wantReply);
  }

  private sendStatus(peer: Address, wantReply: boolean): void {
    const { left, right } = this.neighbourRecords(this.ctx.k + 1);
    this.ctx.sendDirect(peer, { kind: 'status', wantReply, churn: this.ctx.seesChurn(), left, right });
  }
}

/** The addresses among the k nearest clockwise or the k nearest counter-clockwise of `self`. */
export function nearestPerSide(self: Address, addresses: readonly Address[], k: number): Set<Address> {
  const cw = [...new Set(addresses)].filter((a) => a !== self);
  const byCw = cw.map((a) => ({ a, d: clockwiseDistance(self, a) })).sort((x, y) => (x.d < y.d ? -1 : x.d > y.d ? 1 : 0));
  const out = new Set<Address>();
  for (let i = 0; i < Math.min(k, byCw.length); i++) out.add((byCw[i] as { a: Address }).a);
  for (let i = 0; i < Math.min(k, byCw.length); i++) out.add((byCw[byCw.length - 1 - i] as { a: Address }).a);
  return out;
}

function sameSet<T>(a: Set<T>, b: Set<T>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
