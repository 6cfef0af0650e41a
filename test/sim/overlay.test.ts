import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type CrawlReport, crawlRing } from '../../src/overlay/node/ring-crawl.js';
import { ringConsistency } from '../../src/overlay/sim/ring-check.js';
import { SimOverlay, type SimNode } from '../../src/overlay/sim/sim-overlay.js';

const MINUTE = 60_000;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

async function grow(n: number, seed: string, spreadMs = 20_000): Promise<SimOverlay> {
  const sim = await SimOverlay.create({ seed });
  for (let i = 0; i < n; i++) sim.queue.schedule(sim.now + (i * spreadMs) / n, () => sim.spawn());
  sim.queue.runUntil(sim.now + spreadMs + 2 * MINUTE);
  return sim;
}

function stopAll(sim: SimOverlay): void {
  for (const s of sim.live()) sim.kill(s);
  sim.queue.runUntil(sim.now + MINUTE);
  const timers = sim.nodes.reduce((n, s) => n + s.clock.activeTimers(), 0);
  assert.equal(timers, 0, 'stopped nodes leave no timers behind');
  assert.equal(sim.queue.size, 0, 'nothing left in the event queue');
}

for (const n of [2, 3, 8, 60]) {
  test(`${n} nodes form a consistent ring with working routing, DHT and broadcast`, async () => {
    const sim = await grow(n, `ring-${n}`);
    const live = sim.live();
    assert.equal(ringConsistency(live.map((s) => s.node)), 1);
    for (const s of live) assert.ok(s.node.joined, 'every node joined');

    const results: ({ hops: number } | null)[] = [];
    for (let i = 0; i < 20; i++) {
      const a = live[i % live.length] as SimNode;
      const b = live[(i * 7 + 1) % live.length] as SimNode;
      a.node.ping(b.node.address, 10_000, (r) => results.push(r));
    }
    let got: string[] = [];
    (live[0] as SimNode).node.dht.put(enc('key'), enc('value'), 600, (r) => assert.ok(r.ok, 'put'));
    sim.queue.runUntil(sim.now + 5_000);
    (live[live.length - 1] as SimNode).node.dht.get(enc('key'), (r) => {
      got = r.ok ? r.records.map((x) => new TextDecoder().decode(x.value)) : [];
    });
    let reached = 0;
    for (const s of live) s.node.onBroadcast(3, () => reached++);
    (live[0] as SimNode).node.broadcast.send(3, enc('hello'));
    sim.queue.runUntil(sim.now + 30_000);
    assert.equal(results.length, 20);
    assert.ok(results.every((r) => r !== null), 'every routed ping came back');
    assert.deepEqual(got, ['value']);
    assert.equal(reached, live.length, 'broadcast reaches every node exactly once');
    const duplicates = live.reduce((d, s) => d + s.node.broadcast.duplicates, 0);
    assert.equal(duplicates, 0);
    stopAll(sim);
  });
}

test('DHT create refuses a second writer while the first value lives; remove by the writer', async () => {
  const sim = await grow(20, 'dht-create');
  const [a, b, c] = sim.live() as [SimNode, SimNode, SimNode];
  const outcomes: string[] = [];
  a.node.dht.create(enc('10.254.0.7'), enc('a'), 600, (r) => outcomes.push(`a:${r.ok ? 'ok' : r.status}`));
  sim.queue.runUntil(sim.now + 5_000);
  b.node.dht.create(enc('10.254.0.7'), enc('b'), 600, (r) => outcomes.push(`b:${r.ok ? 'ok' : r.status}`));
  sim.queue.runUntil(sim.now + 5_000);
  a.node.dht.remove(enc('10.254.0.7'), enc('a'), (r) => outcomes.push(`remove:${r.ok ? 'ok' : r.status}`));
  sim.queue.runUntil(sim.now + 5_000);
  c.node.dht.get(enc('10.254.0.7'), (r) => outcomes.push(`get:${r.ok ? r.records.length : r.status}`));
  sim.queue.runUntil(sim.now + 20_000);
  assert.deepEqual(outcomes, ['a:ok', 'b:exists', 'remove:ok', 'get:not-found']);
  stopAll(sim);
});

test('the ring repairs itself after a fifth of the nodes crash at once, and DHT values survive', async () => {
  const sim = await grow(80, 'repair');
  const live = sim.live();
  const keys: Uint8Array[] = [];
  for (let i = 0; i < 20; i++) {
    const key = enc(`k${i}`);
    keys.push(key);
    (live[i] as SimNode).node.dht.put(key, enc(`v${i}`), 3600, () => {});
  }
  sim.queue.runUntil(sim.now + 10_000);
  for (let i = 0; i < live.length; i += 5) sim.kill(live[i] as SimNode);
  sim.queue.runUntil(sim.now + 90_000);
  assert.equal(ringConsistency(sim.live().map((s) => s.node)), 1, 'consistent again within 90 s');
  let found = 0;
  const reader = sim.live()[1] as SimNode;
  for (const key of keys) reader.node.dht.get(key, (r) => (found += r.ok ? 1 : 0));
  sim.queue.runUntil(sim.now + 30_000);
  assert.equal(found, keys.length);
  stopAll(sim);
});

test('an overlay crawl walks the whole ring and finds every node consistent', async () => {
  const sim = await grow(40, 'crawl');
  const live = sim.live();
  let report: CrawlReport | null = null;
  crawlRing((live[3] as SimNode).node, { maxNodes: 1000, timeoutMs: 10_000 }, (r) => (report = r));
  sim.queue.runUntil(sim.now + 5 * MINUTE);
  const r = report as CrawlReport | null;
  assert.ok(r !== null, 'the crawl finished');
  assert.equal(r.complete, true);
  assert.equal(r.visited.length, live.length);
  assert.equal(r.consistent, live.length);
  const sorted = live.map((s) => s.node.address).sort((a, b) => (a < b ? -1 : 1));
  assert.deepEqual([...r.visited].sort((a, b) => (a < b ? -1 : 1)), sorted);
  stopAll(sim);
});

test('same seed, same run: the simulator is deterministic', async () => {
  const once = async (): Promise<unknown> => {
    const sim = await grow(25, 'determinism', 10_000);
    const out = sim.live().map((s) => [s.node.address.toString(16), s.node.leftNeighbours(3).map(String), s.node.rightNeighbours(3).map(String), s.node.table.size]);
    const counters = { sent: sim.network.sent, events: sim.queue.processed };
    stopAll(sim);
    return { out, counters };
  };
  assert.deepEqual(await once(), await once());
});
