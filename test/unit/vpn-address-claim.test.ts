import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { silentLogger } from '../../src/overlay/log.js';
import { createSeededRandom } from '../../src/overlay/random.js';
import { SimOverlay, type SimNode } from '../../src/overlay/sim/sim-overlay.js';
import { AddressClaim } from '../../src/vpn/address-claim.js';
import { type LeaseStore, memoryLeaseStore, parseLease } from '../../src/vpn/lease-file.js';
import { formatIpv4, parseIpv4 } from '../../src/vpn/packets/addresses.js';
import { type Ipv4Subnet, parseSubnet } from '../../src/vpn/subnet.js';
import { decodeOwnerRecord, encodeOwnerRecord, vipKey, winningOwner } from '../../src/vpn/vip-records.js';

const MINUTE = 60_000;
const NETWORK = '5a'.repeat(16);

function subnet(cidr: string): Ipv4Subnet {
  const r = parseSubnet(cidr);
  assert.ok(r.ok);
  return r.value;
}

async function grow(n: number, seed: string): Promise<SimOverlay> {
  const sim = await SimOverlay.create({ seed, encrypt: false });
  for (let i = 0; i < n; i++) sim.queue.schedule(sim.now + (i * 20_000) / n, () => sim.spawn());
  sim.queue.runUntil(sim.now + 20_000 + 2 * MINUTE);
  return sim;
}

function claimFor(s: SimNode, net: Ipv4Subnet, leases: LeaseStore, seed: string, preferred?: number): AddressClaim {
  return new AddressClaim(
    { networkIdHex: NETWORK, subnet: net, ...(preferred !== undefined ? { preferred } : {}) },
    { dht: s.node.dht, self: s.node.address, clock: s.clock, random: createSeededRandom(seed), leases, log: silentLogger },
  );
}

function stopAll(sim: SimOverlay, claims: AddressClaim[]): void {
  for (const c of claims) c.stop();
  for (const s of sim.live()) sim.kill(s);
  sim.queue.runUntil(sim.now + MINUTE);
  assert.equal(sim.nodes.reduce((n, s) => n + s.clock.activeTimers(), 0), 0, 'no timers left behind');
}

test('owner records: round trip, and records that do not match their key or writer are not believed', async () => {
  await cryptoReady();
  const ip = parseIpv4('10.254.3.4') as number;
  const value = encodeOwnerRecord({ ip, owner: 123n, claimedAt: 1_700_000_000_123 });
  assert.deepEqual(decodeOwnerRecord(value), { ok: true, value: { ip, owner: 123n, claimedAt: 1_700_000_000_123 } });
  assert.equal(decodeOwnerRecord(value.subarray(1)).ok, false);
  const bad = Uint8Array.from(value);
  bad[0] = 9;
  assert.equal(decodeOwnerRecord(bad).ok, false);
  assert.ok(vipKey(NETWORK, ip).length <= 64, 'the key fits the DHT limit');
  // A record written by one key naming another node's address is skipped.
  const forged = { key: vipKey(NETWORK, ip), value, writer: new Uint8Array(32).fill(7), issuedAt: 0, ttlSeconds: 60, flags: 0, signature: new Uint8Array(64) };
  assert.equal(winningOwner([forged], ip), undefined);
  assert.equal(parseLease('{"version":1}'), undefined);
  assert.equal(parseLease('not json'), undefined);
});

test('thirty nodes claiming at once in a small subnet (many wanting the same address) all end with distinct addresses', async () => {
  const sim = await grow(30, 'vip-claim-race');
  const net = subnet('10.254.0.0/26'); // 61 member addresses for 30 nodes: collisions are certain
  const contested = parseIpv4('10.254.0.10') as number;
  const live = sim.live();
  const claims = live.map((s, i) => claimFor(s, net, memoryLeaseStore(), `claim-${i}`, i % 2 === 0 ? contested : undefined));
  for (const c of claims) c.start();
  sim.queue.runUntil(sim.now + 3 * MINUTE);
  const addresses = claims.map((c) => c.address);
  assert.ok(addresses.every((a) => a !== undefined), `every node holds an address: ${addresses.map((a) => (a === undefined ? '-' : formatIpv4(a))).join(' ')}`);
  assert.equal(new Set(addresses).size, claims.length, 'no two nodes hold the same address');
  assert.ok(addresses.every((a) => a !== net.servicesAddress && a !== net.network && a !== net.broadcast), 'services, network and broadcast addresses are never claimed');
  assert.equal(addresses.filter((a) => a === contested).length, 1, 'the contested address went to exactly one node');

  // What the DHT says agrees: each address resolves to the node that holds it.
  const owners = new Map<number, bigint | undefined>();
  const asker = live[0] as SimNode;
  for (const a of addresses) asker.node.dht.get(vipKey(NETWORK, a as number), (r) => owners.set(a as number, r.ok ? winningOwner(r.records, a as number)?.owner : undefined));
  sim.queue.runUntil(sim.now + 30_000);
  claims.forEach((c, i) => assert.equal(owners.get(c.address as number), (live[i] as SimNode).node.address, `${formatIpv4(c.address as number)} resolves to its holder`));
  stopAll(sim, claims);
});

test('a restarted node claims its stored address again; a lease renews; a taken address is not reused', async () => {
  const sim = await grow(12, 'vip-claim-restart');
  const net = subnet('10.254.0.0/16');
  const [a, b] = sim.live() as [SimNode, SimNode];
  const leasesA = memoryLeaseStore();
  const first = claimFor(a, net, leasesA, 'a1', parseIpv4('10.254.7.7'));
  first.start();
  sim.queue.runUntil(sim.now + 30_000);
  assert.equal(first.address, parseIpv4('10.254.7.7'));
  assert.equal(leasesA.load()?.ip, parseIpv4('10.254.7.7'), 'the lease is stored');
  first.stop();

  // Another node wants the same address while A is away: refused, it takes another one.
  const other = claimFor(b, net, memoryLeaseStore(), 'b1', parseIpv4('10.254.7.7'));
  other.start();
  sim.queue.runUntil(sim.now + 30_000);
  assert.notEqual(other.address, undefined);
  assert.notEqual(other.address, parseIpv4('10.254.7.7'));

  // A comes back (same identity, same lease store, no preference): same address.
  const again = claimFor(a, net, leasesA, 'a2');
  again.start();
  sim.queue.runUntil(sim.now + 30_000);
  assert.equal(again.address, parseIpv4('10.254.7.7'));
  // Renewals keep it past the first lease's end (30 min).
  sim.queue.runUntil(sim.now + 45 * MINUTE);
  assert.equal(again.address, parseIpv4('10.254.7.7'));
  assert.ok(again.stats.renewals >= 2, `renewed (${again.stats.renewals})`);
  stopAll(sim, [again, other]);
});

test('of two owners of one address (claimed on two roots at once), the later claim moves to another address', async () => {
  const sim = await grow(12, 'vip-claim-conflict');
  const net = subnet('10.254.0.0/16');
  const [a, b] = sim.live() as [SimNode, SimNode];
  const ip = parseIpv4('10.254.3.3') as number;
  const claim = claimFor(a, net, memoryLeaseStore(), 'a', ip);
  const moves: string[] = [];
  claim.onChange((now, before) => moves.push(`${before === undefined ? '-' : formatIpv4(before)} -> ${now === undefined ? '-' : formatIpv4(now)}`));
  claim.start();
  sim.queue.runUntil(sim.now + 2_000);
  assert.equal(claim.address, ip);
  // B's record of the same address, claimed earlier, lands in the DHT beside A's (as when two
  // roots each accepted one create): A must notice when it reads the key back, and give way.
  b.node.dht.put(vipKey(NETWORK, ip), encodeOwnerRecord({ ip, owner: b.node.address, claimedAt: sim.now - 60_000 }), 600, () => {});
  sim.queue.runUntil(sim.now + MINUTE);
  assert.notEqual(claim.address, undefined);
  assert.notEqual(claim.address, ip, 'A moved away');
  assert.equal(claim.stats.yielded, 1);
  assert.deepEqual(moves.slice(0, 2), ['- -> 10.254.3.3', '10.254.3.3 -> -']);
  stopAll(sim, [claim]);
});
