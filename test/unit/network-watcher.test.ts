import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type NetworkChange, WAKE_GAP_MS, watchNetwork } from '../../src/node-host/network-watcher.js';
import { silentLogger } from '../../src/overlay/log.js';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded) until `seen` holds `n` entries. */
async function until(seen: NetworkChange[], n: number): Promise<void> {
  for (let i = 0; i < 200 && seen.length < n; i++) await tick(5);
}

test('the watcher reports changed addresses, and a poll that comes far too late as a wake from sleep', async () => {
  let wall = 1_000_000;
  let addressesChanged = false;
  const seen: NetworkChange[] = [];
  const w = watchNetwork(
    () => addressesChanged,
    (why) => seen.push(why),
    silentLogger,
    10,
    () => wall,
  );
  try {
    wall += 10;
    await tick(40);
    assert.deepEqual(seen, [], 'nothing changed, polls on time');
    addressesChanged = true;
    await until(seen, 1);
    assert.equal(seen[0], 'addresses');
    addressesChanged = false;
    seen.length = 0;
    wall += WAKE_GAP_MS + 5_000; // the machine slept: the next poll comes 15 s late
    await until(seen, 1);
    assert.deepEqual(seen, ['wake']);
    await tick(40);
    assert.deepEqual(seen, ['wake'], 'a wake is reported once');
  } finally {
    w.stop();
  }
});

test('a failing address read is logged and polling goes on', async () => {
  const warnings: string[] = [];
  const log = { ...silentLogger, warn: (m: string) => warnings.push(m), child: () => log };
  let calls = 0;
  const w = watchNetwork(
    () => {
      calls++;
      throw new Error('EPERM');
    },
    () => assert.fail('no change'),
    log,
    10,
  );
  try {
    for (let i = 0; i < 200 && calls < 3; i++) await tick(5);
    assert.ok(calls >= 3);
    assert.ok(warnings.every((m) => m === 'cannot read the network interfaces'));
  } finally {
    w.stop();
  }
});
