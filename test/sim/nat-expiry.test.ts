import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CreateNatOptions, NatPreset } from '../../src/overlay/sim/sim-network.js';
import { DATA, Peer, SECOND, assertClean, makeNet, run } from './nat-lab.js';

function natWithServer(seed: string, kind: NatPreset | CreateNatOptions) {
  const { queue, network } = makeNet(seed);
  const nat = network.createNat(kind);
  const h = new Peer(network.createHost({ behind: nat }).bind(4000), nat);
  const s = new Peer(network.createHost().bind(4000));
  const done = (): void => {
    h.host.kill();
    s.host.kill();
    assertClean(network, queue);
  };
  return { queue, network, nat, h, s, done };
}

test('a mapping only the host has sent on lives 30 s; with answers it lives 120 s after the last packet', () => {
  const { queue, nat, h, s, done } = natWithServer('expiry', 'port-restricted');
  h.send(s.endpoint, DATA);
  run(queue, 29 * SECOND);
  assert.ok(nat.publicEndpointFor(h.endpoint, s.endpoint) !== undefined);
  run(queue, SECOND); // 30 s after the packet left through the NAT
  assert.equal(nat.publicEndpointFor(h.endpoint, s.endpoint), undefined);
  s.send(`${nat.publicIp}:4000`, DATA);
  run(queue, SECOND);
  assert.equal(h.got.length, 0, 'an answer after 30 s is dropped');
  assert.equal(nat.stats().mappings, 0);

  // Two-way: 120 s after the last packet, refreshed by answers.
  h.send(s.endpoint, DATA);
  run(queue, SECOND);
  const pub = s.sources().at(-1)!;
  s.send(pub, DATA);
  run(queue, 110 * SECOND);
  s.send(pub, DATA); // ~111 s after the last one: still open
  run(queue, 119 * SECOND);
  s.send(pub, DATA); // 119 s: still open (refreshed by the answer before)
  run(queue, 121 * SECOND);
  s.send(pub, DATA); // 121 s of silence: gone
  run(queue, SECOND);
  assert.equal(h.got.length, 3);
  assert.equal(nat.stats().flows, 0, 'expired flows are removed, not just ignored');
  done();
});

test('outbound keepalives hold a mapping: one public port for five minutes, none created anew', () => {
  const { queue, nat, h, s, done } = natWithServer('keepalive', 'linux');
  for (let i = 0; i < 15; i++) {
    h.send(s.endpoint, DATA);
    run(queue, 20 * SECOND);
  }
  assert.deepEqual(s.sources(), [`${nat.publicIp}:4000`]);
  s.send(`${nat.publicIp}:4000`, DATA);
  run(queue, SECOND);
  assert.equal(h.got.length, 1);
  assert.equal(nat.stats().mappingsCreated, 1);
  done();
});

test('timeouts are configurable; an expired symmetric mapping comes back on a new random port', () => {
  const { queue, nat, h, s, done } = natWithServer('short', { kind: 'symmetric', unrepliedTimeoutMs: 5_000, mappingTimeoutMs: 10_000 });
  h.send(s.endpoint, DATA);
  run(queue, 6 * SECOND);
  assert.equal(nat.publicEndpointFor(h.endpoint, s.endpoint), undefined);
  h.send(s.endpoint, DATA);
  run(queue, SECOND);
  const [first, second] = s.sources();
  assert.ok(first !== undefined && second !== undefined && first !== second, `${first} ${second}`);
  s.send(second, DATA);
  run(queue, 9 * SECOND);
  s.send(second, DATA);
  run(queue, 11 * SECOND);
  s.send(second, DATA);
  run(queue, SECOND);
  assert.equal(h.got.length, 2, 'two-way flows live mappingTimeoutMs');
  done();
});

test('restart forgets every mapping and hands out new ports; newPublicIp also moves the address', () => {
  const { queue, network, nat, h, s, done } = natWithServer('restart', 'port-restricted');
  h.send(s.endpoint, DATA);
  run(queue, SECOND);
  const before = s.sources()[0]!;
  assert.equal(before, `${nat.publicIp}:4000`);
  nat.restart();
  s.send(before, DATA);
  run(queue, SECOND);
  assert.equal(h.got.length, 0, 'the old mapping is gone');
  h.send(s.endpoint, DATA);
  run(queue, SECOND);
  const after = s.sources()[1]!;
  assert.ok(after.startsWith(`${nat.publicIp}:`) && after !== before, after);
  s.send(after, DATA);
  run(queue, SECOND);
  assert.equal(h.got.length, 1);

  const oldIp = nat.publicIp;
  s.send(after, DATA); // in flight while the NAT gets its new address
  nat.restart({ newPublicIp: true });
  assert.notEqual(nat.publicIp, oldIp);
  assert.equal(network.nat(oldIp), undefined);
  assert.equal(network.nat(nat.publicIp), nat);
  const dropped = network.droppedNoRoute;
  run(queue, SECOND);
  assert.equal(network.droppedNoRoute, dropped + 1);
  h.send(s.endpoint, DATA);
  run(queue, SECOND);
  assert.ok(s.sources()[2]!.startsWith(`${nat.publicIp}:`));
  assert.equal(nat.stats().restarts, 2);
  done();
});

test('the table is capped: a full table refuses new flows; unreplied entries make room oldest first', () => {
  const { queue, network } = makeNet('cap');
  const nat = network.createNat({ preset: 'linux', maxEntries: 3 });
  const h = new Peer(network.createHost({ behind: nat }).bind(4000), nat);
  const remotes = Array.from({ length: 4 }, () => new Peer(network.createHost().bind(4000)));
  for (const r of remotes) h.send(r.endpoint, DATA);
  run(queue, SECOND);
  assert.deepEqual(
    remotes.map((r) => r.got.length),
    [1, 1, 1, 0],
  );
  assert.equal(nat.stats().tableFull, 1);
  run(queue, 30 * SECOND);
  h.send(remotes[3]!.endpoint, DATA);
  run(queue, SECOND);
  assert.equal(remotes[3]!.got.length, 1, 'room again once flows expired');

  // A scan from many sources: at most maxEntries unreplied entries, never an error.
  run(queue, 31 * SECOND);
  const scanner = network.createHost();
  for (let port = 1; port <= 50; port++) scanner.bind(port).send(`${nat.publicIp}:${1000 + port}`, new Uint8Array([DATA]));
  run(queue, SECOND);
  assert.equal(nat.stats().unreplied, 3);
  scanner.kill();
  h.host.kill();
  for (const r of remotes) r.host.kill();
  assertClean(network, queue);
});

test('same seed, same ports: NATs draw from their own seeded generator', () => {
  const ports = (seed: string): string[] => {
    const { queue, nat, h, s, done } = natWithServer(seed, 'symmetric');
    const others = Array.from({ length: 5 }, () => h.host.bind(0));
    for (const o of others) o.send(s.endpoint, new Uint8Array([DATA]));
    h.send(s.endpoint, DATA);
    run(queue, SECOND);
    nat.restart();
    h.send(s.endpoint, DATA);
    run(queue, SECOND);
    const seen = s.got.map((g) => g.from);
    done();
    return seen;
  };
  const a = ports('det-1');
  assert.equal(new Set(a).size, 7);
  assert.deepEqual(ports('det-1'), a);
  assert.notDeepEqual(ports('det-2'), a);
});
