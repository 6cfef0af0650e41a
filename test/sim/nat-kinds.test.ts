import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimNetworkError, type NatKind, type NatPreset } from '../../src/overlay/sim/sim-network.js';
import { DATA, Peer, SECOND, assertClean, makeNet, run } from './nat-lab.js';

interface KindCase {
  preset: NatPreset;
  /** One public port for every destination (endpoint-independent mapping). */
  sharedPort: boolean;
  /** Let in from another port of the IP the host sent to. */
  otherPort: boolean;
  /** Let in from an IP the host never sent to. */
  otherIp: boolean;
  /** Linux conntrack: T's unsolicited packet leaves an entry that moves the host's flow to T to another port. */
  spoiledByT?: boolean;
}

const KINDS: KindCase[] = [
  { preset: 'full-cone', sharedPort: true, otherPort: true, otherIp: true },
  { preset: 'address-restricted', sharedPort: true, otherPort: true, otherIp: false },
  { preset: 'port-restricted', sharedPort: true, otherPort: false, otherIp: false },
  { preset: 'linux', sharedPort: true, otherPort: false, otherIp: false, spoiledByT: true },
  { preset: 'symmetric', sharedPort: false, otherPort: false, otherIp: false },
  { preset: 'linux-symmetric', sharedPort: false, otherPort: false, otherIp: false },
];

for (const k of KINDS) {
  test(`${k.preset}: who gets in before and after the host sends, and which port it leaves from`, () => {
    const { queue, network } = makeNet(`kind-${k.preset}`);
    const nat = network.createNat(k.preset);
    assert.match(nat.publicIp, /^198\.1[89]\.\d+\.\d+$/);
    assert.equal(network.nat(nat.publicIp), nat);
    const h = new Peer(network.createHost({ behind: nat }).bind(4000), nat);
    assert.equal(h.host.nat, nat);
    assert.deepEqual(h.host.coordinates, nat.coordinates);
    const s = new Peer(network.createHost().bind(4000));
    const sOtherPort = new Peer(s.host.bind(5000));
    const t = new Peer(network.createHost().bind(4000));
    // A scanner, not S: on a Linux NAT, S's own unsolicited packet would change the port H gets
    // toward S (nat-linux.test.ts).
    const scanner = new Peer(network.createHost().bind(4000));

    // Before the host sends, nothing gets in: not to its public address, not to its private one.
    for (const port of [4000, 1024, 65535]) scanner.send(`${nat.publicIp}:${port}`, DATA);
    scanner.send(h.endpoint, DATA);
    run(queue, SECOND);
    assert.equal(h.got.length, 0);
    assert.equal(network.filtered, 3);
    assert.equal(network.droppedNoRoute, 1);

    // The host sends to S: S sees the NAT's address.
    h.send(s.endpoint, DATA);
    run(queue, SECOND);
    const [seenByS] = s.sources();
    assert.ok(seenByS?.startsWith(`${nat.publicIp}:`), `${seenByS}`);
    if (k.sharedPort) assert.equal(seenByS, `${nat.publicIp}:4000`, 'the private port is preserved');
    assert.equal(nat.publicEndpointFor(h.endpoint, s.endpoint), seenByS);

    // S's answer gets in; the others only as the kind allows.
    s.send(seenByS!, DATA);
    sOtherPort.send(seenByS!, DATA);
    t.send(seenByS!, DATA);
    run(queue, SECOND);
    assert.equal(h.heardFrom(s.host.ip), true);
    assert.equal(h.sources().includes(sOtherPort.endpoint), k.otherPort, 'another port of the same IP');
    assert.equal(h.heardFrom(t.host.ip), k.otherIp, 'another IP');
    for (const g of h.got) assert.equal(g.from.startsWith('198.'), false, 'sources are not translated on the way in');

    // The host sends to T: the same public port (endpoint-independent) or a new one (symmetric).
    h.clear();
    h.send(t.endpoint, DATA);
    run(queue, SECOND);
    const [seenByT] = t.sources().filter((x) => x.startsWith('198.'));
    assert.ok(seenByT?.startsWith(`${nat.publicIp}:`), `${seenByT}`);
    assert.equal(seenByT === seenByS, k.sharedPort && k.spoiledByT !== true);
    t.send(seenByT!, DATA);
    run(queue, SECOND);
    assert.equal(h.heardFrom(t.host.ip), true, 'T answers to where it saw the host');
    if (!k.sharedPort) {
      // Each symmetric mapping only takes its own destination's packets.
      h.clear();
      t.send(seenByS!, DATA);
      s.send(seenByT!, DATA);
      run(queue, SECOND);
      assert.equal(h.got.length, 0);
    }

    const stats = nat.stats();
    const ports = k.sharedPort && k.spoiledByT !== true ? 1 : 2;
    assert.equal(stats.mappings, ports);
    assert.equal(stats.tupleClashes, k.spoiledByT === true ? 1 : 0);
    assert.equal(stats.flows, 2 + (k.otherPort ? 1 : 0));
    assert.equal(stats.translatedOut, 2);
    assert.equal(stats.mappingsCreated, ports);
    assert.equal(stats.hairpinDropped, 0);
    for (const host of [h.host, s.host, t.host, scanner.host]) host.kill();
    assertClean(network, queue);
  });
}

test('a LAN: hosts behind one NAT reach each other by private address; outsiders cannot', () => {
  const { queue, network } = makeNet('lan');
  const nat = network.createNat('port-restricted');
  const other = network.createNat('full-cone');
  const a = new Peer(network.createHost({ behind: nat }).bind(4000), nat);
  const b = new Peer(network.createHost({ behind: nat }).bind(4000), nat);
  const c = new Peer(network.createHost({ behind: other }).bind(4000), other);
  const outsider = new Peer(network.createHost().bind(4000));
  assert.deepEqual(
    nat.hosts().map((h) => h.ip),
    [a.host.ip, b.host.ip],
  );

  a.send(b.endpoint, DATA);
  a.opener(b.endpoint); // no router on the way: a low TTL still arrives
  outsider.send(b.endpoint, DATA);
  c.send(b.endpoint, DATA); // another LAN's private address: not routable from there
  run(queue, SECOND);
  assert.deepEqual(
    b.got.map((g) => g.from),
    [a.endpoint, a.endpoint],
  );
  assert.equal(network.expired, 0);
  assert.equal(network.droppedNoRoute, 2);

  // Two LAN hosts with the same private port: the second gets another public port.
  a.send(outsider.endpoint, DATA);
  b.send(outsider.endpoint, DATA);
  run(queue, SECOND);
  const seen = outsider.sources();
  assert.equal(seen.length, 2);
  assert.equal(seen[0], `${nat.publicIp}:4000`);
  assert.notEqual(seen[1], seen[0]);

  // Hairpinning is not supported: b sending to a's public endpoint is dropped by the NAT.
  a.clear();
  b.send(seen[0]!, DATA);
  run(queue, SECOND);
  assert.equal(a.got.length, 0);
  assert.equal(nat.stats().hairpinDropped, 1);
  for (const p of [a, b, c, outsider]) p.host.kill();
  assertClean(network, queue);
});

test('moving a host: to another NAT (a new public address), then onto the open network', () => {
  const { queue, network } = makeNet('move');
  const home = network.createNat('port-restricted');
  const office = network.createNat('symmetric');
  const h = new Peer(network.createHost({ behind: home }).bind(4000), home);
  const s = new Peer(network.createHost().bind(4000));
  h.send(s.endpoint, DATA);
  run(queue, SECOND);
  office.attach(h.host);
  assert.equal(h.host.nat, office);
  assert.deepEqual(home.hosts(), []);
  h.send(s.endpoint, DATA);
  run(queue, SECOND);
  office.detach(h.host);
  assert.equal(h.host.nat, null);
  h.send(s.endpoint, DATA);
  s.send(h.endpoint, DATA); // on the open network its own address works from anywhere
  run(queue, SECOND);
  const seen = s.sources();
  assert.equal(seen.length, 3);
  assert.ok(seen[0]!.startsWith(`${home.publicIp}:`));
  assert.ok(seen[1]!.startsWith(`${office.publicIp}:`));
  assert.equal(seen[2], h.endpoint);
  assert.equal(h.got.length, 1);
  assert.throws(
    () => office.detach(h.host),
    (e: unknown) => e instanceof SimNetworkError && e.code === 'EINVAL',
  );
  const { network: elsewhere } = makeNet('elsewhere');
  assert.throws(
    () => elsewhere.createNat('full-cone').attach(h.host),
    (e: unknown) => e instanceof SimNetworkError && e.code === 'EINVAL',
  );
  h.host.kill();
  s.host.kill();
  assertClean(network, queue);
});

test('createNat validates its options with plain messages', () => {
  const { network } = makeNet('opts');
  assert.throws(() => network.createNat({}), /needs a kind or a preset/);
  assert.throws(() => network.createNat('cone' as NatPreset), /unknown NAT preset "cone"/);
  assert.throws(() => network.createNat({ kind: 'linux' as NatKind }), /unknown NAT kind "linux"/);
  assert.throws(() => network.createNat({ kind: 'full-cone', mappingTimeoutMs: 0 }), /mappingTimeoutMs must be a positive/);
  assert.throws(() => network.createNat({ preset: 'linux', maxEntries: 1.5 }), /maxEntries/);
  const custom = network.createNat({ preset: 'linux', unrepliedTimeoutMs: 60_000 });
  assert.deepEqual(custom.config, {
    kind: 'port-restricted',
    linuxConntrack: true,
    mappingTimeoutMs: 120_000,
    unrepliedTimeoutMs: 60_000,
    portPreservation: true,
    maxEntries: 16_384,
  });
  assert.equal(network.createNat('port-restricted').config.linuxConntrack, false);
  assert.equal(network.createNat({ kind: 'full-cone', linuxConntrack: true }).config.linuxConntrack, true);
});
