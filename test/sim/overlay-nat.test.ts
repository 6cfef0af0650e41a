import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimOverlay, type SimNode } from '../../src/overlay/sim/sim-overlay.js';
import type { NatPreset } from '../../src/overlay/sim/sim-network.js';
import { NatKind } from '../../src/overlay/wire/messages.js';
import { relayOf } from '../../src/overlay/node/node-transport.js';
import { ringConsistency } from '../../src/overlay/sim/ring-check.js';

const SECOND = 1000;

async function overlayWithPublicCore(seed: string, publicNodes = 12): Promise<SimOverlay> {
  const sim = await SimOverlay.create({ seed });
  for (let i = 0; i < publicNodes; i++) {
    sim.spawn();
    sim.queue.runUntil(sim.now + 2 * SECOND);
  }
  sim.queue.runUntil(sim.now + 60 * SECOND);
  return sim;
}

function spawnBehind(sim: SimOverlay, preset: NatPreset): SimNode {
  const nat = sim.network.createNat(preset);
  return sim.spawn({ behind: nat });
}

/** Opens a session from a to b and runs until it is up (or the deadline); returns ms taken or null. */
function openSession(sim: SimOverlay, a: SimNode, b: SimNode, deadlineMs: number): number | null {
  const start = sim.now;
  a.node.openSession(b.node.address);
  while (sim.now - start < deadlineMs) {
    sim.queue.runUntil(sim.now + 50);
    if (a.node.links.get(b.node.address) !== undefined && b.node.links.get(a.node.address) !== undefined) return sim.now - start;
  }
  return null;
}

/** An app message from a to b arrives (over the session, whatever its path). */
function appRoundTrip(sim: SimOverlay, a: SimNode, b: SimNode): boolean {
  let got = false;
  b.node.onApp(77, () => {
    got = true;
  });
  a.node.sendApp(b.node.address, 77, new Uint8Array([1, 2, 3]));
  sim.queue.runUntil(sim.now + 3 * SECOND);
  return got;
}

function stopAll(sim: SimOverlay): void {
  for (const s of sim.live()) sim.kill(s);
}

test('nodes learn their public endpoint and NAT kind from their peers', async () => {
  const sim = await overlayWithPublicCore('nat-learn');
  const eim = spawnBehind(sim, 'linux');
  const sym = spawnBehind(sim, 'symmetric');
  sim.queue.runUntil(sim.now + 90 * SECOND);
  assert.ok(eim.node.joined && sym.node.joined);
  const eimRecord = eim.node.selfRecord();
  assert.equal(eimRecord.nat, NatKind.ENDPOINT_INDEPENDENT);
  assert.ok(eimRecord.endpoints[0]?.startsWith('198.'), `public mapping first: ${eimRecord.endpoints.join(',')}`);
  assert.equal(sym.node.selfRecord().nat, NatKind.ENDPOINT_DEPENDENT);
  const open = sim.live()[0] as SimNode;
  assert.equal(open.node.selfRecord().nat, undefined);
  stopAll(sim);
});

test('two nodes behind Linux NATs punch a direct path, whichever side asks', async () => {
  const sim = await overlayWithPublicCore('nat-punch');
  const a = spawnBehind(sim, 'linux');
  const b = spawnBehind(sim, 'linux');
  const c = spawnBehind(sim, 'port-restricted');
  sim.queue.runUntil(sim.now + 90 * SECOND);
  const ab = openSession(sim, a, b, 10 * SECOND);
  assert.ok(ab !== null, 'a reaches b');
  assert.equal(a.node.pathOf(b.node.address)?.path, 'direct', a.node.pathOf(b.node.address)?.reason);
  assert.equal(b.node.pathOf(a.node.address)?.path, 'direct');
  const cb = openSession(sim, c, b, 10 * SECOND);
  assert.ok(cb !== null, 'c reaches b');
  assert.equal(c.node.pathOf(b.node.address)?.path, 'direct', c.node.pathOf(b.node.address)?.reason);
  assert.ok(appRoundTrip(sim, a, b));
  stopAll(sim);
});

test('two nodes behind symmetric NATs are relayed through a common neighbour, and a dead relay is replaced within 5 s', async () => {
  const sim = await overlayWithPublicCore('nat-relay');
  const a = spawnBehind(sim, 'symmetric');
  const b = spawnBehind(sim, 'linux-symmetric');
  sim.queue.runUntil(sim.now + 90 * SECOND);
  const took = openSession(sim, a, b, 30 * SECOND);
  assert.ok(took !== null, 'a session comes up');
  const path = a.node.pathOf(b.node.address);
  assert.equal(path?.path, 'relayed', path?.reason);
  assert.match(path?.reason ?? '', /symmetric/);
  const relay = path?.via ?? null;
  assert.ok(relay !== null);
  assert.ok(appRoundTrip(sim, a, b), 'traffic flows over the relay');

  const relayNode = sim.live().find((s) => s.node.address === relay) as SimNode;
  sim.kill(relayNode);
  const killedAt = sim.now;
  let replacedAfter: number | null = null;
  while (sim.now - killedAt < 15 * SECOND) {
    sim.queue.runUntil(sim.now + 100);
    const ea = a.node.links.get(b.node.address)?.endpoint;
    const eb = b.node.links.get(a.node.address)?.endpoint;
    const ra = ea === undefined ? null : relayOf(ea);
    const rb = eb === undefined ? null : relayOf(eb);
    if (ra !== null && rb !== null && ra !== relay && rb !== relay) {
      replacedAfter = sim.now - killedAt;
      break;
    }
  }
  assert.ok(replacedAfter !== null && replacedAfter <= 5 * SECOND, `reserve relay took over after ${replacedAfter} ms`);
  assert.ok(appRoundTrip(sim, a, b), 'traffic flows over the reserve relay');
  stopAll(sim);
});

test('a NAT that restarts with new ports: the pair behind NATs talks again within 30 s', async () => {
  const sim = await overlayWithPublicCore('nat-restart');
  const natA = sim.network.createNat('linux');
  const a = sim.spawn({ behind: natA });
  const b = spawnBehind(sim, 'linux');
  sim.queue.runUntil(sim.now + 90 * SECOND);
  assert.ok(openSession(sim, a, b, 10 * SECOND) !== null);
  assert.equal(a.node.pathOf(b.node.address)?.path, 'direct');
  const before = a.node.selfRecord().endpoints[0];
  natA.restart({ newPublicIp: true });
  const restartedAt = sim.now;
  let healedAfter: number | null = null;
  let got = 0;
  b.node.onApp(78, () => {
    got++;
  });
  while (sim.now - restartedAt < 60 * SECOND) {
    const seen = got;
    a.node.sendApp(b.node.address, 78, new Uint8Array([1]));
    sim.queue.runUntil(sim.now + SECOND);
    if (got > seen && a.node.links.get(b.node.address) !== undefined) {
      healedAfter = sim.now - restartedAt;
      break;
    }
  }
  assert.ok(healedAfter !== null && healedAfter <= 30 * SECOND, `healed after ${healedAfter} ms`);
  assert.notEqual(a.node.selfRecord().endpoints[0], before, 'a learned its new public endpoint');
  stopAll(sim);
});

test('a ring with many members behind symmetric NATs stays whole: adjacent NATed members link through relays', async () => {
  const sim = await overlayWithPublicCore('nat-dense', 8);
  const natted: SimNode[] = [];
  for (let i = 0; i < 16; i++) {
    natted.push(spawnBehind(sim, i % 2 === 0 ? 'symmetric' : 'linux-symmetric'));
    sim.queue.runUntil(sim.now + SECOND);
  }
  sim.queue.runUntil(sim.now + 4 * 60 * SECOND);
  const members = sim.live().map((s) => s.node);
  assert.ok(members.every((n) => n.joined), 'every node joined');
  assert.equal(ringConsistency(members), 1);
  // Every NATed node reaches every other over the overlay.
  let answered = 0;
  for (const a of natted.slice(0, 4)) {
    for (const b of natted) {
      if (a === b) continue;
      a.node.ping(b.node.address, 3 * SECOND, (r) => {
        if (r !== null) answered++;
      });
    }
  }
  sim.queue.runUntil(sim.now + 4 * SECOND);
  assert.equal(answered, 4 * 15);
  stopAll(sim);
});
