import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { blake2b, cryptoReady } from '../../src/overlay/crypto.js';
import { MAX_EPOCH_SKIP, PREVIOUS_EPOCH_GRACE_MS } from '../../src/overlay/links/config.js';
import type { Link } from '../../src/overlay/links/link-table.js';
import { PacketType, decodePacket, readDataCounter } from '../../src/overlay/links/packet-codec.js';
import { OpenFailure, Session, type SessionPolicy, nextEpochKey } from '../../src/overlay/links/session.js';
import { createSeededRandom } from '../../src/overlay/random.js';
import { TestNet, VirtualClock, linkUp, makeLinkNode, makePair, utf8 } from '../helpers/link-test-net.js';

before(async () => {
  await cryptoReady();
});

const T0 = 1_000_000;
const isHandshake = (bytes: Uint8Array): boolean =>
  bytes[1] === PacketType.HANDSHAKE_INIT || bytes[1] === PacketType.HANDSHAKE_RESP;
const text = (plain: Uint8Array | number): string =>
  typeof plain === 'number' ? `failure ${plain}` : new TextDecoder().decode(plain.subarray(1));

/** Two ends of one session, built directly (no link layer): `a` sends with the key `b` receives with. */
function sessionPair(policy: Partial<SessionPolicy> = {}) {
  const random = createSeededRandom('session pair');
  const aToB = random.bytes(32);
  const bToA = random.bytes(32);
  const original = { aToB: aToB.slice(), bToA: bToA.slice() };
  const full: SessionPolicy = { encryptPayloads: true, keyUpdateAfterMs: 1e12, keyUpdateAfterMessages: 2 ** 40, ...policy };
  const link = {} as Link;
  const a = new Session(1, 2, { send: aToB, receive: bToA }, T0, true, link, full);
  // Each end owns its key arrays (wiping is in place), as two nodes do.
  const b = new Session(2, 1, { send: bToA.slice(), receive: aToB.slice() }, T0, false, link, full);
  return { a, b, original, live: { aToB, bToA } };
}

const seal = (s: Session, message: string, now = T0): Uint8Array => s.seal(1, utf8(message), now);
const open = (s: Session, packet: Uint8Array, now = T0): Uint8Array | number => s.open(packet, readDataCounter(packet), now);

/** Every byte array a session holds (its keys): what an attacker who dumps its memory finds. */
function keysHeldBy(session: Session): Uint8Array[] {
  return Object.entries(session).flatMap(([name, v]) => (name !== 'link' && v instanceof Uint8Array ? [v] : []));
}
const holds = (session: Session, key: Uint8Array): boolean => keysHeldBy(session).some((k) => k.length === key.length && k.every((x, i) => x === key[i]));

test('the next epoch key is BLAKE2b-256("ringvpn-key-update-v1" ‖ key), one-way and distinct', () => {
  const key = createSeededRandom('kdf').bytes(32);
  const label = new TextEncoder().encode('ringvpn-key-update-v1');
  const expected = blake2b(32, Uint8Array.of(...label, ...key));
  const next = nextEpochKey(key);
  assert.deepEqual(next, expected);
  assert.notDeepEqual(next, key);
  assert.deepEqual(nextEpochKey(key), next, 'deterministic: both ends derive the same key');
  assert.notDeepEqual(nextEpochKey(next), next);
});

test('each direction updates on its own schedule; the epoch is the header byte and the receiver follows', () => {
  const { a, b } = sessionPair({ keyUpdateAfterMs: 1_000, keyUpdateAfterMessages: 3 });
  // By count: 3 messages per epoch (a → b).
  const epochs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const packet = seal(a, `m${i}`);
    epochs.push(packet[6] as number);
    assert.equal(text(open(b, packet)), `m${i}`);
  }
  assert.deepEqual(epochs, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]);
  assert.equal(a.sendEpoch, 3);
  assert.equal(b.receiveEpoch, 3);
  // b → a has not moved: its own counter and clock decide.
  assert.equal(b.sendEpoch, 0);
  assert.equal(a.receiveEpoch, 0);
  // By time: b's first packet after 1 s starts epoch 1; counters keep increasing across epochs.
  const r0 = seal(b, 'r0', T0 + 500);
  const r1 = seal(b, 'r1', T0 + 1_000);
  assert.deepEqual([r0[6], r1[6]], [0, 1]);
  assert.deepEqual([readDataCounter(r0), readDataCounter(r1)], [0, 1]);
  assert.equal(text(open(a, r0, T0 + 1_000)), 'r0');
  assert.equal(text(open(a, r1, T0 + 1_000)), 'r1');
  assert.equal(a.receiveEpoch, 1);
  // The epoch byte wraps at 256 and the receiver keeps up.
  const { a: x, b: y } = sessionPair({ keyUpdateAfterMessages: 1 });
  for (let i = 0; i < 600; i++) assert.equal(text(open(y, seal(x, `w${i}`))), `w${i}`);
  assert.equal(y.receiveEpoch, 599);
  // The replay window spans epochs.
  const replayed = seal(x, 'once');
  assert.equal(text(open(y, replayed)), 'once');
  assert.equal(open(y, replayed), OpenFailure.REPLAYED);
});

test('reordered packets around an epoch change still decrypt, until the grace period ends', () => {
  const { a, b } = sessionPair();
  const e0 = [seal(a, 'e0-a'), seal(a, 'e0-b')];
  a.updateSendKey(T0);
  const e1 = [seal(a, 'e1-a'), seal(a, 'e1-b')];
  // The new epoch arrives first, then the older packets, interleaved.
  const order = [e1[0], e0[1], e1[1], e0[0]] as Uint8Array[];
  assert.deepEqual(
    order.map((p) => text(open(b, p, T0 + 100))),
    ['e1-a', 'e0-b', 'e1-b', 'e0-a'],
  );
  assert.equal(b.receiveEpoch, 1);
  // A late epoch-1 packet after the move to epoch 2, within the grace period: accepted.
  const late = seal(a, 'late');
  a.updateSendKey(T0);
  assert.equal(text(open(b, seal(a, 'e2'), T0 + 200)), 'e2');
  assert.equal(text(open(b, late, T0 + 200 + PREVIOUS_EPOCH_GRACE_MS - 1)), 'late');
  // After the grace period the previous key is wiped (by the tick, or found expired on use).
  const tooLate = seal(a, 'e2 too late');
  a.updateSendKey(T0);
  assert.equal(text(open(b, seal(a, 'e3'), T0 + 300)), 'e3');
  b.expireKeys(T0 + 300 + PREVIOUS_EPOCH_GRACE_MS);
  assert.equal(open(b, tooLate, T0 + 300 + PREVIOUS_EPOCH_GRACE_MS), OpenFailure.REPLAYED);
  // Two epochs back is never accepted.
  const { a: c, b: d } = sessionPair();
  const old = seal(c, 'two back');
  c.updateSendKey(T0);
  assert.equal(text(open(d, seal(c, 'one'))), 'one');
  c.updateSendKey(T0);
  assert.equal(text(open(d, seal(c, 'two'))), 'two');
  assert.equal(open(d, old), OpenFailure.AUTH_FAILED, 'no key is kept for it (nor could one be derived)');
});

test('an unauthenticated packet of a later epoch does not advance the receiver', () => {
  const { a, b } = sessionPair();
  const genuine = seal(a, 'genuine');
  for (const ahead of [1, 2, MAX_EPOCH_SKIP, MAX_EPOCH_SKIP + 1, 100]) {
    const forged = Uint8Array.from(genuine);
    forged[6] = ahead; // the header is associated data: the tag no longer verifies under any key
    assert.equal(open(b, forged), OpenFailure.AUTH_FAILED, `epoch +${ahead}`);
    assert.equal(b.receiveEpoch, 0, `epoch +${ahead} did not move the receiver`);
  }
  // A packet really sealed two epochs ahead, but with its tag flipped.
  const { a: c, b: d } = sessionPair();
  c.updateSendKey(T0);
  c.updateSendKey(T0);
  const twoAhead = seal(c, 'two ahead');
  const tampered = Uint8Array.from(twoAhead);
  tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
  assert.equal(open(d, tampered), OpenFailure.AUTH_FAILED);
  assert.equal(d.receiveEpoch, 0);
  // Nothing moved: the genuine packets still open, and the genuine two-ahead one catches up.
  assert.equal(text(open(b, genuine)), 'genuine');
  assert.equal(text(open(d, twoAhead)), 'two ahead');
  assert.equal(d.receiveEpoch, 2, 'a whole lost epoch is skipped once a packet authenticates');
  // Beyond MAX_EPOCH_SKIP nothing is tried.
  for (let i = 0; i <= MAX_EPOCH_SKIP; i++) c.updateSendKey(T0);
  assert.equal(open(d, seal(c, 'too far')), OpenFailure.AUTH_FAILED);
  assert.equal(d.receiveEpoch, 2);
});

test('after a key update the old key is gone from both ends', () => {
  const { a, b, original, live } = sessionPair();
  assert.ok(holds(a, original.aToB) && holds(b, original.aToB), 'the test sees the keys');
  a.updateSendKey(T0);
  assert.equal(holds(a, original.aToB), false, 'the sender wiped its old send key at once');
  assert.ok(live.aToB.every((x) => x === 0), 'zeroed in place, not just dropped');
  const k1 = nextEpochKey(original.aToB);
  assert.ok(holds(a, k1));
  // The receiver keeps the epoch-0 key only for the grace period after moving to epoch 1.
  assert.equal(text(open(b, seal(a, 'one'), T0)), 'one');
  assert.ok(holds(b, original.aToB));
  b.expireKeys(T0 + PREVIOUS_EPOCH_GRACE_MS);
  assert.equal(holds(b, original.aToB), false, 'the previous key is wiped after the grace period');
  assert.ok(holds(b, k1));
  // And at once when the epoch after arrives: only the current and the previous key remain.
  a.updateSendKey(T0);
  assert.equal(text(open(b, seal(a, 'two'), T0 + 20_000)), 'two');
  a.updateSendKey(T0);
  assert.equal(text(open(b, seal(a, 'three'), T0 + 20_000)), 'three');
  const k2 = nextEpochKey(k1);
  assert.equal(holds(b, k1), false);
  assert.ok(holds(b, k2) && holds(b, nextEpochKey(k2)));
  assert.ok(holds(b, original.bToA), "b's own direction did not update");
  // A dropped session keeps nothing.
  b.wipe();
  assert.ok(keysHeldBy(b).every((k) => k.every((x) => x === 0)));
  assert.equal(holds(b, original.bToA), false);
});

test('traffic flows across hundreds of key updates in both directions with no handshake packet', () => {
  const { clock, net, a, b } = makePair({ init: { rekeyAfterMs: 1_000, rekeyAfterMessages: 3 } });
  linkUp(clock, a, b);
  let handshakePackets = 0;
  const epochChanges = new Map<string, number>();
  const lastEpoch = new Map<string, number>();
  net.fault = (p) => {
    if (isHandshake(p.bytes)) handshakePackets++;
    else if (lastEpoch.get(p.from) !== p.bytes[6]) {
      epochChanges.set(p.from, (epochChanges.get(p.from) ?? 0) + 1);
      lastEpoch.set(p.from, p.bytes[6] as number);
    }
    return undefined;
  };
  const sentBy = { a: [] as string[], b: [] as string[] };
  for (let round = 0; round < 300; round++) {
    for (let i = 0; i < 3; i++) {
      sentBy.a.push(`a${round}.${i}`);
      sentBy.b.push(`b${round}.${i}`);
      assert.ok(a.layer.send(b.address, utf8(`a${round}.${i}`)));
      assert.ok(b.layer.send(a.address, utf8(`b${round}.${i}`)));
    }
    clock.advance(100);
  }
  clock.advance(100);
  assert.deepEqual(b.messagesFrom(a.address), sentBy.a);
  assert.deepEqual(a.messagesFrom(b.address), sentBy.b);
  assert.equal(handshakePackets, 0);
  for (const n of [a, b]) {
    const changes = epochChanges.get(n.endpoint) ?? 0;
    assert.ok(changes > 256, `${n.name} updated its send key ${changes} times (the epoch byte wrapped)`);
    const s = n.layer.stats;
    assert.equal(s.handshakesCompleted, 1);
    assert.equal(s.droppedAuthFailed + s.droppedReplayed + s.droppedUnknownSession + s.droppedMalformed, 0);
    assert.equal(n.eventsOf('up').length, 1);
    assert.equal(n.eventsOf('down').length, 0);
    assert.equal(n.layer.stateSizes().sessions, 1);
    assert.deepEqual(n.log.problems, []);
  }
});

test('reordered and forged packets around an epoch change on a live link', () => {
  const { clock, net, a, b } = makePair({ init: { rekeyAfterMessages: 4 } });
  linkUp(clock, a, b); // a's first ping took counter 0
  const held: Uint8Array[] = [];
  net.fault = (p) => {
    if (p.to === b.endpoint && p.bytes[1] === PacketType.DATA) {
      held.push(Uint8Array.from(p.bytes));
      return [];
    }
    return undefined;
  };
  for (let i = 1; i <= 7; i++) a.layer.send(b.address, utf8(`m${i}`));
  net.fault = null;
  assert.deepEqual(
    held.map((p) => p[6]),
    [0, 0, 0, 1, 1, 1, 1],
  );
  // A forgery of the first packet claiming epoch 2 is refused and moves nothing...
  const forged = Uint8Array.from(held[0] as Uint8Array);
  forged[6] = 2;
  net.inject(b.endpoint, a.endpoint, forged);
  assert.equal(b.layer.stats.droppedAuthFailed, 1);
  // ...so the real packets, delivered newest first, all decrypt (epoch 1, then 0 with the kept key).
  for (const p of [...held].reverse()) net.inject(b.endpoint, a.endpoint, p);
  assert.deepEqual(b.messagesFrom(a.address), ['m7', 'm6', 'm5', 'm4', 'm3', 'm2', 'm1']);
  assert.equal(b.layer.stats.droppedAuthFailed, 1);
  assert.equal(b.layer.stats.droppedReplayed, 0);
  a.layer.send(b.address, utf8('after'));
  clock.advance(20);
  assert.equal(b.messagesFrom(a.address).at(-1), 'after');
});

test('the full re-handshake still happens every handshakeRekeyAfterMs, with key updates between', () => {
  // A short tick: with the default 3 s idle tick the responder's own re-handshake (due 2.5 s later) could start first.
  const { clock, net, a, b } = makePair({ init: { rekeyAfterMs: 1_000, handshakeRekeyAfterMs: 10_000, tickMs: 500 } });
  linkUp(clock, a, b);
  let inits = 0;
  let resps = 0;
  let maxEpoch = 0;
  net.fault = (p) => {
    if (p.bytes[1] === PacketType.HANDSHAKE_INIT) inits++;
    else if (p.bytes[1] === PacketType.HANDSHAKE_RESP) resps++;
    else maxEpoch = Math.max(maxEpoch, p.bytes[6] as number);
    return undefined;
  };
  const expected: string[] = [];
  for (let i = 0; i < 350; i++) {
    expected.push(`m${i}`);
    a.layer.send(b.address, utf8(`m${i}`));
    b.layer.send(a.address, utf8(`r${i}`));
    clock.advance(100);
  }
  clock.advance(100);
  // 35 s: re-handshakes at about 10, 20 and 30 s, each by the session's initiator.
  assert.equal(inits, 3);
  assert.equal(resps, 3);
  assert.ok(maxEpoch >= 8 && maxEpoch <= 10, `epochs restart with each new session (max ${maxEpoch})`);
  assert.deepEqual(b.messagesFrom(a.address), expected);
  assert.equal(a.messagesFrom(b.address).length, 350);
  for (const n of [a, b]) {
    assert.equal(n.layer.stats.handshakesCompleted, 4);
    assert.equal(n.eventsOf('up').length, 1);
    assert.equal(n.eventsOf('down').length, 0);
    assert.equal(n.layer.stats.droppedAuthFailed + n.layer.stats.droppedUnknownSession, 0);
  }
});

test('a clock with fractional milliseconds: handshakes, key updates and re-handshakes work', () => {
  const clock = new VirtualClock(Date.UTC(2025, 0, 1) + 0.375);
  const net = new TestNet(clock, 2.5);
  const init = { rekeyAfterMs: 700.25, handshakeRekeyAfterMs: 4_000.5, tickMs: 333.3 };
  const a = makeLinkNode(net, { name: 'a', endpoint: '10.0.0.1:4000', init });
  const b = makeLinkNode(net, { name: 'b', endpoint: '10.0.0.2:4000', init });
  const timestamps: number[] = [];
  net.fault = (p) => {
    const r = decodePacket(p.bytes);
    if (r.ok && r.value.type === PacketType.HANDSHAKE_INIT) timestamps.push(r.value.timestamp);
    return undefined;
  };
  linkUp(clock, a, b);
  for (let i = 0; i < 200; i++) {
    a.layer.send(b.address, utf8(`m${i}`));
    b.layer.send(a.address, utf8(`r${i}`));
    clock.advance(57.3);
  }
  clock.advance(50);
  assert.equal(b.messagesFrom(a.address).length, 200);
  assert.equal(a.messagesFrom(b.address).length, 200);
  assert.ok(timestamps.length >= 3, `INITs: ${timestamps.length}`);
  for (const t of timestamps) assert.ok(Number.isInteger(t), `INIT timestamp ${t} is whole milliseconds`);
  for (const n of [a, b]) {
    assert.ok(n.layer.stats.handshakesCompleted >= 3);
    assert.deepEqual(n.log.problems, []);
    assert.equal(n.eventsOf('down').length, 0);
  }
});
