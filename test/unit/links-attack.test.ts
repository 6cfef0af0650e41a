import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AdmissionCheck } from '../../src/overlay/admission.js';
import { MAX_CREDENTIAL_BYTES } from '../../src/overlay/admission.js';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { identityFromSeed } from '../../src/overlay/identity.js';
import { createInit } from '../../src/overlay/links/handshake.js';
import { MIN_INIT_BYTES, PacketType } from '../../src/overlay/links/packet-codec.js';
import { createSeededRandom } from '../../src/overlay/random.js';
import { TEST_NETWORK_ID, TestNet, VirtualClock, linkUp, makeLinkNode, makePair, utf8 } from '../helpers/link-test-net.js';

before(async () => {
  await cryptoReady();
});

/** Holds back (drops) the next DATA packet sent toward `to`, so the test can replay it at will. */
function holdBackData(net: TestNet, to: string): { packet: Uint8Array | null } {
  const box: { packet: Uint8Array | null } = { packet: null };
  net.fault = (p) => {
    if (p.to === to && p.bytes[1] === PacketType.DATA && box.packet === null) {
      box.packet = Uint8Array.from(p.bytes);
      return [];
    }
    return undefined;
  };
  return box;
}

test('tampered, truncated, replayed and unknown-index DATA is dropped and counted', () => {
  const { clock, net, a, b } = makePair();
  linkUp(clock, a, b);
  const box = holdBackData(net, b.endpoint);
  a.layer.send(b.address, utf8('genuine'));
  clock.advance(20);
  net.fault = null;
  const packet = box.packet;
  assert.ok(packet !== null);
  const stats = b.layer.stats;
  const inject = (bytes: Uint8Array): void => net.inject(b.endpoint, a.endpoint, bytes);

  // Tag, ciphertext and header (the counter is associated data) tampered: authentication fails,
  // and the forgeries do not move the replay window.
  for (const at of [packet.length - 1, 20, 13]) {
    const t = Uint8Array.from(packet);
    t[at] = (t[at] as number) ^ 0x10; // at 13: counter 1 becomes 17, a counter never used
    inject(t);
  }
  assert.equal(stats.droppedAuthFailed, 3);
  // Truncated: below the header, and below the tag.
  inject(packet.subarray(0, 10));
  inject(packet.subarray(0, 20));
  assert.equal(stats.droppedMalformed, 2);
  // Unknown receiver index.
  const u = Uint8Array.from(packet);
  u[2] = (u[2] as number) ^ 0xff;
  inject(u);
  assert.equal(stats.droppedUnknownSession, 1);
  assert.deepEqual(b.messagesFrom(a.address), [], 'nothing forged got through');

  // The genuine packet, late, is accepted once; its replay is not.
  inject(packet);
  inject(packet);
  assert.deepEqual(b.messagesFrom(a.address), ['genuine']);
  assert.equal(stats.droppedReplayed, 1);
  // A tampered copy of an accepted packet is already caught by the replay window.
  const late = Uint8Array.from(packet);
  late[late.length - 1] = (late[late.length - 1] as number) ^ 0x80;
  inject(late);
  assert.equal(stats.droppedReplayed, 2);

  assert.equal(b.layer.stats.packetsOut, 2, 'only the RESP and the pong of the first ping: no answers to junk');
  assert.deepEqual(b.log.problems, []);
  a.layer.send(b.address, utf8('still fine'));
  clock.advance(20);
  assert.deepEqual(b.messagesFrom(a.address), ['genuine', 'still fine']);
});

test('a tampered or replayed INIT creates no session', () => {
  const { clock, net, a, b } = makePair();
  let init: Uint8Array | null = null;
  net.fault = (p) => {
    if (p.bytes[1] === PacketType.HANDSHAKE_INIT) init = Uint8Array.from(p.bytes);
    return undefined;
  };
  linkUp(clock, a, b);
  net.fault = null;
  assert.ok(init !== null);
  const original: Uint8Array = init;
  const tamper = (...at: number[]): Uint8Array => {
    const t = Uint8Array.from(original);
    for (const i of at) t[i] = (t[i] as number) ^ 0x40;
    return t;
  };
  // Timestamp raised (byte 93 is its low byte), with or without a flipped signature byte: the
  // signature no longer verifies.
  net.inject(b.endpoint, '10.0.0.66:1', tamper(93));
  net.inject(b.endpoint, '10.0.0.66:1', tamper(93, 100));
  assert.equal(b.layer.stats.droppedAuthFailed, 2);
  // Signature flipped, same timestamp: caught earlier as a replay, before any signature check.
  net.inject(b.endpoint, '10.0.0.66:1', tamper(100));
  assert.equal(b.layer.stats.droppedReplayed, 1);
  // The link goes away; the same INIT replayed later must not bring it back.
  b.layer.close(a.address, 'test');
  clock.advance(20);
  net.inject(b.endpoint, '10.0.0.66:1', original);
  assert.equal(b.layer.stats.droppedReplayed, 2);
  assert.equal(b.layer.stats.handshakesCompleted, 1);
  assert.equal(b.eventsOf('up').length, 1);
  assert.equal(b.layer.stateSizes().links, 0);
});

test('an INIT flood from one source is rate-limited while an established link keeps working', () => {
  const clock = new VirtualClock();
  const net = new TestNet(clock);
  const a = makeLinkNode(net, { name: 'a', endpoint: '10.0.0.1:4000' });
  const b = makeLinkNode(net, { name: 'b', endpoint: '10.0.0.2:4000' });
  linkUp(clock, a, b);

  // 300 distinct, validly signed INITs per second from one IP (many ports), for 3 seconds.
  const random = createSeededRandom('flood');
  const floods: Uint8Array[] = [];
  for (let i = 0; i < 900; i++) {
    const identity = identityFromSeed(random.bytes(32));
    floods.push(
      createInit({
        identity,
        networkId: TEST_NETWORK_ID,
        credential: new Uint8Array(0),
        localIndex: i,
        timestamp: clock.now(),
        ephemeralSeed: random.bytes(32),
      }).packet,
    );
  }
  let delivered = 0;
  for (let second = 0; second < 3; second++) {
    for (let i = 0; i < 300; i++) {
      net.inject(b.endpoint, `198.51.100.7:${10_000 + i}`, floods[second * 300 + i] as Uint8Array);
      if (i % 30 === 0) {
        a.layer.send(b.address, utf8(`during flood ${delivered}`));
        delivered++;
      }
      clock.advance(3);
    }
    clock.advance(100);
  }
  clock.advance(50);
  const stats = b.layer.stats;
  // A burst of 20, then 20 per second: 20 + ~3 × 20 accepted at most.
  assert.ok(stats.handshakesCompleted - 1 <= 20 + 3 * 20, `accepted ${stats.handshakesCompleted - 1}`);
  assert.ok(stats.droppedRateLimited >= 900 - 80, `rate-limited ${stats.droppedRateLimited}`);
  assert.equal(stats.droppedRateLimited + stats.handshakesCompleted - 1, 900);
  assert.equal(b.messagesFrom(a.address).length, delivered, 'the established link kept working');
  assert.equal(b.layer.get(a.address)?.endpoint, a.endpoint);
  // A different source is not affected by that one's bucket.
  a.layer.stop();
  const c = makeLinkNode(net, { name: 'c', endpoint: '10.0.0.3:4000' });
  linkUp(clock, c, b);
});

test("the responder's reply is never larger than the request, and junk gets no reply", () => {
  const bigCredential: AdmissionCheck = {
    credential: new Uint8Array(MAX_CREDENTIAL_BYTES).fill(7),
    admit: () => ({ ok: true }),
  };
  const clock = new VirtualClock();
  const net = new TestNet(clock);
  const sizes: { type: number; length: number }[] = [];
  net.fault = (p) => {
    if (p.bytes[1] !== PacketType.DATA) sizes.push({ type: p.bytes[1] as number, length: p.bytes.length });
    return undefined;
  };
  const a = makeLinkNode(net, { name: 'a', endpoint: '10.0.0.1:4000' });
  const b = makeLinkNode(net, { name: 'b', endpoint: '10.0.0.2:4000', admission: bigCredential });
  const c = makeLinkNode(net, { name: 'c', endpoint: '10.0.0.3:4000', admission: bigCredential });
  linkUp(clock, a, b);
  linkUp(clock, c, b);
  const inits = sizes.filter((s) => s.type === PacketType.HANDSHAKE_INIT).map((s) => s.length);
  const resps = sizes.filter((s) => s.type === PacketType.HANDSHAKE_RESP).map((s) => s.length);
  assert.deepEqual(inits, [MIN_INIT_BYTES, MIN_INIT_BYTES]);
  assert.equal(resps.length, 2);
  for (const r of resps) assert.ok(r <= MIN_INIT_BYTES, `RESP of ${r} bytes`);
  assert.equal(resps[0], 140 + MAX_CREDENTIAL_BYTES);

  // Junk of every packet type gets no answer at all.
  const before = b.transport.sent;
  const random = createSeededRandom('junk');
  for (let i = 0; i < 300; i++) {
    const junk = random.bytes(1 + random.int(1400));
    junk[0] = 1;
    junk[1] = 1 + (i % 3);
    net.inject(b.endpoint, `192.0.2.${i % 200}:9`, junk);
  }
  assert.equal(b.transport.sent, before);
});
