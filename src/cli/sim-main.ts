import { parseArgs } from 'node:util';
import { runExperiment, type ExperimentResult } from '../overlay/sim/experiment.js';
import { runRelayExperiment, type RelayExperimentResult } from '../overlay/sim/relay-experiment.js';

const USAGE = `Usage: npm run sim -- [options]

Runs the real overlay code (handshakes, links, ring, routing, DHT, broadcast) over a simulated
network with a virtual clock, and prints figures. Deterministic for a given seed.

  --nodes N                 nodes to start (default 1000)
  --minutes M               virtual minutes to run (default 10)
  --churn-median-minutes C  median session time under churn; 0 = no churn (default 0)
  --dht-ops K               DHT put/get pairs spread over the run (default 0)
  --seed S                  seed (default 1)
  --kill-fraction F         fraction of live nodes killed at once (default 0)
  --kill-at-minute T        when to kill them (default: half way)
  --loss R                  packet loss rate 0..1 (default 0)
  --hop-samples H           routed pings between random pairs at the end (default 1000)
  --no-encrypt              skip payload encryption (handshakes stay real); said in the output
  --threads T               threads the nodes are spread over (default: 1 below 2,000 nodes,
                            2 from 2,000). The run depends on the seed and on T, never on the
                            machine: with another T the same seed gives another run
  --experiment relays       instead: compare ways to carry pairs that cannot link directly
                            (overlay routing, random / lowest-latency / most-stable relay);
                            uses --nodes (default 300), --minutes (default 30),
                            --churn-median-minutes (default 30), --pairs P (default 20)
  --json                    one JSON object on stdout
  --quiet                   no progress lines on stderr
`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function num(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) fail(`--${name} must be a number between ${min} and ${max}, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        nodes: { type: 'string' },
        minutes: { type: 'string' },
        'churn-median-minutes': { type: 'string' },
        'dht-ops': { type: 'string' },
        seed: { type: 'string' },
        'kill-fraction': { type: 'string' },
        'kill-at-minute': { type: 'string' },
        loss: { type: 'string' },
        'hop-samples': { type: 'string' },
        'no-encrypt': { type: 'boolean' },
        threads: { type: 'string' },
        experiment: { type: 'string' },
        pairs: { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const v = parsed.values;
  if (v.help === true) {
    process.stdout.write(USAGE);
    return;
  }
  const progress = v.quiet === true ? () => {} : (line: string) => process.stderr.write(`[sim] ${line}\n`);
  if (v.experiment !== undefined) {
    if (v.experiment !== 'relays') fail(`unknown experiment "${v.experiment}" (known: relays)`);
    const relays = await runRelayExperiment({
      nodes: Math.round(num(v.nodes, 'nodes', 300, 10, 20_000)),
      pairs: Math.round(num(v.pairs, 'pairs', 20, 1, 1000)),
      minutes: num(v.minutes, 'minutes', 30, 6, 24 * 60),
      churnMedianMinutes: num(v['churn-median-minutes'], 'churn-median-minutes', 30, 0, 1e6),
      seed: v.seed ?? '1',
      progress,
    });
    process.stdout.write(v.json === true ? `${JSON.stringify(relays)}\n` : formatRelays(relays));
    return;
  }
  const minutes = num(v.minutes, 'minutes', 10, 1, 24 * 60);
  const options = {
    nodes: Math.round(num(v.nodes, 'nodes', 1000, 2, 100_000)),
    minutes,
    churnMedianMinutes: num(v['churn-median-minutes'], 'churn-median-minutes', 0, 0, 1e6),
    dhtOps: Math.round(num(v['dht-ops'], 'dht-ops', 0, 0, 1_000_000)),
    seed: v.seed ?? '1',
    encrypt: v['no-encrypt'] !== true,
    lossRate: num(v.loss, 'loss', 0, 0, 0.5),
    killFraction: num(v['kill-fraction'], 'kill-fraction', 0, 0, 0.9),
    killAtMinute: num(v['kill-at-minute'], 'kill-at-minute', minutes / 2, 0, minutes),
    hopSamples: Math.round(num(v['hop-samples'], 'hop-samples', 1000, 0, 100_000)),
    partitions: v.threads === undefined ? undefined : Math.round(num(v.threads, 'threads', 1, 1, 64)),
    progress: v.quiet === true ? () => {} : (line: string) => process.stderr.write(`[sim] ${line}\n`),
  };
  const result = await runExperiment(options);
  if (v.json === true) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(formatResult(result));
}

function formatRelays(r: RelayExperimentResult): string {
  const head = `Pairs that cannot link directly: ${r.pairs} pairs behind symmetric NATs, ${r.nodes} public nodes ` +
    `(churn median ${r.churnMedianMinutes} min), ${r.minutes} virtual min, seed ${r.seed}\n`;
  const rows = r.rows.map((row) =>
    [
      row.way.padEnd(22),
      String(row.medianLatencyMs ?? '-').padStart(10),
      String(row.p99LatencyMs ?? '-').padStart(10),
      `${(row.brokenFraction * 100).toFixed(2)}%`.padStart(8),
      String(row.relayedPairsAtEnd).padStart(8),
      String(row.failovers).padStart(10),
    ].join(' '),
  );
  return `${head}${'way'.padEnd(22)} ${'median ms'.padStart(10)} ${'p99 ms'.padStart(10)} ${'broken'.padStart(8)} ${'relayed'.padStart(8)} ${'failovers'.padStart(10)}\n${rows.join('\n')}\n`;
}

function formatResult(r: ExperimentResult): string {
  const lines = [
    `nodes                ${r.nodes} (${r.liveNodes} live at the end; ${r.joins} joins, ${r.departures} departures)`,
    `time                 ${r.virtualSeconds} virtual s in ${r.wallSeconds} wall s (${r.partitions} thread${r.partitions === 1 ? '' : 's'})`,
    `payloads             ${r.encrypted ? 'encrypted (ChaCha20-Poly1305)' : 'NOT encrypted (--no-encrypt: handshakes real, payload AEAD skipped)'}`,
    `ring consistency     ${r.consistency} (over the ${r.liveNodes - r.joiningAtEnd} live nodes that have joined; ${r.joiningAtEnd} still joining)`,
    `routing hops         mean ${r.meanHops}, p99 ${r.p99Hops} (ping success ${r.pingSuccess})`,
    `DHT                  ${r.dhtPuts} puts (${r.dhtPutSuccess} ok), ${r.dhtGets} gets (${r.dhtGetSuccess} found)`,
    `broadcast coverage   ${r.broadcastCoverage}`,
    `messages             ${r.messagesPerNodePerSecond} per node per second; ${r.meanConnections} connections per node`,
    `peak RSS             ${r.peakRssMB} MB`,
  ];
  if (r.killed !== undefined) {
    lines.push(
      `mass failure         ${r.killed} killed; ring consistent again after ${r.recoverySeconds ?? 'never'} s; ` +
        `${r.dhtValuesLost} of ${r.dhtValuesCheckedAfterKill} earlier DHT values lost`,
    );
  }
  return `${lines.join('\n')}\n`;
}

main().catch((e: unknown) => {
  process.stderr.write(`sim failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
