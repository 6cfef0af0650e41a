import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RING_SIZE, clockwiseDistance } from '../../src/overlay/address.js';
import { ConnectionFlag, ConnectionTable } from '../../src/overlay/node/connection-table.js';
import { decideRoute } from '../../src/overlay/node/router.js';
import { drawShortcutTarget, estimateNetworkSize } from '../../src/overlay/node/shortcuts.js';
import { createSeededRandom } from '../../src/overlay/random.js';
import { RouteMode } from '../../src/overlay/wire/messages.js';

const step = RING_SIZE / 100n;
const at = (i: number): bigint => (BigInt(i) * step) % RING_SIZE;

test('connection table keeps structured neighbours sorted and answers left/right with wrap-around', () => {
  const t = new ConnectionTable(at(50));
  for (const i of [10, 48, 49, 51, 52, 90]) t.upsert(at(i), `10.0.0.${i}:1`, ConnectionFlag.NEAR, 0);
  t.upsert(at(70), '10.0.0.70:1', ConnectionFlag.LEAF, 0);
  assert.deepEqual(t.left(3), [at(49), at(48), at(10)]);
  assert.deepEqual(t.right(3), [at(51), at(52), at(90)]);
  assert.equal(t.structuredCount, 6, 'leaf-only connections are not part of the ring view');
  assert.equal(t.clearFlags(at(49), ConnectionFlag.NEAR), 0);
  assert.deepEqual(t.left(2), [at(48), at(10)]);
  const wrap = new ConnectionTable(at(1));
  for (const i of [99, 98, 2]) wrap.upsert(at(i), 'x:1', ConnectionFlag.NEAR, 0);
  assert.deepEqual(wrap.left(2), [at(99), at(98)]);
  assert.deepEqual(wrap.right(1), [at(2)]);
});

test('wouldBeNear: closer than the k-th neighbour on its side, or the side is short', () => {
  const t = new ConnectionTable(at(50));
  for (const i of [40, 45, 47, 53, 55, 60]) t.upsert(at(i), 'x:1', ConnectionFlag.NEAR, 0);
  assert.equal(t.wouldBeNear(at(46), 3), true);
  assert.equal(t.wouldBeNear(at(30), 3), false);
  assert.equal(t.wouldBeNear(at(58), 3), true);
  assert.equal(t.wouldBeNear(at(70), 3), false);
  assert.equal(t.wouldBeNear(at(50), 3), false, 'never ourselves');
});

test('greedy routing: exact, closest, predecessor and successor delivery', () => {
  const self = at(10);
  const conns = [at(9), at(11), at(12), at(30), at(60)];
  assert.deepEqual(decideRoute(self, conns, at(58), RouteMode.CLOSEST, null, null), { action: 'forward', nextHop: at(60) });
  assert.deepEqual(decideRoute(self, conns, at(10) + 5n, RouteMode.CLOSEST, null, null), { action: 'deliver' });
  assert.deepEqual(decideRoute(self, conns, at(10) + 5n, RouteMode.EXACT, null, null), { action: 'drop', reason: 'no such node' });
  assert.deepEqual(decideRoute(self, conns, at(30), RouteMode.EXACT, null, null), { action: 'forward', nextHop: at(30) });
  // Predecessor of a point just before 30 is 12 (the last node at or before it), even though 30 is closer.
  assert.deepEqual(decideRoute(self, conns, at(30) - 1n, RouteMode.PREDECESSOR, null, null), { action: 'forward', nextHop: at(12) });
  assert.deepEqual(decideRoute(self, conns, at(13), RouteMode.SUCCESSOR, null, null), { action: 'forward', nextHop: at(30) });
  // The source is excluded even when it is the closest: a join request finds the joiner's neighbour.
  assert.deepEqual(decideRoute(self, conns, self, RouteMode.CLOSEST, self, null), { action: 'forward', nextHop: at(9) });
  assert.deepEqual(decideRoute(self, [], at(3), RouteMode.CLOSEST, self, null), { action: 'drop', reason: 'no connection to route through' });
  // Never straight back where it came from.
  assert.deepEqual(decideRoute(self, conns, at(58), RouteMode.CLOSEST, null, at(60)), { action: 'forward', nextHop: at(30) });
});

test('network size estimate from the near neighbours and harmonic shortcut draws', () => {
  const n = 1000;
  const spacing = RING_SIZE / BigInt(n);
  const self = 500n * spacing;
  const left = [1n, 2n, 3n].map((i) => self - i * spacing);
  const right = [1n, 2n, 3n].map((i) => self + i * spacing);
  assert.equal(estimateNetworkSize(self, left, right), n);
  const random = createSeededRandom(3);
  let nearHalf = 0;
  for (let i = 0; i < 10_000; i++) {
    const d = clockwiseDistance(self, drawShortcutTarget(self, n, random.float()));
    assert.ok(d >= RING_SIZE / BigInt(n) - 1n && d <= RING_SIZE);
    if (d < RING_SIZE / 2n) nearHalf++;
  }
  // Harmonic: P(x < 1/2) = 1 - ln 2 / ln N ≈ 0.9 for N = 1000.
  assert.ok(nearHalf > 8_700 && nearHalf < 9_300, `share in the near half: ${nearHalf}`);
});
