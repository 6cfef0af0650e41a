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
  assert.deepEqual(a.eventsOf('down'), [{ kind: 'down', peer: b.address, reason: 'peer stopped answering' }]);
  assert.ok(downAt - lastHeard >= 25_000, `not before deadAfterMs (${downAt - lastHeard})`);
  assert.ok(downAt - lastHeard <= 25_000 + 1_000 + 100, `within deadAfterMs + one tick (${downAt - lastHeard})`);
  // Keepalive at 15 s then re-pings every 2 s: about 6 pings before giving up.
  const pings = a.transport.sent - sentBefore;
  assert.ok(pings >= 5 && pings <= 8, `pings sent: ${pings}`);
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

test('rekey by time keeps traffic flowing with no down or up events', () => {
  const { clock, a, b } = makePair({ init: { rekeyAfterMs: 5_000 } });
  linkUp(clock, a, b);
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
  for (const n of [a, b]) {
    assert.equal(n.eventsOf('up').length, 1, `${n.name}: only the first up`);
    assert.equal(n.eventsOf('down').length, 0);
    assert.ok(n.layer.stats.handshakesCompleted >= 7, `${n.name} rekeyed: ${n.layer.stats.handshakesCompleted}`);
    assert.ok(n.layer.stateSizes().sessions <= 3);
    assert.equal(n.layer.stats.droppedUnknownSession + n.layer.stats.droppedAuthFailed, 0);
  }
});

test('rekey by message count, with lost handshakes: sends queue, then flow in order', () => {
  const { clock, net, a, b } = makePair({ init: { rekeyAfterMessages: 20 } });
  linkUp(clock, a, b);
  let blockHandshakes = true;
  net.fault = (p) => (blockHandshakes && isHandshake(p.bytes) ? [] : undefined);
  const expected: string[] = [];
  for (let i = 0; i < 40; i++) {
    expected.push(`m${i}`);
    assert.ok(a.layer.send(b.address, utf8(`m${i}`)));
  }
  clock.advance(50);
  // The first session sends up to 1.5 × rekeyAfterMessages (the ping took one); the rest waits.
  assert.equal(b.messagesFrom(a.address).length, 29);
  assert.equal(a.layer.stateSizes().queuedPayloads, 11);
  blockHandshakes = false;
  clock.advance(2_000);
  assert.deepEqual(b.messagesFrom(a.address), expected);
  assert.equal(a.layer.stateSizes().queuedPayloads, 0);
  assert.equal(a.eventsOf('down').length + b.eventsOf('down').length, 0);
  assert.equal(a.eventsOf('up').length, 1);
});

test('send queue overflow closes the link and counts droppedQueueFull', () => {
  const { clock, net, a, b } = makePair({ init: { rekeyAfterMessages: 10, maxQueuedPerPeer: 4 } });
  linkUp(clock, a, b);
  net.fault = (p) => (isHandshake(p.bytes) ? [] : undefined);
  const results: boolean[] = [];
  for (let i = 0; i < 20; i++) results.push(a.layer.send(b.address, utf8(`m${i}`)));
  // 14 sent on the first session (15 with the ping), 4 queued, the 19th overflows.
  assert.deepEqual(results, [...Array<boolean>(18).fill(true), false, false]);
  assert.equal(a.layer.stats.droppedQueueFull, 1);
  assert.deepEqual(a.eventsOf('down'), [{ kind: 'down', peer: b.address, reason: 'send queue overflow' }]);
  assert.equal(a.layer.stateSizes().links, 0);
});
