import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_CREDENTIAL_BYTES } from '../../src/overlay/admission.js';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { BoundedMap } from '../../src/overlay/links/bounded-map.js';
import { ContentType, closeBody, decodeContent, keepaliveBody } from '../../src/overlay/links/content-codec.js';
import {
  DATA_HEADER_BYTES,
  MIN_INIT_BYTES,
  PROTOCOL_VERSION,
  PacketType,
  decodePacket,
  encodeInit,
  encodeResp,
  writeDataHeader,
} from '../../src/overlay/links/packet-codec.js';
import { SourceRateLimiter, sourceOf } from '../../src/overlay/links/rate-limiter.js';
import { REPLAY_WINDOW_SIZE, ReplayWindow } from '../../src/overlay/links/replay-window.js';

before(async () => {
  await cryptoReady();
});

const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);
const fakeSign = (): Uint8Array => fill(64, 0x5a);

function sampleInit(credentialLength = 3): Uint8Array {
  return encodeInit(
    {
      senderIndex: 0xdeadbeef,
      ephemeral: fill(32, 1),
      staticKey: fill(32, 2),
      networkId: fill(16, 3),
      timestamp: 1_735_689_600_123,
      credential: fill(credentialLength, 4),
    },
    fakeSign,
  );
}

function sampleResp(credentialLength = 3): Uint8Array {
  return encodeResp(
    { senderIndex: 7, receiverIndex: 0xfffffffe, ephemeral: fill(32, 5), staticKey: fill(32, 6), credential: fill(credentialLength, 8) },
    fakeSign,
  );
}

test('INIT round-trips, is padded to 1200 bytes, and signs everything before the signature', () => {
  let signed: Uint8Array | null = null;
  const bytes = encodeInit(
    { senderIndex: 1, ephemeral: fill(32, 1), staticKey: fill(32, 2), networkId: fill(16, 3), timestamp: 99, credential: fill(10, 4) },
    (s) => {
      signed = Uint8Array.from(s);
      return fakeSign();
    },
  );
  assert.equal(bytes.length, MIN_INIT_BYTES);
  assert.equal(signed!.length, 96 + 10);
  const r = decodePacket(sampleInit());
  assert.ok(r.ok);
  const p = r.value;
  assert.equal(p.type, PacketType.HANDSHAKE_INIT);
  if (p.type !== PacketType.HANDSHAKE_INIT) return;
  assert.equal(p.senderIndex, 0xdeadbeef);
  assert.deepEqual(p.ephemeral, fill(32, 1));
  assert.deepEqual(p.staticKey, fill(32, 2));
  assert.deepEqual(p.networkId, fill(16, 3));
  assert.equal(p.timestamp, 1_735_689_600_123);
  assert.deepEqual(p.credential, fill(3, 4));
  assert.deepEqual(p.signature, fakeSign());
  assert.equal(p.authenticated.length, 96 + 3 + 64);
  // The largest credential still fits the 1200-byte floor.
  assert.equal(sampleInit(MAX_CREDENTIAL_BYTES).length, MIN_INIT_BYTES);
  assert.throws(() => sampleInit(MAX_CREDENTIAL_BYTES + 1), RangeError);
});

test('RESP round-trips and is never larger than any INIT', () => {
  const r = decodePacket(sampleResp());
  assert.ok(r.ok);
  const p = r.value;
  if (p.type !== PacketType.HANDSHAKE_RESP) return assert.fail('not a RESP');
  assert.equal(p.senderIndex, 7);
  assert.equal(p.receiverIndex, 0xfffffffe);
  assert.deepEqual(p.ephemeral, fill(32, 5));
  assert.deepEqual(p.staticKey, fill(32, 6));
  assert.deepEqual(p.credential, fill(3, 8));
  assert.ok(sampleResp(MAX_CREDENTIAL_BYTES).length <= MIN_INIT_BYTES);
});

test('DATA header round-trips with large counters and the key epoch mod 256', () => {
  const bytes = new Uint8Array(DATA_HEADER_BYTES + 20);
  assert.equal(DATA_HEADER_BYTES, 14);
  for (const [epoch, counter] of [
    [0, 0],
    [1, 2 ** 53 - 1],
    [255, 2 ** 32 + 7],
    [256 + 3, 12345],
  ] as const) {
    writeDataHeader(bytes, 0x01020304, epoch, counter);
    const r = decodePacket(bytes);
    assert.ok(r.ok && r.value.type === PacketType.DATA);
    if (!r.ok || r.value.type !== PacketType.DATA) return;
    assert.equal(r.value.receiverIndex, 0x01020304);
    assert.equal(r.value.epoch, epoch % 256);
    assert.equal(bytes[6], epoch % 256, 'the epoch is byte 6');
    assert.equal(r.value.counter, counter);
    assert.equal(r.value.body.length, 20);
  }
  assert.throws(() => writeDataHeader(bytes, 1, 0, 2 ** 53), RangeError);
});

test('malformed packets give typed errors, never exceptions', () => {
  const code = (bytes: Uint8Array): string => {
    const r = decodePacket(bytes);
    assert.ok(!r.ok, 'expected an error');
    assert.ok(!r.ok && r.error.message.length > 0);
    return r.ok ? '' : r.error.code;
  };
  assert.equal(code(new Uint8Array(0)), 'too-short');
  assert.equal(code(Uint8Array.of(PROTOCOL_VERSION)), 'too-short');
  assert.equal(code(Uint8Array.of(2, PacketType.DATA, 0, 0)), 'bad-version');
  assert.equal(code(Uint8Array.of(PROTOCOL_VERSION, 0x7f)), 'unknown-type');
  assert.equal(code(new Uint8Array(70_000).fill(1)), 'too-long');
  assert.equal(code(sampleInit().subarray(0, MIN_INIT_BYTES - 1)), 'too-short');
  const longCred = sampleInit();
  longCred[94] = 0x04; // credential length 1027
  assert.equal(code(longCred), 'credential-too-long');
  const farFuture = sampleInit();
  farFuture[86] = 0xff;
  assert.equal(code(farFuture), 'value-out-of-range');
  assert.equal(code(sampleResp().subarray(0, 100)), 'too-short');
  const respLonger = new Uint8Array(sampleResp().length + 1);
  respLonger.set(sampleResp());
  assert.equal(code(respLonger), 'bad-length');
  const respCred = sampleResp();
  respCred[74] = 0xff;
  assert.equal(code(respCred), 'credential-too-long');
  assert.equal(code(Uint8Array.of(PROTOCOL_VERSION, PacketType.DATA, 0, 0, 0, 1)), 'too-short');
  const hugeCounter = new Uint8Array(DATA_HEADER_BYTES + 1);
  writeDataHeader(hugeCounter, 1, 0xff, 0);
  assert.ok(decodePacket(hugeCounter).ok, 'any epoch byte is well-formed');
  hugeCounter[7] = 0x20; // the u56 counter's top byte: 2^53
  assert.equal(code(hugeCounter), 'value-out-of-range');
});

test('content codec: keepalives, close, payload, and malformed plaintexts', () => {
  const with1 = (type: number, body: Uint8Array): Uint8Array => Uint8Array.of(type, ...body);
  assert.deepEqual(decodeContent(with1(ContentType.KEEPALIVE_PING, keepaliveBody(0xabcdef01))), {
    ok: true,
    value: { type: ContentType.KEEPALIVE_PING, pingId: 0xabcdef01 },
  });
  assert.deepEqual(decodeContent(with1(ContentType.CLOSE, closeBody('bye ✓'))), {
    ok: true,
    value: { type: ContentType.CLOSE, reason: 'bye ✓' },
  });
  const longReason = decodeContent(with1(ContentType.CLOSE, closeBody('x'.repeat(1000))));
  assert.ok(longReason.ok && longReason.value.type === ContentType.CLOSE && longReason.value.reason.length === 200);
  const payload = decodeContent(Uint8Array.of(ContentType.PAYLOAD, 9, 8));
  assert.ok(payload.ok && payload.value.type === ContentType.PAYLOAD);
  for (const bad of [new Uint8Array(0), Uint8Array.of(0x77), Uint8Array.of(ContentType.KEEPALIVE_PONG, 1), Uint8Array.of(ContentType.CLOSE, 0, 5, 65)]) {
    assert.equal(decodeContent(bad).ok, false);
  }
});

test('replay window: each counter once, reordering within 2048 accepted, older refused', () => {
  const w = new ReplayWindow();
  assert.equal(REPLAY_WINDOW_SIZE, 2048);
  assert.ok(w.check(0) && w.commit(0));
  assert.equal(w.check(0), false);
  assert.equal(w.commit(0), false);
  assert.ok(w.commit(5000));
  assert.ok(w.commit(5000 - 2047), 'oldest counter still in the window');
  assert.equal(w.check(5000 - 2048), false, 'just out of the window');
  for (let c = 4999; c > 5000 - 2047; c -= 3) assert.ok(w.commit(c));
  for (let c = 4999; c > 5000 - 2047; c -= 3) assert.equal(w.check(c), false);
  // A jump far ahead clears everything; counters up to 2^53 work.
  assert.ok(w.commit(2 ** 40));
  assert.equal(w.check(5000), false);
  assert.ok(w.commit(2 ** 40 - 1));
  assert.ok(w.commit(2 ** 53 - 1));
  // Sequential and shuffled streams against a set as the model.
  const model = new Set<number>();
  const w2 = new ReplayWindow();
  let highest = -1;
  let seed = 12345;
  for (let i = 0; i < 20_000; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const c = Math.max(0, i - (seed % 3000));
    const expected: boolean = !model.has(c) && !(highest >= 0 && c + REPLAY_WINDOW_SIZE <= highest);
    assert.equal(w2.commit(c), expected, `counter ${c} at step ${i}`);
    if (expected) {
      model.add(c);
      highest = Math.max(highest, c);
    }
  }
});

test('rate limiter: burst, refill, shared overflow bucket, expiry', () => {
  const t0 = 1_000_000;
  const rl = new SourceRateLimiter(20, 20, 3, t0);
  let allowed = 0;
  for (let i = 0; i < 50; i++) if (rl.take('1.1.1.1', t0)) allowed++;
  assert.equal(allowed, 20);
  assert.equal(rl.take('1.1.1.1', t0 + 49), false);
  assert.equal(rl.take('1.1.1.1', t0 + 50), true, 'one token per 50 ms at 20/s');
  assert.ok(rl.take('2.2.2.2', t0) && rl.take('3.3.3.3', t0));
  assert.equal(rl.size, 3);
  // Table full: new sources share one bucket.
  allowed = 0;
  for (let i = 0; i < 100; i++) if (rl.take(`9.9.9.${i}`, t0)) allowed++;
  assert.equal(allowed, 20);
  assert.equal(rl.size, 3);
  rl.expire(t0 + 2_000);
  assert.equal(rl.size, 0, 'refilled buckets are forgotten');
  assert.equal(sourceOf('10.0.0.1:4000'), '10.0.0.1');
  assert.equal(sourceOf('[2001:db8::1]:4000'), '[2001:db8::1]');
});

test('bounded map drops the least recently set entry', () => {
  const m = new BoundedMap<string, number>(2);
  m.set('a', 1);
  m.set('b', 2);
  m.set('a', 3);
  m.set('c', 4);
  assert.equal(m.size, 2);
  assert.equal(m.get('b'), undefined);
  assert.equal(m.get('a'), 3);
  assert.equal(m.get('c'), 4);
});
