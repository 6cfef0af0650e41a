/**
 * Throughput of the simulator's event queue, virtual clock and network, in events per second of
 * wall time. Prints figures; asserts nothing.
 *
 *     node --import tsx bench/sim-queue.ts [eventsPerCase]
 *
 * The realistic mix: 100,000 pending timers, each rescheduling itself after a period drawn from
 * what an overlay node runs (half retransmit-like 0.2–1 s, 30 % maintenance 1–5 s, 20 % keepalive
 * 10–30 s), so the heap stays at 100k entries with a wide spread of times.
 */
import { performance } from 'node:perf_hooks';
import { availableParallelism, loadavg } from 'node:os';
import { EventQueue } from '../src/overlay/sim/event-queue.js';
import { createVirtualClock, SIM_EPOCH_MS } from '../src/overlay/sim/virtual-clock.js';
import { createLatencyModel } from '../src/overlay/sim/latency-model.js';
import { SimNetwork, type SimSocket } from '../src/overlay/sim/sim-network.js';
import { createSeededRandom } from '../src/overlay/random.js';

const EVENTS = Number(process.argv[2] ?? 5_000_000);
const TIMERS = 100_000;

const random = createSeededRandom('bench');
/** A table of periods, cycled, so that the figures measure the queue and not the generator. */
const PERIODS = new Float64Array(1 << 16);
for (let i = 0; i < PERIODS.length; i++) {
  const u = random.float();
  const v = random.float();
  PERIODS[i] = u < 0.5 ? 200 + 800 * v : u < 0.8 ? 1000 + 4000 * v : 10_000 + 20_000 * v;
}
let pi = 0;
const nextPeriod = (): number => PERIODS[pi++ & 0xffff]!;

interface Result {
  name: string;
  events: number;
  seconds: number;
}

function measure(name: string, setup: () => EventQueue, events = EVENTS): Result {
  const queue = setup();
  const start = performance.now();
  const startCount = queue.processed;
  // As a simulation runs: one runUntil, stopped after `events` events.
  queue.runUntil(Infinity, { progressEvery: events, onProgress: () => queue.stop() });
  const seconds = (performance.now() - start) / 1000;
  return { name, events: queue.processed - startCount, seconds };
}

function report(r: Result): void {
  const rate = r.events / r.seconds;
  console.log(`${r.name.padEnd(58)} ${(rate / 1e6).toFixed(2).padStart(6)} M events/s  (${r.events} in ${r.seconds.toFixed(2)} s)`);
}

const cases: Array<[string, () => EventQueue]> = [
  [
    'queue.post: 100k timers re-arming, shared fn + arg',
    () => {
      const q = new EventQueue(SIM_EPOCH_MS);
      const tick = (id: number): void => void q.post(q.now + nextPeriod(), tick, id);
      for (let i = 0; i < TIMERS; i++) q.post(q.now + nextPeriod(), tick, i);
      return q;
    },
  ],
  [
    'queue.scheduleCall, shared fn + arg, handle dropped',
    () => {
      const q = new EventQueue(SIM_EPOCH_MS);
      const tick = (id: number): void => void q.scheduleCall(q.now + nextPeriod(), tick, id);
      for (let i = 0; i < TIMERS; i++) q.scheduleCall(q.now + nextPeriod(), tick, i);
      return q;
    },
  ],
  [
    'queue.schedule, new closure per event',
    () => {
      const q = new EventQueue(SIM_EPOCH_MS);
      const arm = (id: number): void => void q.schedule(q.now + nextPeriod(), () => arm(id));
      for (let i = 0; i < TIMERS; i++) arm(i);
      return q;
    },
  ],
  [
    'clock.setInterval (nothing allocated per period)',
    () => {
      const q = new EventQueue(SIM_EPOCH_MS);
      const clocks = Array.from({ length: 1000 }, () => createVirtualClock(q));
      let sink = 0;
      for (let i = 0; i < TIMERS; i++) clocks[i % clocks.length]!.setInterval(() => void sink++, nextPeriod());
      return q;
    },
  ],
  [
    'clock.setTimeout re-armed from its callback (node-style)',
    () => {
      const q = new EventQueue(SIM_EPOCH_MS);
      const clocks = Array.from({ length: 1000 }, () => createVirtualClock(q));
      for (let i = 0; i < TIMERS; i++) {
        const clock = clocks[i % clocks.length]!;
        const arm = (): void => void clock.setTimeout(arm, nextPeriod());
        arm();
      }
      return q;
    },
  ],
  [
    'clock.setTimeout, every 10th tick also resets another timer',
    () => {
      const q = new EventQueue(SIM_EPOCH_MS);
      const clock = createVirtualClock(q);
      const handles: Array<{ cancel(): void }> = [];
      let n = 0;
      const arm = (i: number): void => {
        handles[i] = clock.setTimeout(() => {
          // Every tenth tick also resets some other timer (a keepalive pushed back by traffic).
          if (++n % 10 === 0) {
            const j = n % TIMERS;
            if (j !== i) {
              handles[j]!.cancel();
              arm(j);
            }
          }
          arm(i);
        }, nextPeriod());
      };
      for (let i = 0; i < TIMERS; i++) arm(i);
      return q;
    },
  ],
];

function networkCase(): Result {
  // 2,000 hosts; each keeps 20 packets bouncing between random peers; 100k timers alongside.
  const q = new EventQueue(SIM_EPOCH_MS);
  const r = createSeededRandom(1);
  const net = new SimNetwork({ queue: q, random: r, latency: createLatencyModel(r), lossRate: 0.01 });
  const sockets: SimSocket[] = [];
  for (let i = 0; i < 2000; i++) sockets.push(net.createHost().bind());
  const payload = new Uint8Array(200);
  for (const s of sockets) {
    s.onPacket(() => s.send(sockets[r.int(sockets.length)]!.localEndpoint, payload));
  }
  const clock = createVirtualClock(q);
  for (let i = 0; i < TIMERS; i++) clock.setInterval(() => {}, nextPeriod());
  const refill = (): void => {
    // Lost packets are replaced so the load stays constant.
    for (let k = net.inFlight; k < 40_000; k++) sockets[r.int(2000)]!.send(sockets[r.int(2000)]!.localEndpoint, payload);
  };
  refill();
  clock.setInterval(refill, 100);
  const start = performance.now();
  const startCount = q.processed;
  const startDelivered = net.delivered;
  q.runUntil(Infinity, { progressEvery: EVENTS, onProgress: () => q.stop() });
  const seconds = (performance.now() - start) / 1000;
  const delivered = net.delivered - startDelivered;
  console.log(
    `  (network: ${delivered} packets delivered = ${((delivered / seconds) / 1e6).toFixed(2)} M packets/s, ` +
      `lost ${net.lost}, in flight ${net.inFlight})`,
  );
  return { name: 'network: 40k packets in flight + 100k intervals', events: q.processed - startCount, seconds };
}

console.log(
  `node ${process.version}, ${EVENTS} events per case, ${TIMERS} pending timers; ` +
    `${availableParallelism()} CPUs, load average ${loadavg()[0]!.toFixed(2)} (figures are per core; other load skews them)`,
);
// One short warm-up pass so that every case runs optimised code.
for (const [, setup] of cases) measure('', setup, 200_000);
for (const [name, setup] of cases) report(measure(name, setup));
report(networkCase());
