import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runExperiment, type ExperimentOptions } from '../../src/overlay/sim/experiment.js';
import { EventQueue } from '../../src/overlay/sim/event-queue.js';
import { createLatencyModel } from '../../src/overlay/sim/latency-model.js';
import { PacketBatchBuilder, forEachPacket } from '../../src/overlay/sim/packet-batch.js';
import { ParallelWorld, type ParallelNode } from '../../src/overlay/sim/parallel-world.js';
import { createSeededRandom } from '../../src/overlay/random.js';
import { SimNetwork, type RemoteHosts } from '../../src/overlay/sim/sim-network.js';

const MINUTE = 60_000;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test('a packet batch gives back every packet, in order, each payload a copy of its own', () => {
  const b = new PacketBatchBuilder();
  assert.equal(b.take(), null, 'an empty builder gives no batch');
  const sizes = [0, 1, 5000, 3, 9000];
  sizes.forEach((n, i) => b.push(`10.0.0.${i + 1}:4000`, `10.0.1.${i + 1}:4000`, new Uint8Array(n).fill(i + 1), 1000 + i));
  const batch = b.take()!;
  assert.equal(b.take(), null, 'taking empties the builder');
  const seen: [string, string, Uint8Array, number][] = [];
  forEachPacket(batch, (from, to, bytes, at) => seen.push([from, to, bytes, at]));
  assert.equal(seen.length, sizes.length);
  seen.forEach(([from, to, bytes, at], i) => {
    assert.equal(from, `10.0.0.${i + 1}:4000`);
    assert.equal(to, `10.0.1.${i + 1}:4000`);
    assert.equal(at, 1000 + i);
    assert.equal(bytes.length, sizes[i]);
    assert.ok(bytes.every((x) => x === i + 1));
  });
  seen[1]![2][0] = 99;
  assert.equal(seen[1]![2][0], 99);
  assert.equal(batch.data[0], 2, 'a payload does not share memory with the batch');
});

test('two networks joined as partitions carry packets between them with the latency model delay', () => {
  const latency = createLatencyModel(createSeededRandom('remote-latency'), { jitter: 0 });
  const queues = [new EventQueue(), new EventQueue()];
  const nets = queues.map((queue, i) => new SimNetwork({ queue, random: createSeededRandom(`net-${i}`), latency }));
  const a = nets[0]!.createHost({ addressIndex: 0 });
  const b = nets[1]!.createHost({ addressIndex: 1 });
  const inFlight: { to: number; from: string; dest: string; bytes: Uint8Array; at: number }[] = [];
  const remoteOf = (self: number, other: { ip: string; coordinates: typeof a.coordinates }): RemoteHosts => ({
    find: (ip) => (ip === other.ip ? { coordinates: other.coordinates, partition: 1 - self } : undefined),
    send: (host, from, dest, bytes, at) => inFlight.push({ to: host.partition, from, dest, bytes, at }),
  });
  nets[0]!.setRemoteHosts(remoteOf(0, b));
  nets[1]!.setRemoteHosts(remoteOf(1, a));
  const sa = a.bind();
  const sb = b.bind();
  const got: [string, string, number][] = [];
  sb.onPacket((from, bytes) => got.push([from, new TextDecoder().decode(bytes), queues[1]!.now]));
  sa.send(sb.localEndpoint, enc('hello'));
  sa.send('10.0.0.77:4000', enc('nobody'));
  sa.send(`${b.ip}:4001`, enc('closed port'));
  assert.equal(inFlight.length, 2, 'packets for the other partition leave; one for an unknown host is dropped');
  assert.equal(nets[0]!.droppedNoRoute, 1);
  for (const p of inFlight.splice(0)) nets[p.to]!.injectRemote(p.from, p.dest, p.bytes, p.at);
  queues[1]!.runUntil(10_000);
  const delay = latency.oneWayMs(a.coordinates, b.coordinates);
  assert.deepEqual(got, [[sa.localEndpoint, 'hello', delay]]);
  assert.equal(nets[1]!.delivered, 1);
  assert.equal(nets[1]!.droppedNoRoute, 1, 'the packet for an unbound port is dropped where it arrives');
  assert.equal(nets[1]!.inFlight, 0);
});

async function grow(world: ParallelWorld, n: number, spreadMs: number): Promise<ParallelNode[]> {
  const nodes: ParallelNode[] = [];
  for (let i = 0; i < n; i++) world.schedule(world.now + (i * spreadMs) / n, () => nodes.push(world.spawn()));
  world.runUntil(world.now + spreadMs + 2 * MINUTE);
  return nodes;
}

test('nodes on two threads form one ring: routing, DHT and broadcast cross between the threads', async () => {
  const world = await ParallelWorld.create({ seed: 'parallel-ring', encrypt: true, lossRate: 0, partitions: 2 });
  try {
    const nodes = await grow(world, 40, 20_000);
    assert.equal(world.ringConsistency(), 1);
    assert.equal(world.joiningCount(), 0);
    assert.ok(nodes.every((n) => n.joined && n.address !== null));
    assert.deepEqual(new Set(nodes.map((n) => n.partition)), new Set([0, 1]), 'both threads hold nodes');

    const hops: (number | null)[] = [];
    for (let i = 0; i < 20; i++) world.ping(nodes[i]!, nodes[(i * 7 + 1) % nodes.length]!, 10_000, (h) => hops.push(h));
    const even = nodes.filter((n) => n.partition === 0);
    const odd = nodes.filter((n) => n.partition === 1);
    let put = false;
    world.dhtPut(even[0]!, enc('key'), enc('value'), 600, (ok) => (put = ok));
    world.runUntil(world.now + 5_000);
    assert.ok(put, 'put');
    const got: string[] = [];
    world.dhtGet(odd[0]!, enc('key'), (g) => got.push(...g.values.map((v) => new TextDecoder().decode(v))));
    world.listenBroadcasts(3);
    world.broadcast(odd[1]!, 3, enc('hello'));
    world.runUntil(world.now + 30_000);
    assert.equal(hops.length, 20);
    assert.ok(hops.every((h) => h !== null && h >= 1), 'every routed ping came back');
    assert.deepEqual(got, ['value'], 'a value put on one thread is found from the other');
    assert.equal(world.broadcastsReceived(3), nodes.length, 'the broadcast reached every node on both threads once');

    // A crash on each thread: the ring heals across the threads.
    world.kill(even[2]!);
    world.kill(odd[2]!);
    world.runUntil(world.now + MINUTE);
    assert.equal(world.live().length, nodes.length - 2);
    assert.equal(world.ringConsistency(), 1);
  } finally {
    await world.close();
  }
});

test('a parallel run is a function of its seed: the same seed twice gives the same run', async () => {
  const options: ExperimentOptions = {
    nodes: 60,
    minutes: 3,
    churnMedianMinutes: 0,
    dhtOps: 20,
    seed: 'parallel-determinism',
    encrypt: false,
    lossRate: 0.01,
    killFraction: 0.1,
    killAtMinute: 2,
    hopSamples: 50,
    progress: () => {},
    partitions: 2,
  };
  const strip = ({ wallSeconds: _w, peakRssMB: _m, ...rest }: Awaited<ReturnType<typeof runExperiment>>): object => rest;
  const first = await runExperiment(options);
  const second = await runExperiment(options);
  assert.equal(first.partitions, 2);
  assert.deepEqual(strip(second), strip(first));
  assert.equal(first.consistency, 1);
  assert.equal(first.dhtGetSuccess, 1);
  assert.equal(first.dhtValuesLost, 0);
});
