import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAdmission } from '../../src/overlay/admission.js';
import { generateIdentity } from '../../src/overlay/identity.js';
import { createLinkLayer } from '../../src/overlay/links/link-layer.js';
import { silentLogger } from '../../src/overlay/log.js';
import { createSeededRandom, type Random } from '../../src/overlay/random.js';
import { SIM_NETWORK_ID, SimOverlay, type SimNode } from '../../src/overlay/sim/sim-overlay.js';
import { createVirtualClock } from '../../src/overlay/sim/virtual-clock.js';
import { encodeMessage } from '../../src/overlay/wire/codec.js';
import type { DhtRecord, OverlayMessage, PeerRecord, RoutedBody } from '../../src/overlay/wire/messages.js';

const MESSAGES = 100_000;

function randomAddress(r: Random): bigint {
  let v = 0n;
  for (const b of r.bytes(20)) v = (v << 8n) | BigInt(b);
  return v;
}

function randomPeer(r: Random): PeerRecord {
  return { address: randomAddress(r), endpoints: [`10.${r.int(4)}.${r.int(4)}.${1 + r.int(200)}:${1 + r.int(65535)}`] };
}

function randomRecord(r: Random): DhtRecord {
  return {
    key: r.bytes(1 + r.int(64)),
    value: r.bytes(r.int(200)),
    writer: r.bytes(32),
    issuedAt: Date.UTC(2026, 0, 1) + r.int(1e9),
    ttlSeconds: 1 + r.int(100_000),
    flags: r.int(2),
    signature: r.bytes(64),
  };
}

function randomBody(r: Random, victim: bigint): RoutedBody {
  switch (r.int(9)) {
    case 0:
      return { type: 'connect-request', token: r.int(2 ** 32), purpose: r.int(3) as 0 | 1 | 2, requester: randomPeer(r), via: null };
    case 1:
      return { type: 'connect-reply', token: r.int(2 ** 32), responder: randomPeer(r), left: [randomPeer(r)], right: [randomPeer(r)] };
    case 2:
      return { type: 'ping', id: r.int(2 ** 32), sentAt: r.float() * 1e12 };
    case 3:
      return { type: 'pong', id: r.int(2 ** 32), sentAt: r.float() * 1e12, requestHops: r.int(256) };
    case 4:
      return { type: 'dht-request', requestId: r.int(2 ** 32), op: r.int(4) as 0 | 1 | 2 | 3, key: r.bytes(1 + r.int(64)), record: r.int(2) === 0 ? null : randomRecord(r) };
    case 5:
      return { type: 'dht-response', requestId: r.int(2 ** 32), status: r.int(5) as 0 | 1 | 2 | 3 | 4, records: [randomRecord(r)] };
    case 6:
      return { type: 'crawl-request', id: r.int(2 ** 32) };
    case 7:
      return { type: 'crawl-reply', id: r.int(2 ** 32), left: [randomPeer(r)], right: [] };
    default:
      return { type: 'app', channel: r.int(65536), data: r.bytes(r.int(100)) };
  }
  void victim;
}

function randomMessage(r: Random, victim: bigint): OverlayMessage {
  switch (r.int(5)) {
    case 0:
      return { kind: 'status', wantReply: r.int(2) === 0, churn: false, left: [randomPeer(r), randomPeer(r)], right: [randomPeer(r)] };
    case 1:
      // No 'leave': a peer that says it leaves is disconnected at once, which would end the flood.
      return { kind: 'status', wantReply: false, churn: false, left: [], right: [randomPeer(r), randomPeer(r)] };
    case 2:
      return { kind: 'dht-replicate', records: [randomRecord(r), randomRecord(r)] };
    case 3:
      return { kind: 'broadcast', id: r.bytes(8), origin: randomAddress(r), rangeStart: victim, rangeEnd: randomAddress(r), hops: r.int(255), channel: r.int(4), data: r.bytes(r.int(64)) };
    default:
      return {
        kind: 'routed',
        source: r.int(2) === 0 ? randomAddress(r) : victim,
        destination: r.int(3) === 0 ? victim : randomAddress(r),
        mode: r.int(4) as 0 | 1 | 2 | 3,
        excludeSource: r.int(2) === 0,
        ttl: r.int(256),
        hops: r.int(256),
        forwardTo: r.int(4) === 0 ? randomAddress(r) : null,
        body: randomBody(r, victim),
      };
  }
}

test(`a linked peer sending ${MESSAGES} hostile and mutated messages neither crashes a node nor grows its state`, async () => {
  const sim = await SimOverlay.create({ seed: 'hostile' });
  for (let i = 0; i < 12; i++) sim.queue.schedule(sim.now + i * 1000, () => sim.spawn());
  sim.queue.runUntil(sim.now + 90_000);
  const [victim, other] = sim.live() as [SimNode, SimNode];

  const r = createSeededRandom('rogue');
  const host = sim.network.createHost();
  const rogue = createLinkLayer({ networkId: SIM_NETWORK_ID, keepaliveIdleMs: 1000, deadAfterMs: 3000 })({
    clock: createVirtualClock(sim.queue),
    random: r,
    transport: host.bind(),
    identity: generateIdentity(r),
    admission: openAdmission,
    log: silentLogger,
  });
  // The victim may drop the rogue (a forged 'leave', say); the rogue just links again.
  let up = false;
  let relinks = 0;
  rogue.onEvent((e) => {
    if (e.kind === 'up') up = true;
    if (e.kind === 'down') {
      up = false;
      relinks++;
      sim.queue.schedule(sim.now + 100, () => rogue.connect(victim.endpoint, victim.node.address));
    }
  });
  rogue.connect(victim.endpoint, victim.node.address);
  sim.queue.runUntil(sim.now + 5_000);
  assert.ok(up, 'the rogue peer linked with the victim');

  let sent = 0;
  for (let round = 0; sent < MESSAGES && round < 1000; round++) {
    for (let i = 0; i < 2000 && sent < MESSAGES && up; i++) {
      const bytes = encodeMessage(randomMessage(r, victim.node.address)).slice();
      if (r.int(2) === 0) {
        const flips = 1 + r.int(4);
        for (let f = 0; f < flips; f++) bytes[r.int(bytes.length)] = r.int(256);
      }
      const cut = r.int(8) === 0 ? bytes.subarray(0, r.int(bytes.length)) : bytes;
      if (rogue.send(victim.node.address, cut)) sent++;
    }
    sim.queue.runUntil(sim.now + 1_000);
  }
  sim.queue.runUntil(sim.now + 60_000);

  const v = victim.node;
  assert.ok(v.table.size <= 160, `connections ${v.table.size}`);
  assert.ok(v.dht.store.keyCount === 0, 'no forged DHT record was stored');
  assert.equal(sent, MESSAGES);
  assert.ok(relinks < 1000);
  assert.ok(v.stats.messagesIn >= MESSAGES * 0.9, `the victim processed them all (${v.stats.messagesIn})`);
  assert.ok(v.stats.decodeErrors > MESSAGES / 10, 'mutated messages were counted as malformed');
  let pong: { hops: number } | null = null;
  other.node.ping(v.address, 10_000, (res) => (pong = res));
  sim.queue.runUntil(sim.now + 15_000);
  assert.ok(pong !== null, 'the victim still answers over the overlay');
  rogue.stop();
  for (const s of sim.live()) sim.kill(s);
});
