import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventQueue, type ScheduledEvent } from '../../src/overlay/sim/event-queue.js';
import { MIN_INTERVAL_MS, SIM_EPOCH_MS, createVirtualClock } from '../../src/overlay/sim/virtual-clock.js';
import { createSeededRandom } from '../../src/overlay/random.js';

test('events run by time, then by insertion order', () => {
  const q = new EventQueue(100);
  const order: string[] = [];
  q.schedule(130, () => order.push('c'));
  q.schedule(110, () => order.push('a1'));
  q.schedule(120, () => order.push('b'));
  q.schedule(110, () => order.push('a2'));
  q.schedule(110, () => {
    order.push('a3');
    // Scheduled "now" from a callback: after everything already due now.
    q.schedule(110, () => order.push('a5'));
    q.schedule(50, () => order.push('a6 (past → now)'));
  });
  q.schedule(110, () => order.push('a4'));
  assert.equal(q.size, 6);
  while (q.runNext());
  assert.deepEqual(order, ['a1', 'a2', 'a3', 'a4', 'a5', 'a6 (past → now)', 'b', 'c']);
  assert.equal(q.processed, 8);
  assert.equal(q.size, 0);
  assert.equal(q.now, 130);
  assert.equal(q.runNext(), false);
});

test('heap order matches a stable sort over many random times, with cancellations', () => {
  const random = createSeededRandom('heap');
  const q = new EventQueue(0);
  const expected: Array<{ time: number; id: number }> = [];
  const seen: number[] = [];
  const handles: ScheduledEvent[] = [];
  for (let id = 0; id < 20_000; id++) {
    // Few distinct times, so ties are common.
    const time = random.int(500);
    handles.push(q.scheduleCall(time, (i: number) => seen.push(i), id));
    expected.push({ time, id });
  }
  const cancelled = new Set<number>();
  for (let k = 0; k < 15_000; k++) {
    const id = random.int(20_000);
    handles[id]!.cancel();
    cancelled.add(id);
  }
  assert.equal(q.size, 20_000 - cancelled.size);
  q.runUntil(1000);
  const want = expected
    .filter((e) => !cancelled.has(e.id))
    .sort((a, b) => a.time - b.time || a.id - b.id)
    .map((e) => e.id);
  assert.deepEqual(seen, want);
});

test('cancel: before running, from inside another callback, of itself, twice', () => {
  const q = new EventQueue();
  const ran: string[] = [];
  const a = q.schedule(10, () => ran.push('a'));
  const c = q.schedule(20, () => ran.push('c'));
  q.schedule(20, () => ran.push('d'));
  const self: ScheduledEvent = q.schedule(15, () => {
    ran.push('b');
    assert.equal(self.pending, false);
    self.cancel(); // already running: no effect
    c.cancel(); // a same-time sibling, cancelled from inside a callback
  });
  a.cancel();
  a.cancel();
  assert.equal(a.pending, false);
  assert.equal(c.pending, true);
  assert.equal(q.size, 3);
  q.runUntil(100);
  assert.deepEqual(ran, ['b', 'd']);
  assert.equal(c.pending, false);
  assert.equal(q.size, 0);
  assert.equal(q.processed, 2);
});

test('post/cancel ids: stale ids never touch a reused slot', () => {
  const q = new EventQueue();
  let hits = 0;
  const first = q.post(5, () => hits++, undefined);
  assert.equal(q.isPending(first), true);
  assert.equal(q.cancel(first), true);
  assert.equal(q.cancel(first), false);
  q.runUntil(10); // frees the slot of `first`
  const second = q.post(20, () => hits++, undefined); // reuses it
  assert.notEqual(second, first);
  assert.equal(q.cancel(first), false);
  assert.equal(q.isPending(second), true);
  assert.equal(q.cancel(-1), false);
  assert.equal(q.cancel(Number.NaN), false);
  q.runUntil(30);
  assert.equal(hits, 1);
  assert.equal(q.isPending(second), false);
});

test('runUntil runs events ≤ time (including new ones), then sets now = time', () => {
  const q = new EventQueue(1000);
  const ran: number[] = [];
  q.schedule(1010, () => {
    ran.push(q.now);
    q.schedule(1020, () => ran.push(q.now)); // due within the window: runs
    q.schedule(1031, () => ran.push(q.now)); // after it: waits
  });
  q.schedule(1030, () => ran.push(q.now)); // exactly at the bound: runs
  assert.equal(q.runUntil(1030), 3);
  assert.deepEqual(ran, [1010, 1020, 1030]);
  assert.equal(q.now, 1030);
  assert.equal(q.size, 1);
  assert.equal(q.nextTime(), 1031);
  assert.equal(q.runUntil(1030), 0);
  assert.equal(q.runUntil(1500), 1);
  assert.equal(q.now, 1500);
  assert.equal(q.nextTime(), Infinity);
  assert.throws(() => q.runUntil(1499), RangeError);
  assert.throws(() => q.schedule(Number.NaN, () => {}), RangeError);
  assert.throws(() => q.schedule(Infinity, () => {}), RangeError);
});

test('runUntil: stop(), progress reports, exceptions leave the queue usable', () => {
  const q = new EventQueue();
  for (let i = 1; i <= 100; i++) q.schedule(i, () => (i === 40 ? q.stop() : undefined));
  const reports: number[] = [];
  assert.equal(q.runUntil(1000, { progressEvery: 25, onProgress: (p) => reports.push(p.processed) }), 40);
  assert.deepEqual(reports, [25]);
  assert.equal(q.now, 40);
  q.schedule(50.5, () => {
    throw new Error('boom');
  });
  assert.throws(() => q.runUntil(1000), /boom/);
  assert.equal(q.now, 50.5);
  assert.equal(q.runUntil(1000), 50);
  assert.equal(q.now, 1000);
  assert.equal(q.size, 0);
  // Not re-entrant: a nested run could move time backwards.
  let nested: unknown;
  q.schedule(1001, () => {
    try {
      q.runUntil(2000);
    } catch (e) {
      nested = e;
    }
  });
  q.runUntil(1001);
  assert.match(String(nested), /inside an event/);
  assert.equal(q.now, 1001);
  assert.equal(q.runNext(), false);
});

test('mass cancellation compacts without losing or reordering live events', () => {
  const q = new EventQueue();
  const seen: number[] = [];
  const handles = Array.from({ length: 10_000 }, (_, i) => q.scheduleCall(10_000 - i, (t: number) => seen.push(t), 10_000 - i));
  for (let i = 0; i < handles.length; i++) if (i % 10 !== 0) handles[i]!.cancel();
  assert.equal(q.size, 1000);
  q.runUntil(20_000);
  assert.equal(seen.length, 1000);
  assert.deepEqual(
    seen,
    [...seen].sort((a, b) => a - b),
  );
});

test('virtual clock: epoch, timeouts, intervals, cancel from inside, activeTimers', () => {
  assert.equal(SIM_EPOCH_MS, Date.UTC(2026, 0, 1));
  const q = new EventQueue({ startTime: SIM_EPOCH_MS });
  const clock = createVirtualClock(q);
  const other = createVirtualClock(q);
  assert.equal(clock.now(), SIM_EPOCH_MS);
  const log: string[] = [];
  const at = (): number => clock.now() - SIM_EPOCH_MS;
  clock.setTimeout(() => log.push(`t100@${at()}`), 100);
  clock.setTimeout(() => log.push(`neg@${at()}`), -5);
  const dropped = clock.setTimeout(() => log.push('never'), 50);
  let ticks = 0;
  const interval = clock.setInterval(() => {
    log.push(`i@${at()}`);
    if (++ticks === 3) interval.cancel(); // from inside its own callback
  }, 40);
  other.setInterval(() => {}, 1000);
  assert.equal(clock.activeTimers(), 4);
  assert.equal(other.activeTimers(), 1);
  dropped.cancel();
  dropped.cancel();
  assert.equal(clock.activeTimers(), 3);
  q.runUntil(SIM_EPOCH_MS + 500);
  assert.deepEqual(log, ['neg@0', 'i@40', 'i@80', 't100@100', 'i@120']);
  assert.equal(clock.activeTimers(), 0);
  assert.equal(other.activeTimers(), 1);
  other.cancelAll();
  assert.equal(other.activeTimers(), 0);
  assert.equal(q.size, 0);
});

test('virtual clock: intervals do not drift, period 0 is clamped, cancelAll from a callback', () => {
  const q = new EventQueue(0);
  const clock = createVirtualClock(q);
  const times: number[] = [];
  clock.setInterval(() => times.push(q.now), 0.3 * 10);
  q.runUntil(30);
  assert.deepEqual(times, [3, 6, 9, 12, 15, 18, 21, 24, 27, 30]);
  let zero = 0;
  clock.setInterval(() => zero++, 0);
  clock.setTimeout(() => clock.cancelAll(), 5.5);
  q.runUntil(100);
  assert.equal(zero, Math.floor(5.5 / MIN_INTERVAL_MS));
  assert.equal(clock.activeTimers(), 0);
  assert.equal(q.size, 0);
});

test('same seed, same run: a randomized timer workload is reproducible', () => {
  const run = (seed: number): string => {
    const random = createSeededRandom(seed);
    const q = new EventQueue(SIM_EPOCH_MS);
    const clocks = Array.from({ length: 20 }, () => createVirtualClock(q));
    const trace: string[] = [];
    const handles = clocks.map((clock, i) =>
      clock.setInterval(() => {
        trace.push(`${i}@${q.now - SIM_EPOCH_MS}`);
        const target = clocks[random.int(clocks.length)]!;
        target.setTimeout(() => trace.push(`t${i}@${q.now - SIM_EPOCH_MS}`), random.int(50));
      }, 10 + random.int(30)),
    );
    q.runUntil(SIM_EPOCH_MS + 2_000);
    for (const h of handles) h.cancel();
    q.runUntil(SIM_EPOCH_MS + 3_000);
    assert.equal(
      clocks.reduce((n, c) => n + c.activeTimers(), 0),
      0,
    );
    return trace.join(',');
  };
  const a = run(42);
  assert.ok(a.length > 1000);
  assert.equal(run(42), a);
  assert.notEqual(run(43), a);
});
