import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventQueue } from '../../src/overlay/sim/event-queue.js';
import { SIM_EPOCH_MS } from '../../src/overlay/sim/virtual-clock.js';
import { createLatencyModel, type LatencyModelOptions } from '../../src/overlay/sim/latency-model.js';
import {
  DEFAULT_PORT,
  SimNetwork,
  SimNetworkError,
  type Middlebox,
  type SimSocket,
} from '../../src/overlay/sim/sim-network.js';
import { createSeededRandom } from '../../src/overlay/random.js';

function makeNet(seed: number | string, opts: { lossRate?: number; latency?: LatencyModelOptions } = {}) {
  const queue = new EventQueue(SIM_EPOCH_MS);
  const network = new SimNetwork({
    queue,
    random: createSeededRandom(`${seed}:net`),
    latency: createLatencyModel(createSeededRandom(`${seed}:lat`), opts.latency),
    lossRate: opts.lossRate,
  });
  return { queue, network };
}

/** Every test ends here: nothing left bound, nothing in flight, counters add up. */
function assertClean(network: SimNetwork, queue: EventQueue): void {
  const c = network.counters();
  assert.equal(c.sent, c.delivered + c.lost + c.droppedNoRoute + c.filtered + c.expired + c.inFlight);
  assert.equal(c.inFlight, 0);
  assert.equal(network.openSockets(), 0);
  assert.equal(queue.size, 0);
}

test('hosts get unique 10.0.0.0/8 addresses; sockets bind once per port', () => {
  const { queue, network } = makeNet(1);
  const ips = new Set<string>();
  for (let i = 0; i < 600; i++) {
    const h = network.createHost();
    assert.match(h.ip, /^10\.(\d+)\.(\d+)\.(\d+)$/);
    const last = Number(h.ip.split('.')[3]);
    assert.ok(last >= 1 && last <= 254, h.ip);
    ips.add(h.ip);
  }
  assert.equal(ips.size, 600);
  const host = network.createHost();
  const s = host.bind();
  assert.equal(s.port, DEFAULT_PORT);
  assert.equal(s.localEndpoint, `${host.ip}:4000`);
  assert.throws(() => host.bind(4000), (e: unknown) => e instanceof SimNetworkError && e.code === 'EADDRINUSE');
  assert.throws(() => host.bind(70000), (e: unknown) => e instanceof SimNetworkError && e.code === 'EINVAL');
  const eph = host.bind(0);
  assert.ok(eph.port >= 49152);
  assert.equal(host.openSockets(), 2);
  s.close();
  s.close();
  eph.close();
  assert.equal(host.bind(4000).port, 4000); // free again
  host.kill();
  assertClean(network, queue);
});

test('a packet arrives after the modelled one-way latency, as the same bytes', () => {
  const { queue, network } = makeNet(2, { latency: { jitter: 0 } });
  const a = network.createHost();
  const b = network.createHost();
  const sa = a.bind();
  const sb = b.bind(5000);
  const got: Array<{ at: number; from: string; bytes: Uint8Array }> = [];
  sb.onPacket((from, bytes) => got.push({ at: queue.now, from, bytes }));
  queue.runUntil(SIM_EPOCH_MS + 1000);
  const payload = new Uint8Array([1, 2, 3]);
  sa.send(sb.localEndpoint, payload);
  const expected = network.latencyMs(a, b);
  assert.ok(expected >= 5 && expected <= 300);
  assert.equal(network.latencyMs(b, a), expected);
  queue.runUntil(SIM_EPOCH_MS + 2000);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.at, SIM_EPOCH_MS + 1000 + expected);
  assert.equal(got[0]!.from, sa.localEndpoint);
  assert.equal(got[0]!.bytes, payload); // zero copy: the very same array
  assert.deepEqual(sa.stats, { sent: 1, received: 0, bytesSent: 3, bytesReceived: 0 });
  assert.deepEqual(sb.stats, { sent: 0, received: 1, bytesSent: 0, bytesReceived: 3 });
  assert.equal(network.sent, 1);
  assert.equal(network.delivered, 1);
  assert.equal(network.bytes, 3);
  a.kill();
  b.kill();
  assertClean(network, queue);
});

test('jitter only adds a little delay, never below the base latency', () => {
  const { queue, network } = makeNet(3, { latency: { jitter: 0.05 } });
  const a = network.createHost();
  const b = network.createHost();
  const sa = a.bind();
  const sb = b.bind();
  const base = network.latencyMs(a, b);
  const delays: number[] = [];
  let sentAt = 0;
  sb.onPacket(() => delays.push(queue.now - sentAt));
  for (let i = 0; i < 500; i++) {
    sentAt = queue.now;
    sa.send(sb.localEndpoint, new Uint8Array(1));
    queue.runUntil(queue.now + 400);
  }
  assert.equal(delays.length, 500);
  for (const d of delays) assert.ok(d >= base && d <= Math.min(300, base * 1.05) + 1e-9, `${d} vs ${base}`);
  assert.ok(new Set(delays).size > 400, 'jitter varies per packet');
  a.kill();
  b.kill();
  assertClean(network, queue);
});

test('latencies lie in [5, 300] ms, are symmetric and clustered by continent', () => {
  const model = createLatencyModel(createSeededRandom('clusters'));
  const hosts = Array.from({ length: 2000 }, () => model.place());
  const perCluster = new Map<number, number>();
  for (const h of hosts) perCluster.set(h.cluster, (perCluster.get(h.cluster) ?? 0) + 1);
  assert.equal(perCluster.size, 5);
  assert.ok(new Set(perCluster.values()).size > 1, 'clusters have different sizes');
  const pick = createSeededRandom('pairs');
  const intra: number[] = [];
  const inter: number[] = [];
  for (let i = 0; i < 50_000; i++) {
    const a = hosts[pick.int(hosts.length)]!;
    const b = hosts[pick.int(hosts.length)]!;
    if (a === b) continue;
    const ms = model.oneWayMs(a, b);
    assert.ok(ms >= 5 && ms <= 300, `${ms}`);
    assert.equal(model.oneWayMs(b, a), ms);
    (a.cluster === b.cluster ? intra : inter).push(ms);
  }
  const share = (xs: number[], ok: (x: number) => boolean): number => xs.filter(ok).length / xs.length;
  assert.ok(share(intra, (x) => x <= 60) > 0.95, `intra ≤ 60 ms: ${share(intra, (x) => x <= 60)}`);
  assert.ok(share(inter, (x) => x >= 60) > 0.95, `inter ≥ 60 ms: ${share(inter, (x) => x >= 60)}`);
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
  assert.ok(median(intra) > 10 && median(intra) < 45, `intra median ${median(intra)}`);
  assert.ok(median(inter) > 80 && median(inter) < 200, `inter median ${median(inter)}`);
  // Same seed, same coordinates.
  const again = createLatencyModel(createSeededRandom('clusters'));
  assert.deepEqual(again.place(), hosts[0]);
});

test('loss rate: about the configured share of 20k packets is lost; changeable at run time', () => {
  const { queue, network } = makeNet(4, { lossRate: 0.1 });
  const a = network.createHost().bind();
  const b = network.createHost().bind();
  let received = 0;
  b.onPacket(() => received++);
  const bytes = new Uint8Array(10);
  for (let i = 0; i < 20_000; i++) a.send(b.localEndpoint, bytes);
  queue.runUntil(queue.now + 1000);
  assert.ok(Math.abs(network.lost / 20_000 - 0.1) < 0.01, `lost ${network.lost}`);
  assert.equal(received + network.lost, 20_000);
  const lostBefore = network.lost;
  network.setLossRate(0);
  for (let i = 0; i < 1000; i++) a.send(b.localEndpoint, bytes);
  network.setLossRate(1);
  for (let i = 0; i < 1000; i++) a.send(b.localEndpoint, bytes);
  queue.runUntil(queue.now + 1000);
  assert.equal(network.lost, lostBefore + 1000);
  assert.equal(received, 20_000 - lostBefore + 1000);
  assert.throws(() => network.setLossRate(1.5), RangeError);
  a.host.kill();
  b.host.kill();
  assertClean(network, queue);
});

test('a killed host neither sends nor receives, even packets already in flight', () => {
  const { queue, network } = makeNet(5);
  const a = network.createHost();
  const b = network.createHost();
  const sa = a.bind();
  const sb = b.bind();
  const gotA: string[] = [];
  const gotB: string[] = [];
  sa.onPacket((from) => gotA.push(from));
  sb.onPacket((from) => gotB.push(from));
  sa.send(sb.localEndpoint, new Uint8Array(1)); // in flight when b dies
  sb.send(sa.localEndpoint, new Uint8Array(1)); // already on the wire: still arrives
  b.kill();
  assert.equal(b.alive, false);
  assert.equal(sb.closed, true);
  sb.send(sa.localEndpoint, new Uint8Array(1)); // a dead host sends nothing
  sa.send(sb.localEndpoint, new Uint8Array(1)); // nobody there any more
  queue.runUntil(queue.now + 1000);
  assert.equal(gotB.length, 0);
  assert.deepEqual(gotA, [sb.localEndpoint]);
  assert.equal(network.sent, 3);
  assert.equal(network.droppedNoRoute, 2);
  assert.equal(b.openSockets(), 0);
  assert.throws(() => b.bind(), (e: unknown) => e instanceof SimNetworkError && e.code === 'EHOSTDOWN');
  // Back after a reboot, with the same address and a fresh socket.
  b.revive();
  const sb2 = b.bind();
  sb2.onPacket((from) => gotB.push(from));
  sa.send(sb2.localEndpoint, new Uint8Array(1));
  queue.runUntil(queue.now + 1000);
  assert.deepEqual(gotB, [sa.localEndpoint]);
  a.kill();
  b.kill();
  assertClean(network, queue);
});

test('unknown, malformed, unbound and closed endpoints are counted as dropped', () => {
  const { queue, network } = makeNet(6);
  const a = network.createHost().bind();
  const b = network.createHost().bind();
  for (const to of ['10.99.99.99:4000', 'nonsense', `${b.host.ip}:4001`, `${b.host.ip}:04000`, '']) {
    a.send(to, new Uint8Array(1));
  }
  assert.equal(network.droppedNoRoute, 5);
  assert.equal(queue.size, 0);
  a.send(b.localEndpoint, new Uint8Array(1));
  b.close();
  queue.runUntil(queue.now + 1000);
  assert.equal(network.droppedNoRoute, 6);
  assert.equal(network.delivered, 0);
  a.close();
  assertClean(network, queue);
});

test('middlebox seam: outbound rewrite and inbound filtering', () => {
  const { queue, network } = makeNet(7);
  const a = network.createHost();
  const b = network.createHost();
  const sa = a.bind();
  const sb = b.bind();
  const seen: string[] = [];
  sb.onPacket((from) => seen.push(from));
  const rewriter: Middlebox = {
    outbound: (p) => {
      p.from = `${a.ip}:9999`;
      return true;
    },
    inbound: () => true,
  };
  const firewall: Middlebox = { outbound: () => true, inbound: (p) => p.bytes[0] !== 0 };
  a.setMiddlebox(rewriter);
  b.setMiddlebox(firewall);
  sa.send(sb.localEndpoint, new Uint8Array([0]));
  sa.send(sb.localEndpoint, new Uint8Array([1]));
  queue.runUntil(queue.now + 1000);
  assert.deepEqual(seen, [`${a.ip}:9999`]);
  assert.equal(network.filtered, 1);
  a.kill();
  b.kill();
  assertClean(network, queue);
});

test('same seed → identical delivery trace (with jitter and loss)', () => {
  const run = (seed: number): string[] => {
    const { queue, network } = makeNet(seed, { lossRate: 0.05 });
    const r = createSeededRandom(`${seed}:traffic`);
    const sockets: SimSocket[] = [];
    for (let i = 0; i < 50; i++) sockets.push(network.createHost().bind());
    const trace: string[] = [];
    for (const s of sockets) {
      s.onPacket((from, bytes) => {
        trace.push(`${(queue.now - SIM_EPOCH_MS).toFixed(6)} ${from}>${s.localEndpoint} ${bytes[0]}`);
        if (bytes[0]! > 0) s.send(sockets[r.int(sockets.length)]!.localEndpoint, new Uint8Array([bytes[0]! - 1]));
      });
    }
    for (let i = 0; i < 200; i++) sockets[r.int(50)]!.send(sockets[r.int(50)]!.localEndpoint, new Uint8Array([20]));
    queue.runUntil(queue.now + 60_000);
    for (const s of sockets) s.host.kill();
    assertClean(network, queue);
    return trace;
  };
  const a = run(11);
  assert.ok(a.length > 1000, `${a.length}`);
  assert.deepEqual(run(11), a);
  assert.notDeepEqual(run(12), a);
});

test('NAT public addresses: malformed or out-of-range ports are unroutable, openers are counted as expired', () => {
  const { queue, network } = makeNet(8);
  const nat = network.createNat('full-cone');
  const inside = network.createHost({ behind: nat }).bind();
  const outside = network.createHost().bind();
  for (const port of ['04000', '70000', '', '0', '4000x']) outside.send(`${nat.publicIp}:${port}`, new Uint8Array(1));
  outside.send('198.19.255.254:4000', new Uint8Array(1)); // in the NAT range, but no NAT there
  assert.equal(network.droppedNoRoute, 6);
  outside.sendOpener(inside.localEndpoint, new Uint8Array(1), 3);
  inside.sendOpener(outside.localEndpoint, new Uint8Array(1), 3);
  assert.equal(network.expired, 2);
  assert.equal(queue.size, 0);
  assert.equal(nat.stats().translatedOut, 1);
  inside.host.kill();
  outside.host.kill();
  assertClean(network, queue);
});
