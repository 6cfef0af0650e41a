import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DATA, Peer, SECOND, assertClean, makeNet, run } from './nat-lab.js';

test('a firewall drops unsolicited UDP and lets in answers from exactly where the host sent', () => {
  const { queue, network } = makeNet('fw');
  const firewall = network.createFirewall();
  const host = network.createHost();
  firewall.attach(host);
  assert.equal(host.middlebox, firewall);
  const h = new Peer(host.bind(4000), null, firewall);
  const s = new Peer(network.createHost().bind(4000));
  const sOtherPort = new Peer(s.host.bind(5000));
  const t = new Peer(network.createHost().bind(4000));

  s.send(h.endpoint, DATA);
  t.send(h.endpoint, DATA);
  run(queue, SECOND);
  assert.equal(h.got.length, 0);

  h.send(s.endpoint, DATA);
  run(queue, SECOND);
  assert.deepEqual(s.sources(), [h.endpoint], 'no translation');
  s.send(h.endpoint, DATA);
  sOtherPort.send(h.endpoint, DATA);
  t.send(h.endpoint, DATA);
  run(queue, SECOND);
  assert.deepEqual(h.sources(), [s.endpoint], 'an earlier unsolicited packet from S did not spoil anything');
  assert.deepEqual(firewall.stats(), { flows: 1, allowedIn: 1, filtered: 4, tableFull: 0, restarts: 0 });

  // Two-way: 120 s of silence closes it (S's last packet got in 1 s ago).
  run(queue, 118 * SECOND);
  s.send(h.endpoint, DATA);
  run(queue, 121 * SECOND);
  s.send(h.endpoint, DATA);
  run(queue, SECOND);
  assert.equal(h.got.length, 2);
  assert.equal(firewall.stats().flows, 0);

  // One-way: 30 s.
  h.send(t.endpoint, DATA);
  run(queue, 29 * SECOND);
  t.send(h.endpoint, DATA);
  run(queue, 31 * SECOND);
  t.send(h.endpoint, DATA);
  run(queue, SECOND);
  assert.equal(h.sources().filter((x) => x === t.endpoint).length, 1);

  for (const p of [h, s, t]) p.host.kill();
  assertClean(network, queue);
});

test('one firewall guards several hosts; restart forgets flows; detach opens the host; the table is capped', () => {
  const { queue, network } = makeNet('fw-site');
  const firewall = network.createFirewall({ maxEntries: 2 });
  const a = new Peer(network.createHost().bind(4000), null, firewall);
  const b = new Peer(network.createHost().bind(4000), null, firewall);
  firewall.attach(a.host);
  firewall.attach(b.host);
  const s = new Peer(network.createHost().bind(4000));
  const t = new Peer(network.createHost().bind(4000));
  a.send(s.endpoint, DATA);
  b.send(s.endpoint, DATA);
  a.send(t.endpoint, DATA); // a third flow: the table holds two
  run(queue, SECOND);
  assert.equal(t.got.length, 0);
  assert.equal(firewall.stats().tableFull, 1);
  s.send(a.endpoint, DATA);
  s.send(b.endpoint, DATA);
  run(queue, SECOND);
  assert.deepEqual([a.got.length, b.got.length], [1, 1]);

  firewall.restart();
  s.send(a.endpoint, DATA);
  run(queue, SECOND);
  assert.equal(a.got.length, 1, 'flows forgotten');
  firewall.detach(a.host);
  firewall.detach(s.host); // not its middlebox: nothing happens
  assert.equal(a.host.middlebox, null);
  s.send(a.endpoint, DATA);
  s.send(b.endpoint, DATA);
  run(queue, SECOND);
  assert.deepEqual([a.got.length, b.got.length], [2, 1]);
  assert.throws(() => network.createFirewall({ unrepliedTimeoutMs: -1 }), /unrepliedTimeoutMs must be a positive/);
  for (const p of [a, b, s, t]) p.host.kill();
  assertClean(network, queue);
});
