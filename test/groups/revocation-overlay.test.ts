import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Address, addressFromPublicKey } from '../../src/overlay/address.js';
import { cryptoReady } from '../../src/overlay/crypto.js';
import type { Identity } from '../../src/overlay/identity.js';
import { silentLogger } from '../../src/overlay/log.js';
import { createSeededRandom } from '../../src/overlay/random.js';
import { SimOverlay, type SimNode } from '../../src/overlay/sim/sim-overlay.js';
import { SIM_EPOCH_MS } from '../../src/overlay/sim/virtual-clock.js';
import { createGroupAdmission } from '../../src/groups/admission.js';
import type { Certificate } from '../../src/groups/certificate.js';
import { issueCertificate, issueRevocationRecord } from '../../src/groups/group-ca.js';
import { RevocationSet } from '../../src/groups/revocation.js';
import {
  REVOCATION_BROADCAST_CHANNEL,
  REVOCATION_GOSSIP_CHANNEL,
  type RevocationService,
  createRevocationService,
} from '../../src/groups/revocation-service.js';
import { DAY, type TestCa, makeTestCa } from './fixtures.js';

before(async () => {
  await cryptoReady();
});

interface Member {
  sim: SimNode;
  cert: Certificate;
  revocations: RevocationSet;
  service: RevocationService;
}

/** `n` members of one group on a simulated private ring, each with its admission check and revocation service. */
async function growGroup(n: number, seed: string, group: TestCa, lossRate = 0): Promise<{ overlay: SimOverlay; members: Member[] }> {
  const overlay = await SimOverlay.create({ seed, lossRate });
  const members: Member[] = [];
  for (let i = 0; i < n; i++) {
    overlay.queue.schedule(overlay.now + i * 500, () => {
      const revocations = new RevocationSet(group.ca);
      let cert: Certificate | null = null;
      const sim = overlay.spawn({
        admission: (identity: Identity) => {
          cert = issueCertificate(group.ca, {
            serial: group.nextSerial++,
            name: `member ${i}`,
            publicKey: identity.publicKey,
            address: addressFromPublicKey(identity.publicKey),
            virtualIp: null,
            roles: ['member'],
            notBefore: SIM_EPOCH_MS - DAY,
            notAfter: SIM_EPOCH_MS + 365 * DAY,
          });
          return createGroupAdmission({ anchor: group.ca, ownCertificate: cert.bytes, revocations });
        },
      });
      const own = cert as unknown as Certificate;
      const service = createRevocationService({ anchor: group.ca, revocations, self: { serial: own.serial, publicKey: own.publicKey } })({
        node: sim.node,
        clock: sim.clock,
        random: createSeededRandom(`${seed}:revocation:${i}`),
        log: silentLogger,
      });
      service.start();
      members.push({ sim, cert: own, revocations, service });
    });
  }
  overlay.queue.runUntil(overlay.now + n * 500 + 60_000);
  return { overlay, members };
}

function linked(m: Member, peer: Address): boolean {
  return m.sim.node.links.get(peer) !== undefined;
}

function stopAll(overlay: SimOverlay, members: Member[]): void {
  for (const m of members) m.service.stop();
  for (const s of overlay.live()) overlay.kill(s);
  overlay.queue.runUntil(overlay.now + 60_000);
  assert.equal(overlay.nodes.reduce((t, s) => t + s.clock.activeTimers(), 0), 0, 'no timers left behind');
  assert.equal(overlay.queue.size, 0, 'nothing left in the event queue');
}

for (const { n, lossRate } of [{ n: 16, lossRate: 0 }, { n: 30, lossRate: 0.05 }]) test(`${n} members, ${lossRate * 100} % packet loss: a revoked member is cut off by every other member within 5 s of one member publishing it, and cannot link again`, async () => {
  const group = makeTestCa(`revocation overlay ${n}`);
  const { overlay, members } = await growGroup(n, `revocation-overlay-${n}`, group, lossRate);
  for (const m of members) assert.ok(m.sim.node.joined, 'every member joined the private ring');
  const revoked = members[5] as Member;
  const others = members.filter((m) => m !== revoked);
  // Every other member holds a session with the member about to be revoked (as the VPN would).
  for (let round = 0; round < 6 && others.some((m) => !linked(m, revoked.sim.node.address)); round++) {
    for (const m of others) if (!linked(m, revoked.sim.node.address)) m.sim.node.openSession(revoked.sim.node.address);
    overlay.queue.runUntil(overlay.now + 10_000);
  }
  for (const m of others) assert.ok(linked(m, revoked.sim.node.address), 'every member has a session with the member to revoke');

  const publisher = members[n - 5] as Member;
  const record = issueRevocationRecord(group.ca, { target: { kind: 'serial', serial: revoked.cert.serial }, revokedAt: overlay.now });
  const publishedAt = overlay.now;
  assert.equal(publisher.service.publish(record), 'new');
  const cutAt = new Map<Member, number>();
  while (overlay.now - publishedAt < 10_000 && cutAt.size < others.length) {
    overlay.queue.runUntil(overlay.now + 10);
    for (const m of others) if (!cutAt.has(m) && !linked(m, revoked.sim.node.address)) cutAt.set(m, overlay.now - publishedAt);
  }
  const slowest = Math.max(...cutAt.values());
  const gossip = members.reduce((t, m) => t + m.service.stats.gossipSent, 0);
  process.stderr.write(`revocation, ${n} members, loss ${lossRate}: ${cutAt.size}/${others.length} cut the revoked one off; slowest after ${slowest} ms (virtual time); ${gossip} gossip messages\n`);
  assert.equal(cutAt.size, others.length, 'every other member closed its session with the revoked member');
  assert.ok(slowest <= 5_000, `the slowest member took ${slowest} ms`);
  for (const m of others) assert.ok(m.revocations.isRevoked(revoked.cert.serial, revoked.cert.publicKey));
  const broadcasts = members.reduce((t, m) => t + m.service.stats.broadcastsSent, 0);
  assert.equal(broadcasts, 1, 'only the publisher broadcast it');

  // It keeps trying (ring maintenance and sessions it asks for); nobody admits it any more.
  const refusedBefore = others.reduce((t, m) => t + m.sim.node.links.stats.handshakesRefused, 0);
  for (const m of others) revoked.sim.node.openSession(m.sim.node.address);
  for (let s = 0; s < 120; s++) {
    overlay.queue.runUntil(overlay.now + 1_000);
    for (const m of others) assert.ok(!linked(m, revoked.sim.node.address), `${s} s later a member is linked with the revoked member again`);
  }
  const refusedAfter = others.reduce((t, m) => t + m.sim.node.links.stats.handshakesRefused, 0);
  assert.ok(refusedAfter > refusedBefore, 'its handshakes were refused');
  // The rest of the ring still works.
  let reached = 0;
  for (const m of others) m.sim.node.onBroadcast(3, () => reached++);
  (others[0] as Member).sim.node.broadcast.send(3, new Uint8Array([1]));
  overlay.queue.runUntil(overlay.now + 5_000);
  assert.equal(reached, others.length);
  stopAll(overlay, members);
});

test('a member that missed the broadcast learns the revocation from the DHT when it links with the revoked peer', async () => {
  const group = makeTestCa('revocation dht');
  const { overlay, members } = await growGroup(10, 'revocation-dht', group);
  const [late, revoked, publisher] = [members[2] as Member, members[7] as Member, members[4] as Member];
  // `late` is not running its service while the revocation goes round (as if it were asleep).
  late.service.stop();
  const record = issueRevocationRecord(group.ca, { target: { kind: 'key', publicKey: revoked.cert.publicKey }, revokedAt: overlay.now });
  publisher.service.publish(record);
  overlay.queue.runUntil(overlay.now + 10_000);
  assert.ok(!late.revocations.isRevoked(revoked.cert.serial, revoked.cert.publicKey), 'it missed it');
  const fresh = createRevocationService({ anchor: group.ca, revocations: late.revocations })({
    node: late.sim.node,
    clock: late.sim.clock,
    random: createSeededRandom('late'),
    log: silentLogger,
  });
  late.service = fresh;
  fresh.start();
  late.sim.node.openSession(revoked.sim.node.address);
  // The session comes up (its admission did not know yet), then the DHT lookup finds the record.
  overlay.queue.runUntil(overlay.now + 15_000);
  assert.ok(fresh.stats.dhtLookups > 0);
  assert.ok(late.revocations.isRevoked(revoked.cert.serial, revoked.cert.publicKey), 'learned from the DHT');
  assert.ok(!linked(late, revoked.sim.node.address));
  stopAll(overlay, members);
});

test('malformed, forged and other groups\' revocations on the ring are dropped and counted; nothing changes', async () => {
  const group = makeTestCa('revocation junk');
  const other = makeTestCa('revocation junk other');
  const { overlay, members } = await growGroup(6, 'revocation-junk', group);
  const sender = members[0] as Member;
  const victim = members[3] as Member;
  const random = createSeededRandom('junk');
  // Garbage of every length, a record of another group, and one signed by a key that is not the CA's.
  for (let len = 0; len < 200; len += 7) sender.sim.node.broadcast.send(REVOCATION_BROADCAST_CHANNEL, random.bytes(len));
  const foreign = issueRevocationRecord(other.ca, { target: { kind: 'serial', serial: victim.cert.serial }, revokedAt: overlay.now });
  sender.sim.node.broadcast.send(REVOCATION_BROADCAST_CHANNEL, foreign.bytes);
  const forgedCa = { ...other.ca, groupId: group.ca.groupId };
  const forged = issueRevocationRecord(forgedCa, { target: { kind: 'serial', serial: victim.cert.serial }, revokedAt: overlay.now });
  sender.sim.node.broadcast.send(REVOCATION_BROADCAST_CHANNEL, forged.bytes);
  sender.sim.node.sendApp(victim.sim.node.address, REVOCATION_GOSSIP_CHANNEL, forged.bytes);
  sender.sim.node.sendApp(victim.sim.node.address, REVOCATION_GOSSIP_CHANNEL, random.bytes(5000));
  overlay.queue.runUntil(overlay.now + 10_000);
  for (const m of members) {
    assert.ok(!m.revocations.isRevoked(victim.cert.serial, victim.cert.publicKey), 'nothing was revoked');
    assert.ok(m.service.stats.malformed > 0);
    assert.equal(m.service.stats.wrongGroup, 1);
    assert.ok(m.service.stats.forged >= 1);
    assert.equal(m.service.stats.learned, 0);
  }
  for (const m of members) if (m !== victim) assert.ok(linked(m, victim.sim.node.address) || !m.sim.node.table.has(victim.sim.node.address));
  stopAll(overlay, members);
});
