import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { PacketType } from '../../src/overlay/links/packet-codec.js';
import { TestNet, VirtualClock, linkUp, makeLinkNode, makePair, utf8 } from '../helpers/link-test-net.js';

before(async () => {
  await cryptoReady();
});

const isHandshake = (bytes: Uint8Array): boolean =>
  bytes[1] === PacketType.HANDSHAKE_INIT || bytes[1] === PacketType.HANDSHAKE_RESP;

test('a silent peer goes down within deadAfterMs plus one tick, after keepalives', () => {
  const { clock, a, b } = makePair();
  linkUp(clock, a, b);
  clock.advance(10_000);
  b.layer.stop(); // b goes silent (crashed, unplugged)
  const lastHeard = a.layer.get(b.address)?.lastReceivedAt ?? 0;
  const sentBefore = a.transport.sent;
  let downAt = -1;
  while (downAt < 0 && clock.now() < lastHeard + 60_000) {
    clock.advance(100);
    if (a.eventsOf('down').length > 0) downAt = clock.now();
  }
  assert.deepEqual(a.eventsOf('down'), [{ kind: 'down', peer: b.address, reason: 'peer stopped answering', timedOut: true }]);
  assert.ok(downAt - lastHeard >= 30_000, `not before deadAfterMs (${downAt - lastHeard})`);
  assert.ok(downAt - lastHeard <= 30_000 + 3_000 + 100, `within deadAfterMs + one idle tick (3 s) (${downAt - lastHeard})`);
  // Keepalive at 20 s, then a re-ping at each (idle, 3 s) tick: 3 to 6 pings before giving up.
  const pings = a.transport.sent - sentBefore;
  assert.ok(pings >= 3 && pings <= 8, `pings sent: ${pings}`);
  assert.equal(a.layer.stateSizes().sessions, 0);
});

test('an idle but alive link stays up on keepalives alone, with an RTT', () => {
  const { clock, a, b } = makePair({ delayMs: 20 });
  linkUp(clock, a, b);
  clock.advance(120_000);
  assert.equal(a.eventsOf('down').length + b.eventsOf('down').length, 0);
  assert.equal(a.layer.get(b.address)?.rttMs, 40);
  assert.equal(b.layer.get(a.address)?.rttMs, 40);
});

test('handshake retries, then connect-failed toward a dead endpoint', () => {
  const clock = new VirtualClock();
  const net = new TestNet(clock);
  const a = makeLinkNode(net, { name: 'a', endpoint: '10.0.0.1:4000' });
  const start = clock.now();
  a.layer.connect('10.0.0.99:4000');
  let failedAt = -1;
  while (failedAt < 0 && clock.now() < start + 20_000) {
    clock.advance(100);
    if (a.eventsOf('connect-failed').length > 0) failedAt = clock.now();
  }
  const failed = a.eventsOf('connect-failed');
  assert.equal(failed.length, 1);
  assert.equal(failed[0]?.endpoint, '10.0.0.99:4000');
  assert.equal(failed[0]?.expectedPeer, null);
  assert.match(failed[0]?.reason ?? '', /no answer after 5 handshake attempts/);
  assert.equal(a.transport.sent, 5, 'five INITs, no more');
  assert.ok(failedAt - start >= 5_000 && failedAt - start <= 6_100, `gave up at ${failedAt - start} ms`);
  assert.equal(a.layer.stateSizes().pendingHandshakes, 0);
});

test('a lost RESP is answered again from the cache, without a second session', () => {
  const { clock, net, a, b } = makePair();
  let respsDropped = 0;
  net.fault = (p) => (p.bytes[1] === PacketType.HANDSHAKE_RESP && respsDropped++ < 2 ? [] : undefined);
  a.layer.connect(b.endpoint, b.address);
  clock.advance(3_000);
  assert.equal(a.eventsOf('up').length, 1);
  assert.equal(b.eventsOf('up').length, 1);
  assert.equal(b.layer.stats.handshakesCompleted, 1, 'the retransmitted INITs created no new session');
  assert.equal(b.layer.stateSizes().sessions, 1);
  a.layer.send(b.address, utf8('hello'));
  clock.advance(20);
  assert.deepEqual(b.messagesFrom(a.address), ['hello']);
});

test('key updates by time keep traffic flowing with no handshake and no down or up events', () => {
  const { clock, net, a, b } = makePair({ init: { rekeyAfterMs: 5_000 } });
  linkUp(clock, a, b);
  let handshakePackets = 0;
  const epochChanges = new Map<string, number>();
  const lastEpoch = new Map<string, number>();
  net.fault = (p) => {
    if (isHandshake(p.bytes)) handshakePackets++;
    else if (lastEpoch.get(p.from) !== p.bytes[6]) {
      if (lastEpoch.has(p.from)) epochChanges.set(p.from, (epochChanges.get(p.from) ?? 0) + 1);
      lastEpoch.set(p.from, p.bytes[6] as number);
    }
    return undefined;
  };
  const expected: string[] = [];
  for (let i = 0; i < 400; i++) {
    expected.push(`m${i}`);
    assert.ok(a.layer.send(b.address, utf8(`m${i}`)));
    b.layer.send(a.address, utf8(`r${i}`));
    clock.advance(100);
  }
  clock.advance(100);
  assert.deepEqual(b.messagesFrom(a.address), expected);
  assert.equal(a.messagesFrom(b.address).length, 400);
  assert.equal(handshakePackets, 0, 'key updates send no INIT or RESP');
  for (const n of [a, b]) {
    assert.equal(n.eventsOf('up').length, 1, `${n.name}: only the first up`);
    assert.equal(n.eventsOf('down').length, 0);
    assert.equal(n.layer.stats.handshakesCompleted, 1, `${n.name}: no re-handshake`);
    assert.ok((epochChanges.get(n.endpoint) ?? 0) >= 7, `${n.name} updated its send key ${epochChanges.get(n.endpoint)} times`);
    assert.equal(n.layer.stateSizes().sessions, 1);
    assert.equal(n.layer.stats.droppedUnknownSession + n.layer.stats.droppedAuthFailed + n.layer.stats.droppedReplayed, 0);
  }
});

test('a full re-handshake with lost handshakes: sends queue once the session is spent, then flow in order', () => {
  // Re-handshake due at 2 s; the session stops sending at 3 s (1.5 times).
  const { clock, net, a, b } = makePair({ init: { handshakeRekeyAfterMs: 2_000 } });
  linkUp(clock, a, b);
  let blockHandshakes = true;
  net.fault = (p) => (blockHandshakes && isHandshake(p.bytes) ? [] : undefined);
  a.layer.send(b.address, utf8('early'));
  clock.advance(3_000);
  const expected: string[] = ['early'];
  for (let i = 0; i < 40; i++) {
    expected.push(`m${i}`);
    assert.ok(a.layer.send(b.address, utf8(`m${i}`)));
  }
  clock.advance(50);
  assert.deepEqual(b.messagesFrom(a.address), ['early']);
  assert.equal(a.layer.stateSizes().queuedPayloads, 40);
  blockHandshakes = false;
  clock.advance(2_000);
  assert.deepEqual(b.messagesFrom(a.address), expected);
  assert.equal(a.layer.stateSizes().queuedPayloads, 0);
  assert.equal(a.eventsOf('down').length + b.eventsOf('down').length, 0);
  assert.equal(a.eventsOf('up').length, 1);
  assert.equal(a.layer.stats.handshakesCompleted, 2);
});

test('send queue overflow closes the link and counts droppedQueueFull', () => {
  const { clock, net, a, b } = makePair({ init: { handshakeRekeyAfterMs: 2_000, maxQueuedPerPeer: 4 } });
  linkUp(clock, a, b);
  net.fault = (p) => (isHandshake(p.bytes) ? [] : undefined);
  clock.advance(3_000); // the session is spent and no re-handshake gets through
  const results: boolean[] = [];
  for (let i = 0; i < 8; i++) results.push(a.layer.send(b.address, utf8(`m${i}`)));
  // 4 queued, the 5th overflows, then there is no link.
  assert.deepEqual(results, [true, true, true, true, false, false, false, false]);
  assert.equal(a.layer.stats.droppedQueueFull, 1);
  assert.deepEqual(a.eventsOf('down'), [{ kind: 'down', peer: b.address, reason: 'send queue overflow', timedOut: false }]);
  assert.equal(a.layer.stateSizes().links, 0);
});

test('per-link liveness: a fast link notices a silent peer within its own deadline', () => {
  const { clock, a, b } = makePair();
  linkUp(clock, a, b);
  clock.advance(5_000);
  a.layer.setLiveness(b.address, { keepaliveIdleMs: 1_000, deadAfterMs: 3_000 });
  assert.throws(() => a.layer.setLiveness(b.address, { keepaliveIdleMs: 3_000, deadAfterMs: 1_000 }), RangeError);
  b.layer.stop();
  // The link was already quiet for 5 s: the new deadline counts from when it was set.
  const lastHeard = clock.now();
  let downAt = -1;
  while (downAt < 0 && clock.now() < lastHeard + 30_000) {
    clock.advance(100);
    if (a.eventsOf('down').length > 0) downAt = clock.now();
  }
  assert.deepEqual(a.eventsOf('down'), [{ kind: 'down', peer: b.address, reason: 'peer stopped answering', timedOut: true }]);
  assert.ok(downAt - lastHeard >= 3_000 && downAt - lastHeard <= 4_100, `down after ${downAt - lastHeard} ms`);
});
