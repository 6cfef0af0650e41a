import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimOverlay, type SimNode } from '../../src/overlay/sim/sim-overlay.js';
import type { NatPreset, SimNat } from '../../src/overlay/sim/sim-network.js';

/**
 * A direct session between two peers behind Linux NATs whose path breaks under them: one NAT
 * restarts with a new public address, or one host moves to another network. Their datagrams from
 * the new mapping reach the other NAT unsolicited and spoil it (DESIGN.md, "Linux NATs and the
 * first probe"), so the session must fall back to a relay at once and punch again later, after the
 * NATs' unreplied entries have timed out.
 */
const SECOND = 1000;

async function publicCore(seed: string, lossRate = 0): Promise<SimOverlay> {
  const sim = await SimOverlay.create({ seed, lossRate });
  for (let i = 0; i < 10; i++) {
    sim.spawn();
    sim.queue.runUntil(sim.now + 2 * SECOND);
  }
  sim.queue.runUntil(sim.now + 60 * SECOND);
  return sim;
}

interface Pair {
  sim: SimOverlay;
  a: SimNode;
  b: SimNode;
  natA: SimNat;
  natB: SimNat;
}

async function directPair(seed: string, preset: NatPreset, lossRate = 0): Promise<Pair> {
  const sim = await publicCore(seed, lossRate);
  const natA = sim.network.createNat(preset);
  const natB = sim.network.createNat(preset);
  const a = sim.spawn({ behind: natA });
  const b = sim.spawn({ behind: natB });
  sim.queue.runUntil(sim.now + 90 * SECOND);
  a.node.openSession(b.node.address);
  sim.queue.runUntil(sim.now + 10 * SECOND);
  assert.equal(a.node.pathOf(b.node.address)?.path, 'direct', a.node.pathOf(b.node.address)?.reason);
  assert.equal(b.node.pathOf(a.node.address)?.path, 'direct');
  return { sim, a, b, natA, natB };
}

/**
 * Sends a datagram over the session each second, both ways, until one arrives each way; returns
 * the time that took (null past the deadline). Datagrams only travel over the session itself
 * (direct or relayed), never hop by hop over the ring.
 */
function untilSessionCarries(p: Pair, deadlineMs: number): number | null {
  const { sim, a, b } = p;
  let atA = 0;
  let atB = 0;
  a.node.onDatagram(() => atA++);
  b.node.onDatagram(() => atB++);
  const start = sim.now;
  while (sim.now - start < deadlineMs) {
    const seenA = atA;
    const seenB = atB;
    a.node.sendDatagram(b.node.address, new Uint8Array([1]));
    b.node.sendDatagram(a.node.address, new Uint8Array([2]));
    sim.queue.runUntil(sim.now + SECOND);
    if (atA > seenA && atB > seenB) return sim.now - start;
  }
  return null;
}

function stopAll(sim: SimOverlay): void {
  for (const s of sim.live()) sim.kill(s);
}

test('a NAT in front of one side of a direct session restarts with a new public address: the session carries again within 30 s, and turns direct again later', async () => {
  const p = await directPair('heal-restart', 'linux');
  p.natB.restart({ newPublicIp: true });
  const healed = untilSessionCarries(p, 30 * SECOND);
  assert.ok(healed !== null, `session still broken 30 s after the restart: ${p.a.node.pathOf(p.b.node.address)?.reason}`);
  process.stderr.write(`  NAT restart: session carries again after ${healed} ms, ${p.a.node.pathOf(p.b.node.address)?.reason}\n`);
  // The relay carries the session while the NATs forget the spoiled entries; then it is punched again.
  p.sim.queue.runUntil(p.sim.now + 150 * SECOND);
  assert.equal(p.a.node.pathOf(p.b.node.address)?.path, 'direct', p.a.node.pathOf(p.b.node.address)?.reason);
  assert.equal(p.b.node.pathOf(p.a.node.address)?.path, 'direct', p.b.node.pathOf(p.a.node.address)?.reason);
  assert.ok(untilSessionCarries(p, 3 * SECOND) !== null, 'the direct path carries');
  stopAll(p.sim);
});

for (const loss of [0, 0.05]) {
  test(`a host behind a NAT moves to another network: its direct peer behind a NAT reaches it again within 10 s (${loss * 100} % packet loss)`, async () => {
  const p = await directPair(`heal-move-${loss}`, 'linux', loss);
  const office = p.sim.network.createNat('linux');
  office.attach(p.a.host);
  p.a.node.networkChanged();
  const healed = untilSessionCarries(p, 10 * SECOND);
  assert.ok(healed !== null, `session still broken 10 s after the move: ${p.a.node.pathOf(p.b.node.address)?.reason}`);
  process.stderr.write(`  move (loss ${loss}): session carries again after ${healed} ms, ${p.a.node.pathOf(p.b.node.address)?.reason}\n`);
  p.sim.queue.runUntil(p.sim.now + 150 * SECOND);
  assert.equal(p.a.node.pathOf(p.b.node.address)?.path, 'direct', p.a.node.pathOf(p.b.node.address)?.reason);
  assert.ok(untilSessionCarries(p, 3 * SECOND) !== null, 'the direct path carries');
  stopAll(p.sim);
  });
}

test('a first punch spoiled by a probe that reached the far NAT first: relayed at once, direct once the NATs forgot it', async () => {
  const sim = await publicCore('heal-spoiled');
  const natted: SimNode[] = [];
  for (let i = 0; i < 4; i++) natted.push(sim.spawn({ behind: sim.network.createNat('linux') }));
  sim.queue.runUntil(sim.now + 90 * SECOND);
  // Two of them that the ring has not linked.
  const pairs = natted.flatMap((x, i) => natted.slice(i + 1).map((y) => [x, y] as const));
  const [a, b] = pairs.find(([x, y]) => x.node.links.get(y.node.address) === undefined) ?? assert.fail('every pair is linked');
  // a's socket sends toward b's public mapping before b has sent toward a: b's NAT keeps an
  // unreplied entry that gives b's own packets toward a another public port.
  const bPublic = b.node.selfRecord().endpoints[0] as string;
  const transport = (a.node as unknown as { components: { transport: { send(to: string, bytes: Uint8Array): void } } }).components.transport;
  for (let i = 0; i < 3; i++) {
    transport.send(bPublic, new Uint8Array(64));
    sim.queue.runUntil(sim.now + 200);
  }
  const started = sim.now;
  a.node.openSession(b.node.address);
  let directAfter: number | null = null;
  let firstPath: string | null = null;
  while (sim.now - started < 150 * SECOND) {
    sim.queue.runUntil(sim.now + 500);
    const pa = a.node.pathOf(b.node.address);
    firstPath ??= pa?.path ?? null;
    if (pa?.path === 'direct' && b.node.pathOf(a.node.address)?.path === 'direct') {
      directAfter = sim.now - started;
      break;
    }
  }
  process.stderr.write(`  spoiled: first ${firstPath}, direct after ${directAfter} ms\n`);
  assert.ok(directAfter !== null, `not direct within 150 s: ${a.node.pathOf(b.node.address)?.reason}`);
  stopAll(sim);
});
