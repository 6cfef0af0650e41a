import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cryptoReady } from '../../src/overlay/crypto.js';
import type { AdmissionCheck } from '../../src/overlay/admission.js';
import { TestNet, VirtualClock, linkUp, makeLinkNode, makePair, utf8 } from '../helpers/link-test-net.js';

before(async () => {
  await cryptoReady();
});

test('two nodes link and exchange payloads both ways', () => {
  const { clock, net, a, b } = makePair();
  a.layer.connect(b.endpoint, b.address);
  clock.advance(50);

  const upA = a.eventsOf('up');
  const upB = b.eventsOf('up');
  assert.equal(upA.length, 1);
  assert.equal(upB.length, 1);
  assert.equal(upA[0]?.link.peer, b.address);
  assert.equal(upA[0]?.link.initiator, true);
  assert.equal(upB[0]?.link.peer, a.address);
  assert.equal(upB[0]?.link.initiator, false);
  assert.equal(upB[0]?.link.endpoint, a.endpoint);

  for (let i = 0; i < 20; i++) {
    assert.ok(a.layer.send(b.address, utf8(`a→b ${i}`)));
    assert.ok(b.layer.send(a.address, utf8(`b→a ${i}`)));
  }
  clock.advance(50);
  assert.deepEqual(b.messagesFrom(a.address), Array.from({ length: 20 }, (_, i) => `a→b ${i}`));
  assert.deepEqual(a.messagesFrom(b.address), Array.from({ length: 20 }, (_, i) => `b→a ${i}`));

  // The initiator's first ping gives both an RTT sample (2 × 5 ms one-way delay).
  assert.equal(a.layer.get(b.address)?.rttMs, 10);
  for (const n of [a, b]) {
    const s = n.layer.stats;
    assert.equal(s.handshakesCompleted, 1);
    assert.equal(s.droppedMalformed + s.droppedAuthFailed + s.droppedReplayed + s.droppedUnknownSession, 0);
    assert.deepEqual(n.log.problems, []);
  }
  assert.equal(a.layer.send(0n, utf8('nobody')), false);

  a.layer.stop();
  b.layer.stop();
  clock.advance(100);
  assert.equal(clock.activeTimers, 0, 'stop() leaves no timer behind');
  assert.equal(net.dropped, 0);
  assert.equal(a.layer.get(b.address), undefined, 'stop() forgets the links');
});

test('encryptPayloads=false still links, delivers, and keeps replay protection', () => {
  const { clock, net, a, b } = makePair({ init: { encryptPayloads: false } });
  linkUp(clock, a, b);
  let captured: Uint8Array | null = null;
  net.fault = (p) => {
    if (p.to === b.endpoint && p.bytes[1] === 0x03 && captured === null) captured = p.bytes;
    return undefined;
  };
  a.layer.send(b.address, utf8('clear text'));
  clock.advance(20);
  assert.deepEqual(b.messagesFrom(a.address), ['clear text']);
  assert.ok(captured !== null);
  net.inject(b.endpoint, a.endpoint, captured);
  assert.equal(b.layer.stats.droppedReplayed, 1);
  assert.equal(b.messagesFrom(a.address).length, 1);
});

test('simultaneous open ends with one session and one up event on each side', () => {
  for (const withExpectedPeer of [true, false]) {
    const { clock, a, b } = makePair();
    a.layer.connect(b.endpoint, withExpectedPeer ? b.address : undefined);
    b.layer.connect(a.endpoint, withExpectedPeer ? a.address : undefined);
    clock.advance(3_000);
    for (const [n, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      assert.equal(n.eventsOf('up').length, 1, `${n.name}: one up`);
      assert.equal(n.eventsOf('connect-failed').length, 0);
      const sizes = n.layer.stateSizes();
      assert.equal(sizes.links, 1);
      assert.equal(sizes.sessions, 1, `${n.name}: one session`);
      assert.equal(sizes.pendingHandshakes, 0);
      assert.ok(n.layer.send(peer.address, utf8(`from ${n.name}`)));
    }
    // The handshake initiated by the lower address (a) is the one kept.
    assert.equal(a.layer.get(b.address)?.initiator, true);
    assert.equal(b.layer.get(a.address)?.initiator, false);
    clock.advance(20);
    assert.deepEqual(b.messagesFrom(a.address), ['from a']);
    assert.deepEqual(a.messagesFrom(b.address), ['from b']);
  }
});

test('connect is idempotent and a no-op toward an existing link', () => {
  const { clock, a, b } = makePair();
  a.layer.connect(b.endpoint, b.address);
  a.layer.connect(b.endpoint, b.address);
  a.layer.connect(b.endpoint);
  assert.equal(a.layer.stateSizes().pendingHandshakes, 1);
  clock.advance(50);
  a.layer.connect(b.endpoint, b.address);
  a.layer.connect(b.endpoint);
  clock.advance(50);
  assert.equal(a.layer.stateSizes().pendingHandshakes, 0);
  assert.equal(a.eventsOf('up').length, 1);
  assert.equal(b.eventsOf('up').length, 1);
  a.layer.connect('not an endpoint');
  a.layer.connect(a.endpoint, a.address);
  assert.deepEqual(
    a.eventsOf('connect-failed').map((e) => e.reason),
    ['malformed endpoint', 'cannot link to itself'],
  );
});

test('a peer of another overlay (wrong networkId) is refused', () => {
  const clock = new VirtualClock();
  const net = new TestNet(clock);
  const a = makeLinkNode(net, { name: 'a', endpoint: '10.0.0.1:4000' });
  const b = makeLinkNode(net, { name: 'b', endpoint: '10.0.0.2:4000', init: { networkId: new Uint8Array(16).fill(9) } });
  a.layer.connect(b.endpoint, b.address);
  clock.advance(8_000);
  assert.equal(b.layer.stats.handshakesRefused, 5, 'each of the 5 attempts refused');
  assert.equal(b.transport.sent, 0, 'nothing answered');
  assert.equal(b.eventsOf('up').length, 0);
  assert.equal(a.eventsOf('connect-failed').length, 1);
  assert.equal(a.layer.get(b.address), undefined);
});

test('admission refusal on either side stops the link', () => {
  const refuseAll: AdmissionCheck = { credential: new Uint8Array(0), admit: () => ({ ok: false, reason: 'not a member' }) };
  // Responder refuses: it never answers, the initiator gives up.
  {
    const clock = new VirtualClock();
    const net = new TestNet(clock);
    const a = makeLinkNode(net, { name: 'a', endpoint: '10.0.0.1:4000' });
    const b = makeLinkNode(net, { name: 'b', endpoint: '10.0.0.2:4000', admission: refuseAll });
    a.layer.connect(b.endpoint, b.address);
    clock.advance(8_000);
    assert.ok(b.layer.stats.handshakesRefused >= 1);
    assert.equal(b.transport.sent, 0);
    assert.equal(b.eventsOf('up').length, 0);
    assert.equal(a.eventsOf('connect-failed').length, 1);
  }
  // Initiator refuses the responder's credential: connect-failed at once, with the reason.
  {
    const clock = new VirtualClock();
    const net = new TestNet(clock);
    const a = makeLinkNode(net, { name: 'a', endpoint: '10.0.0.1:4000', admission: refuseAll });
    const b = makeLinkNode(net, { name: 'b', endpoint: '10.0.0.2:4000' });
    a.layer.connect(b.endpoint, b.address);
    clock.advance(50);
    const failed = a.eventsOf('connect-failed');
    assert.equal(failed.length, 1);
    assert.match(failed[0]?.reason ?? '', /refused by admission: not a member/);
    assert.equal(a.layer.stats.handshakesRefused, 1);
    assert.equal(a.layer.get(b.address), undefined);
  }
});

test('a responder that is not the expected peer is refused', () => {
  const clock = new VirtualClock();
  const net = new TestNet(clock);
  const a = makeLinkNode(net, { name: 'a', endpoint: '10.0.0.1:4000' });
  const b = makeLinkNode(net, { name: 'b', endpoint: '10.0.0.2:4000' });
  const c = makeLinkNode(net, { name: 'c', endpoint: '10.0.0.3:4000' });
  a.layer.connect(b.endpoint, c.address);
  clock.advance(50);
  const failed = a.eventsOf('connect-failed');
  assert.equal(failed.length, 1);
  assert.equal(failed[0]?.expectedPeer, c.address);
  assert.match(failed[0]?.reason ?? '', /not the expected peer/);
  assert.equal(a.eventsOf('up').length, 0);
  assert.equal(a.layer.get(b.address), undefined);
  assert.equal(a.layer.stats.handshakesRefused, 1);
});

test('close tells the peer, and both sides go down once', () => {
  const { clock, a, b } = makePair();
  linkUp(clock, a, b);
  a.layer.close(b.address, 'leaving the ring');
  clock.advance(20);
  assert.deepEqual(a.eventsOf('down'), [{ kind: 'down', peer: b.address, reason: 'leaving the ring', timedOut: false }]);
  assert.deepEqual(b.eventsOf('down'), [{ kind: 'down', peer: a.address, reason: 'closed by peer: leaving the ring', timedOut: false }]);
  assert.equal(a.layer.stateSizes().sessions, 0);
  assert.equal(b.layer.stateSizes().sessions, 0);
  assert.equal(a.layer.send(b.address, utf8('late')), false);
});

test('roaming: authenticated DATA from a new endpoint moves the link there', () => {
  const { clock, net, a, b } = makePair();
  linkUp(clock, a, b);
  net.move(b.endpoint, '192.0.2.77:6100');
  b.layer.send(a.address, utf8('from my new network'));
  clock.advance(20);
  assert.deepEqual(a.messagesFrom(b.address), ['from my new network']);
  assert.equal(a.layer.get(b.address)?.endpoint, '192.0.2.77:6100');
  a.layer.send(b.address, utf8('reply'));
  clock.advance(20);
  assert.deepEqual(b.messagesFrom(a.address), ['reply']);
  assert.equal(a.eventsOf('down').length + b.eventsOf('down').length, 0);

  // A replayed (old) packet from yet another address does not move the link.
  let old: Uint8Array | null = null;
  net.fault = (p) => {
    if (p.to === a.endpoint && p.bytes[1] === 0x03) old = p.bytes;
    return undefined;
  };
  b.layer.send(a.address, utf8('one more'));
  clock.advance(20);
  assert.ok(old !== null);
  net.inject(a.endpoint, '203.0.113.9:1', old);
  assert.equal(a.layer.get(b.address)?.endpoint, '192.0.2.77:6100');
  assert.equal(a.layer.stats.droppedReplayed, 1);
});

test('simultaneous open where one INIT went to a dead address still ends with one session', () => {
  const { clock, a, b } = makePair();
  // a (the lower address, whose handshake wins) tries a stale address for b; b tries a's real one.
  a.layer.connect('10.0.0.200:4000', b.address);
  b.layer.connect(a.endpoint, a.address);
  clock.advance(100);
  for (const n of [a, b]) {
    assert.equal(n.eventsOf('up').length, 1, `${n.name}: one up`);
    assert.equal(n.layer.stateSizes().sessions, 1, `${n.name}: one session`);
  }
  assert.equal(a.layer.get(b.address)?.initiator, true);
  assert.equal(a.layer.get(b.address)?.endpoint, b.endpoint);
  clock.advance(10_000);
  // The stale attempt was dropped with the win, so no connect-failed either.
  assert.equal(a.eventsOf('connect-failed').length, 0);
  assert.equal(a.layer.stateSizes().pendingHandshakes, 0);
  a.layer.send(b.address, utf8('ok'));
  clock.advance(20);
  assert.deepEqual(b.messagesFrom(a.address), ['ok']);
});

test('a peer that restarts and reconnects gets a working link; the other side sees no flap', () => {
  const { clock, net, a, b } = makePair();
  linkUp(clock, a, b);
  clock.advance(5_000);
  b.layer.stop();
  b.transport.close();
  const b2 = makeLinkNode(net, { name: 'b2', seed: 'b', endpoint: b.endpoint });
  assert.equal(b2.address, b.address);
  b2.layer.connect(a.endpoint, a.address);
  clock.advance(100);
  assert.equal(b2.eventsOf('up').length, 1);
  assert.equal(a.eventsOf('up').length, 1, 'no second up on the side that kept its state');
  assert.equal(a.eventsOf('down').length, 0);
  a.layer.send(b2.address, utf8('welcome back'));
  b2.layer.send(a.address, utf8('thanks'));
  clock.advance(20);
  assert.deepEqual(b2.messagesFrom(a.address), ['welcome back']);
  assert.deepEqual(a.messagesFrom(b2.address), ['thanks']);
  clock.advance(30_000);
  assert.equal(a.layer.stateSizes().sessions, 1, 'the old session expired');
  assert.equal(a.eventsOf('down').length, 0);
});
