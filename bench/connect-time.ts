/**
 * Time from a connect request to the first authenticated packet of the session, in the
 * network-namespace lab (needs root): real `ringvpn node` processes, six public nodes forming
 * the ring, one pair of hosts behind endpoint-independent NATs and one behind symmetric NATs
 * (a fresh lab per run, so that every run starts from NATs that have seen nothing). For each
 * pair, `connect` is asked of the a-side node through its control socket; the node reports the
 * milliseconds from the request to the link's establishment (its handshake's completion, i.e. the
 * first authenticated packet).
 *
 *     npm run bench:connect -- [runs per kind, default 4] [--json]
 *
 * Endpoint-independent pairs are expected direct (hole punched), symmetric pairs relayed through
 * a public member. Targets (issue 4): direct <= 1 s, relayed <= 3 s. Prints figures; asserts nothing.
 */
import { cpus, loadavg } from 'node:os';
import type { ConnectResult } from '../src/node-host/connect-session.js';
import { labUnavailableReason } from '../test/netns/lab/lab.js';
import type { NatKind } from '../test/netns/lab/nat-rules.js';
import { buildNatRing, connect, peerOf } from '../test/netns/lab/nat-ring.js';

const json = process.argv.includes('--json');
const runsText = process.argv.slice(2).find((a) => /^\d+$/.test(a));
const RUNS = Math.max(1, Math.min(20, Number(runsText ?? 4)));

interface Row {
  kind: NatKind;
  /** null: no session within the connect timeout. */
  ms: number | null;
  wallMs: number;
  path: string;
  via: string | null;
  reason: string;
}

function summary(rows: Row[]): { runs: number; medianMs: number | null; maxMs: number | null; paths: Record<string, number> } {
  const ms = rows.flatMap((r) => (r.ms === null ? [] : [r.ms])).sort((x, y) => x - y);
  const mid = Math.floor(ms.length / 2);
  const median = ms.length % 2 === 1 ? (ms[mid] as number) : ((ms[mid - 1] as number) + (ms[mid] as number)) / 2;
  const paths: Record<string, number> = {};
  for (const r of rows) paths[r.path] = (paths[r.path] ?? 0) + 1;
  return { runs: rows.length, medianMs: median ?? null, maxMs: ms[ms.length - 1] ?? null, paths };
}

async function main(): Promise<void> {
  const unavailable = labUnavailableReason();
  if (unavailable !== null) {
    process.stderr.write(`bench:connect cannot run: ${unavailable}\n`);
    process.exitCode = 1;
    return;
  }
  const kinds: NatKind[] = ['endpoint-independent', 'symmetric'];
  const rows: Row[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const built = Date.now();
    const { lab, pairs } = await buildNatRing(kinds, kinds.length);
    process.stderr.write(`run ${run}/${RUNS}: lab ready in ${((Date.now() - built) / 1000).toFixed(1)} s (6 public nodes, 2 pairs behind NATs)\n`);
    try {
      for (let j = 0; j < pairs.length; j++) {
        const { a, b } = pairs[j] as (typeof pairs)[number];
        const kind = kinds[j] as NatKind;
        if ((await peerOf(lab, a, b)) !== undefined) {
          process.stderr.write(`  ${kind}: already linked by the ring before the connect; skipped\n`);
          continue;
        }
        const t = Date.now();
        let row: Row;
        try {
          const r: ConnectResult = await connect(a, b, 30_000);
          row = { kind, ms: r.ms, wallMs: Date.now() - t, path: r.path, via: r.via, reason: r.reason };
        } catch (error) {
          row = { kind, ms: null, wallMs: Date.now() - t, path: 'failed', via: null, reason: (error as Error).message };
        }
        rows.push(row);
        if (!json) process.stdout.write(`${kind.padEnd(21)} ${String(row.ms ?? '-').padStart(6)} ms  ${row.path}${row.via === null ? '' : ` via ${row.via.slice(0, 8)}`}  (${row.reason})\n`);
      }
    } finally {
      await lab.destroy();
    }
  }
  const eim = summary(rows.filter((r) => r.kind === 'endpoint-independent'));
  const sym = summary(rows.filter((r) => r.kind === 'symmetric'));
  const result = {
    bench: 'connect-time',
    what: 'ms from connect request to first authenticated packet, lab with real NATs',
    machine: { cpus: cpus().length, loadavg1: Number(loadavg()[0]?.toFixed(2)) },
    direct: { ...eim, targetMs: 1_000 },
    relayed: { ...sym, targetMs: 3_000 },
    runs: rows,
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    [
      '',
      'connect request -> first authenticated packet',
      `  endpoint-independent NATs (expect direct): median ${eim.medianMs} ms, max ${eim.maxMs} ms over ${eim.runs} runs, paths ${JSON.stringify(eim.paths)} (target <= 1000 ms)`,
      `  symmetric NATs (expect relayed):           median ${sym.medianMs} ms, max ${sym.maxMs} ms over ${sym.runs} runs, paths ${JSON.stringify(sym.paths)} (target <= 3000 ms)`,
      '',
    ].join('\n'),
  );
}

await main();
