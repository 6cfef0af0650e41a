/**
 * Prints a fingerprint of one simulator run: events processed, packets sent and delivered, and a
 * digest of every node's connection table at the end. A change meant to make the simulator or
 * the overlay faster without changing what it does must leave the fingerprint as it was (the
 * simulator is deterministic for a seed), and only the wall time may move.
 *
 *   node --import tsx bench/sim-fingerprint.ts [nodes=1000] [minutes=10] [seed=1] [churnMedianMinutes=0]
 */
import { createHash } from 'node:crypto';
import { SimOverlay } from '../src/overlay/sim/sim-overlay.js';

const [nodes = 1000, minutes = 10, seed = 1, churn = 0] = process.argv.slice(2).map(Number);
const MINUTE = 60_000;
const sim = await SimOverlay.create({ seed, encrypt: false });
const start = sim.now;
const spread = Math.min(minutes * MINUTE * 0.33, Math.max(MINUTE, Math.min(10 * MINUTE, nodes * 60)));
for (let i = 0; i < nodes; i++) {
  sim.queue.schedule(start + (i * spread) / nodes, () => {
    const s = sim.spawn();
    if (churn > 0) {
      const session = -Math.log(1 - sim.randomFloat()) * ((churn * MINUTE) / Math.LN2);
      sim.queue.schedule(sim.now + session, () => sim.kill(s));
    }
  });
}
const wallStart = performance.now();
const settled = Math.min(start + spread + MINUTE, start + minutes * MINUTE);
sim.queue.runUntil(settled);
const settledAt = performance.now();
const settledCpu = process.cpuUsage();
sim.queue.runUntil(start + minutes * MINUTE);
const wall = (performance.now() - wallStart) / 1000;
/** Wall time after the joins (plus a minute): the steady state. */
const steadyWall = (performance.now() - settledAt) / 1000;
const steadyCpuUsage = process.cpuUsage(settledCpu);
const steadyCpu = (steadyCpuUsage.user + steadyCpuUsage.system) / 1e6;
const digest = createHash('sha256');
for (const s of sim.nodes) {
  digest.update(`${s.alive ? 1 : 0}:${s.node.address.toString(16)}:`);
  for (const c of s.node.table.all()) digest.update(`${c.address.toString(16)}/${c.flags},`);
}
const n = sim.network.counters();
console.log(
  JSON.stringify({
    nodes,
    minutes,
    seed,
    churn,
    events: sim.queue.processed,
    sent: n.sent,
    delivered: n.delivered,
    tables: digest.digest('hex').slice(0, 16),
    wallSeconds: Number(wall.toFixed(1)),
    steadyWallSeconds: Number(steadyWall.toFixed(1)),
    steadyCpuSeconds: Number(steadyCpu.toFixed(1)),
  }),
);
