/**
 * DESIGN.md, "Linux NATs and the first probe": a probe that reaches a Linux NAT before its host
 * has sent toward the prober leaves an unreplied conntrack entry, the host's own flow toward the
 * prober then leaves from a random port, and no probe of either side gets through while the
 * prober keeps probing. Openers (low-TTL first packets) and a quiet period avoid and heal it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventQueue } from '../../src/overlay/sim/event-queue.js';
import type { SimNetwork } from '../../src/overlay/sim/sim-network.js';
import { ACK, DATA, PROBE, SECOND, Server, assertClean, makeNet, makeSite, run, type Peer } from './nat-lab.js';

const PROBE_EVERY_MS = 500;

interface Pair {
  queue: EventQueue;
  network: SimNetwork;
  a: Peer;
  b: Peer;
  server: Server;
  /** Where the server sees each side: its public endpoint, the hole-punching candidate. */
  aPublic: string;
  bPublic: string;
}

function linuxPair(seed: string): Pair {
  const { queue, network } = makeNet(seed);
  const a = makeSite(network, 'linux');
  const b = makeSite(network, 'linux');
  const server = new Server(network);
  const aPublic = server.observe(queue, a);
  const bPublic = server.observe(queue, b);
  assert.equal(aPublic, `${a.nat!.publicIp}:4000`);
  assert.equal(bPublic, `${b.nat!.publicIp}:4000`);
  return { queue, network, a, b, server, aPublic, bPublic };
}

/** Each side's opener at its start time, then probes every 500 ms for `seconds`, starting 100 ms later. */
function punch(p: Pair, seconds: number, startA: number, startB: number): void {
  const count = (seconds * SECOND) / PROBE_EVERY_MS;
  p.queue.schedule(p.queue.now + startA, () => p.a.opener(p.bPublic));
  p.queue.schedule(p.queue.now + startB, () => p.b.opener(p.aPublic));
  p.a.probe(p.queue, p.bPublic, count, PROBE_EVERY_MS, startA + 100);
  p.b.probe(p.queue, p.aPublic, count, PROBE_EVERY_MS, startB + 100);
}

/** Both sides got probes and answers from exactly the other's public endpoint. */
function assertPunched(p: Pair): void {
  assert.ok(p.a.got.some((g) => g.kind === PROBE && g.from === p.bPublic), 'A got B’s probes');
  assert.ok(p.a.got.some((g) => g.kind === ACK && g.from === p.bPublic), 'A got answers from B');
  assert.ok(p.b.got.some((g) => g.kind === PROBE && g.from === p.aPublic), 'B got A’s probes');
  assert.ok(p.b.got.some((g) => g.kind === ACK && g.from === p.aPublic), 'B got answers from A');
}

function finish(p: Pair): void {
  for (const peer of [p.a, p.b]) peer.host.kill();
  p.server.socket.host.kill();
  run(p.queue, SECOND);
  assertClean(p.network, p.queue);
}

test('two Linux NATs: both send an opener, then probe: the punch works (also with skewed starts)', () => {
  for (const skewMs of [0, 30, 90]) {
    const p = linuxPair(`linux-ok-${skewMs}`);
    punch(p, 5, 0, skewMs);
    run(p.queue, 6 * SECOND);
    assertPunched(p);
    assert.equal(p.network.expired, 2, 'both openers died on the way');
    for (const peer of [p.a, p.b]) {
      assert.equal(peer.nat!.stats().tupleClashes, 0);
      assert.equal(peer.nat!.stats().mappings, 1, 'one public port for the server and the peer');
    }
    finish(p);
  }
});

test('two Linux NATs: a probe that arrives first spoils the punch until both go quiet for 30 s', () => {
  const p = linuxPair('linux-spoiled');
  const { queue, a, b } = p;
  const latency = p.network.latencyMs(a.host, b.host);
  assert.ok(latency < SECOND);

  // A probes for 60 s; B starts 1 s later, after A's first probe has reached B's NAT.
  const count = 60 * 2;
  a.probe(queue, p.bPublic, count, PROBE_EVERY_MS);
  queue.schedule(queue.now + SECOND, () => b.opener(p.aPublic));
  b.probe(queue, p.aPublic, count - 2, PROBE_EVERY_MS, SECOND + 100);
  run(queue, 61 * SECOND);
  assert.equal(a.got.length, 0, 'A hears nothing');
  assert.equal(b.got.length, 0, 'B hears nothing');
  const bNat = b.nat!.stats();
  assert.equal(bNat.tupleClashes, 1, 'B’s flow toward A could not use port 4000');
  const clashPort = b.nat!.publicEndpointFor(b.endpoint, p.aPublic);
  assert.ok(clashPort !== undefined && clashPort !== p.bPublic, `${clashPort}`);
  assert.ok(bNat.unreplied >= 1, 'A’s probes keep their unreplied entry at B’s NAT alive');
  assert.ok(a.nat!.stats().unreplied >= 1, 'B’s probes from the unexpected port leave entries at A’s NAT');
  assert.ok(bNat.filtered >= count - 1 && a.nat!.stats().filtered >= count - 3);

  // Quiet for only 10 s: the entries are still there, and a correct punch still fails.
  run(queue, 10 * SECOND);
  punch(p, 5, 0, 0);
  run(queue, 6 * SECOND);
  assert.equal(a.got.length + b.got.length, 0, 'a retry within 30 s is spoiled again');

  // Quiet for more than 30 s: every entry of the failed attempt has expired.
  run(queue, 31 * SECOND);
  assert.equal(b.nat!.stats().unreplied, 0);
  assert.equal(a.nat!.stats().unreplied, 0);
  assert.equal(b.nat!.publicEndpointFor(b.endpoint, p.aPublic), undefined);
  // The server's flows saw both directions: their 120 s keep port 4000 as each side's public port.
  assert.equal(b.nat!.publicEndpointFor(b.endpoint, p.server.endpoint), p.bPublic);

  punch(p, 5, 0, 20);
  run(queue, 6 * SECOND);
  assertPunched(p);
  finish(p);
});

test('without openers, a late start spoils it; with openers first, the same timing works', () => {
  for (const openers of [false, true]) {
    const p = linuxPair(`late-${openers}`);
    const latency = p.network.latencyMs(p.a.host, p.b.host);
    const late = latency + 50; // B's first packet leaves after A's first probe reached B's NAT
    if (openers) {
      // Coordinated: each side's opener goes out at once, its probes only after both openers are out.
      p.a.opener(p.bPublic);
      p.b.opener(p.aPublic);
    }
    p.a.probe(p.queue, p.bPublic, 10, PROBE_EVERY_MS, 0);
    p.b.probe(p.queue, p.aPublic, 10, PROBE_EVERY_MS, late);
    run(p.queue, 6 * SECOND);
    if (openers) assertPunched(p);
    else assert.equal(p.a.got.length + p.b.got.length, 0);
    finish(p);
  }
});

test('sendOpener: opens the sender’s own NAT and firewall, dies before the far side, is counted', () => {
  const { queue, network } = makeNet('opener');
  const a = makeSite(network, 'linux');
  const b = makeSite(network, 'linux');
  const fw = makeSite(network, 'firewall');
  const open = makeSite(network, 'public');
  const farB = `${b.nat!.publicIp}:4000`;

  a.opener(farB);
  open.opener(farB);
  run(queue, SECOND);
  assert.equal(network.expired, 2);
  assert.equal(a.nat!.publicEndpointFor(a.endpoint, farB), `${a.nat!.publicIp}:4000`, 'A’s mapping toward B is open');
  assert.equal(a.nat!.stats().translatedOut, 1);
  assert.deepEqual(
    [b.nat!.stats().unreplied, b.nat!.stats().filtered, b.got.length],
    [0, 0, 0],
    'nothing reached B’s NAT',
  );
  assert.deepEqual(a.socket.stats, { sent: 1, received: 0, bytesSent: 1, bytesReceived: 0 });

  // The firewall let the opener out and now takes the answer, as for any packet the host sent.
  fw.opener(open.endpoint);
  run(queue, SECOND);
  assert.equal(open.got.length, 0);
  open.send(fw.endpoint, DATA);
  run(queue, SECOND);
  assert.deepEqual(fw.sources(), [open.endpoint]);
  assert.equal(network.expired, 3);

  for (const ttl of [0, 256, 1.5, Number.NaN]) {
    assert.throws(() => a.socket.sendOpener(farB, new Uint8Array(1), ttl), RangeError);
  }
  a.socket.close();
  a.opener(farB); // a closed socket sends nothing
  assert.equal(network.sent, 4);
  for (const p of [a, b, fw, open]) p.host.kill();
  assertClean(network, queue);
});
