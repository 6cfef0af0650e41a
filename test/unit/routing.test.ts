import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RING_SIZE, addressApprox, clockwiseDistance } from '../../src/overlay/address.js';
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

test('routing on approximate addresses decides exactly as routing on bigints, near ties and the wrap-around included', () => {
  const random = createSeededRandom('approximate routing');
  const randomAddress = (): bigint => {
    let a = 0n;
    for (let i = 0; i < 5; i++) a = (a << 32n) | BigInt(random.int(0x1_0000_0000));
    return a;
  };
  // Addresses that differ only below the 53 bits addressApprox keeps, or sit next to 0 or to
  // one another across the wrap-around, are where an approximation could pick the wrong one.
  const near = (base: bigint): bigint => (base + BigInt(random.int(2_000_001)) - 1_000_000n + RING_SIZE) % RING_SIZE;
  const modes = [RouteMode.EXACT, RouteMode.CLOSEST, RouteMode.PREDECESSOR, RouteMode.SUCCESSOR];
  let compared = 0;
  for (let round = 0; round < 20_000; round++) {
    const clustered = random.int(2) === 0;
    const centre = random.int(4) === 0 ? 0n : randomAddress();
    const pick = (): bigint => (clustered ? near(centre) : randomAddress());
    const self = pick();
    const table = new ConnectionTable(self);
    const count = random.int(30);
    for (let i = 0; i < count; i++) {
      const a = pick();
      if (a !== self) table.upsert(a, 'x:1', ConnectionFlag.NEAR, 0);
    }
    const conns = table.structured();
    assert.deepEqual(table.structuredApprox(), conns.map(addressApprox));
    const destination = random.int(5) === 0 && conns.length > 0 ? (conns[random.int(conns.length)] as bigint) : pick();
    const excluded = random.int(3) === 0 ? self : null;
    const cameFrom = random.int(3) === 0 && conns.length > 0 ? (conns[random.int(conns.length)] as bigint) : null;
    for (const mode of modes) {
      const exact = decideRoute(self, conns, destination, mode, excluded, cameFrom);
      const fast = decideRoute(self, conns, destination, mode, excluded, cameFrom, table.structuredApprox());
      assert.deepEqual(fast, exact);
      compared++;
    }
  }
  assert.equal(compared, 80_000);
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
