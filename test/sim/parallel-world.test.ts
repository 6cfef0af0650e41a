import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runExperiment, type ExperimentOptions } from '../../src/overlay/sim/experiment.js';
import { EventQueue } from '../../src/overlay/sim/event-queue.js';
import { createLatencyModel } from '../../src/overlay/sim/latency-model.js';
import { PacketStream, PacketStreamFullError } from '../../src/overlay/sim/packet-stream.js';
import { PartitionClocks } from '../../src/overlay/sim/partition-clocks.js';
import { ParallelWorld, type ParallelNode } from '../../src/overlay/sim/parallel-world.js';
import { createSeededRandom } from '../../src/overlay/random.js';
import { SimNetwork, type RemoteHosts } from '../../src/overlay/sim/sim-network.js';
import { SIM_EPOCH_MS } from '../../src/overlay/sim/virtual-clock.js';

const MINUTE = 60_000;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

test('a packet stream gives back every packet in order, each payload a copy, across the end of its ring', () => {
  const buffer = PacketStream.create(4096);
  const writer = new PacketStream(buffer);
  const reader = new PacketStream(buffer);
  const seen: [string, string, Uint8Array, number, number][] = [];
  const take = (): number => reader.drain((from, to, bytes, at, rank) => seen.push([from, to, bytes, at, rank]));
  let sent = 0;
  // 40 rounds of 3 packets of up to 700 bytes: the 3,968-byte ring wraps many times.
  for (let round = 0; round < 40; round++) {
    for (let k = 0; k < 3; k++, sent++) {
      const n = (sent * 317) % 700;
      writer.write(`10.0.0.${(sent % 250) + 1}:4000`, `10.0.1.${(sent % 7) + 1}:${4000 + k}`, new Uint8Array(n).fill(sent % 251), 1000 + sent / 3, sent * 2 + 1);
    }
    assert.equal(take(), 3);
  }
  assert.equal(take(), 0, 'nothing is taken twice');
  assert.equal(seen.length, sent);
  seen.forEach(([from, to, bytes, at, rank], i) => {
    assert.equal(from, `10.0.0.${(i % 250) + 1}:4000`);
    assert.equal(to, `10.0.1.${(i % 7) + 1}:${4000 + (i % 3)}`);
    assert.equal(at, 1000 + i / 3);
    assert.equal(rank, i * 2 + 1);
    assert.equal(bytes.length, (i * 317) % 700);
    assert.ok(bytes.every((x) => x === i % 251));
  });
  // A reader that falls behind: the writer says so rather than overwrite what was not read.
  assert.throws(() => {
    for (let i = 0; i < 10; i++) writer.write('10.0.0.1:4000', '10.0.0.2:4000', new Uint8Array(600), 1, 1);
  }, PacketStreamFullError);
  take();
  assert.throws(() => writer.write('192.0.2.1:4000', '10.0.0.2:4000', new Uint8Array(1), 1, 1), /not a simulated host/);
});

test('partition clocks round down to 1/16 ms and say which partition is furthest behind', () => {
  const clocks = new PartitionClocks(PartitionClocks.create(3), 3);
  clocks.publish(0, SIM_EPOCH_MS + 100.05);
  clocks.publish(1, SIM_EPOCH_MS + 40.99);
  clocks.publish(2, Infinity);
  assert.equal(clocks.read(0), SIM_EPOCH_MS + 100);
  assert.equal(clocks.read(1), SIM_EPOCH_MS + 40.9375);
  assert.equal(clocks.read(2), Infinity);
  assert.deepEqual(clocks.earliestOther(1), { time: SIM_EPOCH_MS + 100, partition: 0 });
  assert.deepEqual(clocks.earliestOther(0), { time: SIM_EPOCH_MS + 40.9375, partition: 1 });
  assert.throws(() => clocks.publish(0, SIM_EPOCH_MS - 1), /37 hours/);
});

test('events from another partition take their place by rank, not by when they were handed over', () => {
  const order = (handOverFirst: boolean): string[] => {
    const queue = new EventQueue({ rankStride: 2, rankOffset: 0 });
    const ran: string[] = [];
    const remote = (): void => {
      queue.postRanked(10, (x: string) => ran.push(x), 'remote-3', 3 * 2 + 1);
      queue.postRanked(10, (x: string) => ran.push(x), 'remote-0', 0 * 2 + 1);
    };
    if (handOverFirst) remote();
    for (let i = 0; i < 3; i++) queue.post(10, (x: string) => ran.push(x), `local-${i}`);
    if (!handOverFirst) remote();
    queue.runUntil(10);
    return ran;
  };
  assert.deepEqual(order(true), order(false));
  assert.deepEqual(order(true), ['local-0', 'remote-0', 'local-1', 'local-2', 'remote-3']);
  assert.throws(() => new EventQueue({ rankStride: 2, rankOffset: 2 }), RangeError);
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
  for (const p of inFlight.splice(0)) nets[p.to]!.injectRemote(p.from, p.dest, p.bytes, p.at, 0);
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
