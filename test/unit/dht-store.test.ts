import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { checkRecord, createRecord } from '../../src/overlay/dht/dht-record.js';
import { DhtStore } from '../../src/overlay/dht/dht-store.js';
import { generateIdentity } from '../../src/overlay/identity.js';
import { createSeededRandom } from '../../src/overlay/random.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const NOW = Date.UTC(2026, 5, 1);

test('records are signed by their writer and checked at an explicit time', async () => {
  await cryptoReady();
  const writer = generateIdentity(createSeededRandom(1));
  const r = createRecord(writer, enc('k'), enc('v'), 60, NOW);
  assert.deepEqual(checkRecord(r, NOW + 1000), { ok: true });
  assert.deepEqual(checkRecord(r, NOW + 61_000), { ok: false, reason: 'expired' });
  assert.deepEqual(checkRecord(r, NOW - 10 * 60_000), { ok: false, reason: 'issued in the future' });
  const forged = { ...r, value: enc('other') };
  assert.deepEqual(checkRecord(forged, NOW), { ok: false, reason: 'bad signature' });
  const stolen = { ...r, writer: generateIdentity(createSeededRandom(2)).publicKey };
  assert.deepEqual(checkRecord(stolen, NOW), { ok: false, reason: 'bad signature' });
  assert.equal(checkRecord(createRecord(writer, enc('k'), enc('v'), 0, NOW), NOW).ok, false);
});

test('store keeps one slot per writer and value, newer wins, tombstones remove, limits hold', async () => {
  await cryptoReady();
  const a = generateIdentity(createSeededRandom(3));
  const b = generateIdentity(createSeededRandom(4));
  const store = new DhtStore({ maxKeys: 2, maxValuesPerKey: 2 });
  assert.equal(store.put(createRecord(a, enc('k'), enc('1'), 60, NOW)), 'stored');
  assert.equal(store.put(createRecord(b, enc('k'), enc('2'), 60, NOW)), 'stored');
  assert.equal(store.put(createRecord(b, enc('k'), enc('3'), 60, NOW)), 'full', 'values per key are capped');
  assert.equal(store.live(enc('k'), NOW).length, 2);
  const older = createRecord(a, enc('k'), enc('1'), 60, NOW - 5000);
  assert.equal(store.put(older), 'stale');
  assert.equal(store.put(createRecord(a, enc('k'), enc('1'), 60, NOW + 1000, true)), 'stored');
  assert.equal(store.live(enc('k'), NOW + 2000).length, 1, 'a tombstone hides the value');
  assert.equal(store.put(createRecord(a, enc('k2'), enc('x'), 60, NOW)), 'stored');
  assert.equal(store.put(createRecord(a, enc('k3'), enc('x'), 60, NOW)), 'full', 'keys per node are capped');
  assert.equal(store.expire(NOW + 120_000), 3, "two values of k (one a tombstone) and one of k2");
  assert.equal(store.keyCount, 0);
});
