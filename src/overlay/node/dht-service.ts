import { type Address, addressForKey, ringDistance } from '../address.js';
import type { TimerHandle } from '../clock.js';
import { checkRecord, createRecord, isTombstone, keyId, recordExpiresAt, recordSlot } from '../dht/dht-record.js';
import { DhtStore, type DhtStoreLimits } from '../dht/dht-store.js';
import {
  type DhtOpValue,
  type DhtRecord,
  type DhtStatusValue,
  DhtOp,
  DhtStatus,
  MAX_DHT_RECORDS_PER_MESSAGE,
  RouteMode,
  type RoutedMessage,
} from '../wire/messages.js';
import type { NodeContext } from './node-context.js';

export interface DhtInit extends DhtStoreLimits {
  /** Replicas per key: the r nodes nearest the key (default 4). */
  replicas: number;
  /** One request's wait for an answer (default 5 s: several overlay hops at up to 300 ms each way). */
  requestTimeoutMs: number;
  /**
   * Tries per request, timeouts and not-found answers included (default 4). Each retry leaves
   * through another connection than the greedy first hop, so it takes another path.
   */
  attempts: number;
  /** A writer re-sends its live records this often (default 5 min), restoring values lost with their replicas. */
  republishIntervalMs: number;
  /** Full replica refresh (default 5 min); changes of the neighbour set replicate at once. */
  refreshIntervalMs: number;
  /** Requests in flight from this node (default 1024); more are refused at once. */
  maxPending: number;
}

export const defaultDhtInit: DhtInit = {
  replicas: 4,
  requestTimeoutMs: 5_000,
  attempts: 4,
  republishIntervalMs: 5 * 60_000,
  refreshIntervalMs: 5 * 60_000,
  maxPending: 1024,
  maxKeys: 20_000,
  maxValuesPerKey: 16,
};

/** A request made before this node has joined the ring waits for the join this long at most. */
const JOIN_WAIT_MS = 15_000;
const JOIN_POLL_MS = 250;

/** Records one node writes and keeps republishing, at most. */
const MAX_OWN_RECORDS = 50_000;

export type DhtResult =
  | { ok: true; records: DhtRecord[] }
  | { ok: false; status: 'not-found' | 'exists' | 'rejected' | 'overloaded' | 'timeout'; records: DhtRecord[] };

type Callback = (result: DhtResult) => void;

interface Pending {
  op: DhtOpValue;
  key: Uint8Array;
  record: DhtRecord | null;
  attempt: number;
  timer: TimerHandle;
  callback: Callback;
}

const STATUS_NAMES: Record<DhtStatusValue, 'not-found' | 'exists' | 'rejected' | 'overloaded' | null> = {
  [DhtStatus.OK]: null,
  [DhtStatus.NOT_FOUND]: 'not-found',
  [DhtStatus.EXISTS]: 'exists',
  [DhtStatus.REJECTED]: 'rejected',
  [DhtStatus.OVERLOADED]: 'overloaded',
};

/** The DHT: client operations, the root's answers, replication on the r nearest nodes, and republishing. */
export class DhtService {
  readonly store: DhtStore;
  private readonly pending = new Map<number, Pending>();
  private readonly own = new Map<string, DhtRecord>();
  /** keyId -> replicas a key's records were last pushed to. */
  private readonly pushedTo = new Map<string, Set<Address>>();
  private readonly timers: TimerHandle[] = [];
  private readonly retries = new Set<TimerHandle>();
  private replicateSoon: TimerHandle | null = null;
  private republishSoon: TimerHandle | null = null;
  private lastFailureRepublish = -Infinity;
  private nextRequestId = 1;
  readonly stats = { rejectedRecords: 0, replicated: 0, served: 0 };

  constructor(
    private readonly ctx: NodeContext,
    private readonly init: DhtInit,
    private readonly joined: () => boolean = () => true,
  ) {
    this.store = new DhtStore(init);
  }

  start(): void {
    const { clock, random } = this.ctx;
    const jitter = (ms: number): number => ms * (0.75 + random.float() * 0.5);
    this.timers.push(
      clock.setInterval(() => this.republish(), jitter(this.init.republishIntervalMs)),
      clock.setInterval(() => {
        this.pushedTo.clear();
        this.replicate();
      }, jitter(this.init.refreshIntervalMs)),
      clock.setInterval(() => this.store.expire(clock.now()), 60_000),
    );
  }

  stop(): void {
    for (const t of this.timers) t.cancel();
    this.timers.length = 0;
    this.replicateSoon?.cancel();
    this.replicateSoon = null;
    this.republishSoon?.cancel();
    this.republishSoon = null;
    for (const p of this.pending.values()) p.timer.cancel();
    this.pending.clear();
    for (const t of this.retries) t.cancel();
    this.retries.clear();
  }

  put(key: Uint8Array, value: Uint8Array, ttlSeconds: number, callback: Callback): void {
    this.write(DhtOp.PUT, createRecord(this.ctx.identity, key, value, ttlSeconds, this.ctx.clock.now()), callback);
  }

  /** Like put, but fails with `exists` when another writer holds a live value (address claims). */
  create(key: Uint8Array, value: Uint8Array, ttlSeconds: number, callback: Callback): void {
    this.write(DhtOp.CREATE, createRecord(this.ctx.identity, key, value, ttlSeconds, this.ctx.clock.now()), callback);
  }

  remove(key: Uint8Array, value: Uint8Array, callback: Callback): void {
    const existing = this.own.get(recordSlot(createRecord(this.ctx.identity, key, value, 1, this.ctx.clock.now())));
    const ttl = existing !== undefined ? Math.max(1, Math.ceil((recordExpiresAt(existing) - this.ctx.clock.now()) / 1000)) : 3600;
    this.write(DhtOp.REMOVE, createRecord(this.ctx.identity, key, value, ttl, this.ctx.clock.now(), true), callback);
  }

  get(key: Uint8Array, callback: Callback): void {
    this.request(DhtOp.GET, key, null, callback);
  }

  /** A dht-request reached us: we are the node closest to the key. */
  onRequest(message: RoutedMessage & { body: { type: 'dht-request' } }): void {
    const { body } = message;
    const now = this.ctx.clock.now();
    let status: DhtStatusValue = DhtStatus.OK;
    let records: DhtRecord[] = [];
    if (body.op === DhtOp.GET) {
      records = this.store.live(body.key, now).slice(0, MAX_DHT_RECORDS_PER_MESSAGE);
      if (records.length === 0) status = DhtStatus.NOT_FOUND;
    } else if (body.record === null || keyId(body.record.key) !== keyId(body.key)) {
      status = DhtStatus.REJECTED;
    } else if ((body.op === DhtOp.REMOVE) !== isTombstone(body.record)) {
      status = DhtStatus.REJECTED;
    } else {
      const record = body.record;
      const others = this.store.live(record.key, now).filter((r) => keyId(r.writer) !== keyId(record.writer));
      if (body.op === DhtOp.CREATE && others.length > 0) {
        status = DhtStatus.EXISTS;
        records = others.slice(0, MAX_DHT_RECORDS_PER_MESSAGE);
      } else if (!this.accept(record, now)) {
        status = DhtStatus.REJECTED;
      } else {
        this.replicateKey(record.key, true);
      }
    }
    this.stats.served++;
    this.ctx.route(message.source, { type: 'dht-response', requestId: body.requestId, status, records }, { mode: RouteMode.EXACT });
  }

  onResponse(requestId: number, status: DhtStatusValue, records: DhtRecord[]): void {
    const p = this.pending.get(requestId);
    if (p === undefined) return;
    const now = this.ctx.clock.now();
    const valid = records.filter((r) => keyId(r.key) === keyId(p.key) && checkRecord(r, now).ok);
    const failure = STATUS_NAMES[status];
    if (failure === 'not-found' && p.attempt < this.init.attempts) {
      // The key's root may have just changed; give replication a moment and ask again.
      p.timer.cancel();
      this.pending.delete(requestId);
      this.retryLater(p, 1_000);
      return;
    }
    p.timer.cancel();
    this.pending.delete(requestId);
    p.callback(failure === null ? { ok: true, records: valid } : { ok: false, status: failure, records: valid });
  }

  /** Records pushed to us by a neighbour that holds a key we are (or will be) a replica of. */
  onReplicate(records: DhtRecord[]): void {
    const now = this.ctx.clock.now();
    for (const r of records) {
      if (this.store.has(r)) continue;
      if (!this.isReplicaFor(addressForKey(r.key), this.init.replicas + 2)) continue;
      if (this.accept(r, now)) this.stats.replicated++;
    }
  }

  /**
   * A near neighbour failed without leaving. It may have held replicas of our own records (and under
   * a mass failure so may the others), so republish them soon, at most once a minute.
   */
  onNeighbourFailed(): void {
    const now = this.ctx.clock.now();
    if (this.republishSoon !== null || now - this.lastFailureRepublish < 60_000 || this.own.size === 0) return;
    this.lastFailureRepublish = now;
    this.republishSoon = this.ctx.clock.setTimeout(() => {
      this.republishSoon = null;
      this.republish();
    }, 15_000);
  }

  /** The neighbour set changed: push keys to replicas that are new, soon. */
  onNeighboursChanged(): void {
    if (this.replicateSoon !== null) return;
    this.replicateSoon = this.ctx.clock.setTimeout(() => {
      this.replicateSoon = null;
      this.replicate();
    }, 500);
  }

  private accept(record: DhtRecord, now: number): boolean {
    const check = checkRecord(record, now);
    if (!check.ok) {
      this.stats.rejectedRecords++;
      return false;
    }
    return this.store.put(record) !== 'full';
  }

  private write(op: DhtOpValue, record: DhtRecord, callback: Callback): void {
    const slot = recordSlot(record);
    if (op === DhtOp.REMOVE) this.own.delete(slot);
    else if (this.own.size >= MAX_OWN_RECORDS && !this.own.has(slot)) {
      callback({ ok: false, status: 'overloaded', records: [] });
      return;
    } else if (op !== DhtOp.CREATE) this.own.set(slot, record);
    // A create becomes ours to republish only once it succeeded: a failed claim must not come back as a put.
    const done: Callback = op === DhtOp.CREATE ? (r) => {
      if (r.ok && this.own.size < MAX_OWN_RECORDS) this.own.set(slot, record);
      callback(r);
    } : callback;
    this.request(op, record.key, record, done);
  }

  private request(op: DhtOpValue, key: Uint8Array, record: DhtRecord | null, callback: Callback, attempt = 1, waitedMs = 0): void {
    if (this.pending.size >= this.init.maxPending || this.retries.size >= this.init.maxPending) {
      callback({ ok: false, status: 'overloaded', records: [] });
      return;
    }
    if (!this.joined() && waitedMs < JOIN_WAIT_MS) {
      // Not in the ring yet: greedy routing from here would not find the key's root.
      const timer = this.ctx.clock.setTimeout(() => {
        this.retries.delete(timer);
        this.request(op, key, record, callback, attempt, waitedMs + JOIN_POLL_MS);
      }, JOIN_POLL_MS);
      this.retries.add(timer);
      return;
    }
    const requestId = this.nextRequestId++ >>> 0;
    const timer = this.ctx.clock.setTimeout(() => {
      const p = this.pending.get(requestId);
      if (p === undefined) return;
      this.pending.delete(requestId);
      if (p.attempt < this.init.attempts) this.request(p.op, p.key, p.record, p.callback, p.attempt + 1);
      else p.callback({ ok: false, status: 'timeout', records: [] });
    }, this.init.requestTimeoutMs);
    this.pending.set(requestId, { op, key, record, attempt, timer, callback });
    const location = addressForKey(key);
    const firstHop = attempt > 1 ? this.detourFirstHop(location) : undefined;
    this.ctx.route(location, { type: 'dht-request', requestId, op, key, record }, { mode: RouteMode.CLOSEST, ...(firstHop !== undefined ? { firstHop } : {}) });
  }

  /**
   * For a retry: a random connection closer to `location` than this node, other than the greedy
   * choice, so that the retry does not follow the path that just failed (a dead hop not yet
   * detected). None when no such connection exists.
   */
  private detourFirstHop(location: Address): Address | undefined {
    const own = ringDistance(this.ctx.self, location);
    let best: Address | undefined;
    let bestDistance = own;
    const closer: Address[] = [];
    for (const c of this.ctx.table.structured()) {
      const d = ringDistance(c, location);
      if (d >= own) continue;
      closer.push(c);
      if (d < bestDistance) {
        bestDistance = d;
        best = c;
      }
    }
    const others = closer.filter((c) => c !== best);
    if (others.length === 0) return undefined;
    return others[this.ctx.random.int(others.length)];
  }

  private retryLater(p: Pending, delayMs: number): void {
    const timer = this.ctx.clock.setTimeout(() => {
      this.retries.delete(timer);
      this.request(p.op, p.key, p.record, p.callback, p.attempt + 1);
    }, delayMs);
    this.retries.add(timer);
  }

  /** The r nodes nearest `location` among us and our structured connections. */
  private replicaSet(location: Address, r: number): Address[] {
    const candidates = [this.ctx.self, ...this.ctx.table.structured()];
    candidates.sort((a, b) => {
      const da = ringDistance(a, location);
      const db = ringDistance(b, location);
      return da < db ? -1 : da > db ? 1 : 0;
    });
    return candidates.slice(0, r);
  }

  private isReplicaFor(location: Address, r: number): boolean {
    return this.replicaSet(location, r).includes(this.ctx.self);
  }

  private replicate(): void {
    for (const entry of [...this.store.entries()]) this.replicateKey(entry.key, false);
  }

  /** Push a key's records to its replicas that do not have them yet; hand off keys we no longer hold. */
  private replicateKey(key: Uint8Array, force: boolean): void {
    const id = keyId(key);
    const location = addressForKey(key);
    const replicas = this.replicaSet(location, this.init.replicas);
    let pushed = this.pushedTo.get(id);
    if (pushed === undefined || force) {
      pushed = new Set();
      this.pushedTo.set(id, pushed);
    }
    const records = this.store.records(key);
    for (const peer of replicas) {
      if (peer === this.ctx.self || pushed.has(peer)) continue;
      pushed.add(peer);
      for (let i = 0; i < records.length; i += 8) {
        this.ctx.sendDirect(peer, { kind: 'dht-replicate', records: records.slice(i, i + 8) });
      }
    }
    if (!replicas.includes(this.ctx.self) && !this.isReplicaFor(location, this.init.replicas + 2)) {
      this.store.deleteKey(key);
      this.pushedTo.delete(id);
    }
  }

  private republish(): void {
    const now = this.ctx.clock.now();
    for (const [slot, record] of this.own) {
      if (recordExpiresAt(record) <= now) {
        this.own.delete(slot);
        continue;
      }
      this.request(DhtOp.PUT, record.key, record, () => {});
    }
  }
}
