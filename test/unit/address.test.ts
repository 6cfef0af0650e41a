import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RING_SIZE,
  addressFromBytes,
  addressFromHex,
  addressFromPublicKey,
  addressToBytes,
  addressToHex,
  clockwiseDistance,
  counterClockwiseDistance,
  inClockwiseRange,
  ringDistance,
} from '../../src/overlay/address.js';
import { cryptoReady, signingKeyPairFromSeed } from '../../src/overlay/crypto.js';
import { createSeededRandom } from '../../src/overlay/random.js';

test('address is BLAKE2b-160 of the public key and round-trips through bytes and hex', async () => {
  await cryptoReady();
  const random = createSeededRandom(7);
  const kp = signingKeyPairFromSeed(random.bytes(32));
  const a = addressFromPublicKey(kp.publicKey);
  assert.ok(a >= 0n && a < RING_SIZE);
  assert.equal(addressFromBytes(addressToBytes(a)), a);
  assert.equal(addressFromHex(addressToHex(a)), a);
  assert.equal(addressToHex(a).length, 40);
  assert.equal(addressFromHex('xyz'), null);
  assert.equal(addressFromHex('0'.repeat(41)), null);
});

test('ring distances wrap around', () => {
  const top = RING_SIZE - 1n;
  assert.equal(clockwiseDistance(top, 1n), 2n);
  assert.equal(counterClockwiseDistance(1n, top), 2n);
  assert.equal(ringDistance(top, 1n), 2n);
  assert.equal(ringDistance(1n, top), 2n);
  assert.equal(ringDistance(5n, 5n), 0n);
  assert.ok(inClockwiseRange(0n, top, 2n));
  assert.ok(!inClockwiseRange(2n, top, 2n));
  assert.ok(inClockwiseRange(123n, 9n, 9n), 'start === end covers the whole ring');
});

test('seeded random is deterministic and in range', () => {
  const a = createSeededRandom('seed');
  const b = createSeededRandom('seed');
  for (let i = 0; i < 1000; i++) {
    const x = a.float();
    assert.equal(x, b.float());
    assert.ok(x >= 0 && x < 1);
    const n = a.int(10);
    assert.equal(n, b.int(10));
    assert.ok(Number.isInteger(n) && n >= 0 && n < 10);
  }
  assert.deepEqual(a.bytes(7), b.bytes(7));
});
