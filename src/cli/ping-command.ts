import { setTimeout as sleep } from 'node:timers/promises';
import { controlRequest } from '../node-host/control-client.js';
import { MAX_PING_TIMEOUT_MS, MIN_PING_TIMEOUT_MS } from '../node-host/control-protocol.js';
import type { PingResult } from '../node-host/ping-probe.js';
import type { NodeStatus } from '../node-host/status-snapshot.js';
import { type Command, EXIT_FAILURE, EXIT_OK, UsageError, defaultStateDir, errorText, intOption, parseCommandLine } from './cli-common.js';

const USAGE = `Usage: ringvpn ping ADDRESS [--state-dir DIR] [-c N] [--timeout SECONDS] [--json]

Asks the running node to send authenticated probes over the overlay to the node at ADDRESS
(40 hex digits, or the first 8 or more of a peer the node knows) and prints each round trip
and the path it took: direct (with the endpoint), relayed (with the relay) or overlay (hops).

  --state-dir DIR    the node's state directory (default ${defaultStateDir()})
  -c, --count N      probes to send, one per second (default 4)
  --timeout SECONDS  how long to wait for each answer (default 3)
  --json             one JSON object per probe
`;

export const pingCommand: Command = {
  name: 'ping',
  summary: 'send authenticated probes to a node over the overlay',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandLine(
      argv,
      { 'state-dir': { type: 'string' }, count: { type: 'string', short: 'c' }, timeout: { type: 'string' }, json: { type: 'boolean' } },
      true,
    );
    if (positionals.length !== 1) throw new UsageError('ping needs exactly one ADDRESS.');
    const wanted = (positionals[0] as string).toLowerCase();
    if (!/^[0-9a-f]{8,40}$/.test(wanted)) throw new UsageError('ADDRESS must be hexadecimal: 40 digits, or at least the first 8 of a known peer.');
    const count = intOption(values.count, '--count', 4, 1, 10_000);
    const timeoutMs = intOption(values.timeout, '--timeout', 3, MIN_PING_TIMEOUT_MS / 1000, MAX_PING_TIMEOUT_MS / 1000) * 1000;
    const stateDir = values['state-dir'] ?? defaultStateDir();
    try {
      const address = wanted.length === 40 ? wanted : await completeAddress(stateDir, wanted);
      let answered = 0;
      for (let i = 0; i < count; i++) {
        if (i > 0) await sleep(1000);
        const r = (await controlRequest(stateDir, 'ping', { address, timeoutMs }, timeoutMs + 5_000)) as PingResult;
        if (r.answered) answered++;
        process.stdout.write(values.json === true ? `${JSON.stringify(r)}\n` : `${formatPing(r, timeoutMs)}\n`);
      }
      return answered > 0 ? EXIT_OK : EXIT_FAILURE;
    } catch (error) {
      process.stderr.write(`ringvpn ping: ${errorText(error)}\n`);
      return EXIT_FAILURE;
    }
  },
};

export function formatPing(r: PingResult, timeoutMs: number): string {
  const who = r.address.slice(0, 12);
  if (!r.answered) return `no answer from ${who} within ${timeoutMs / 1000} s`;
  const path =
    r.path === 'direct'
      ? `via ${r.endpoint} (direct)`
      : r.path === 'relayed'
        ? `via relay ${r.via?.slice(0, 12) ?? '?'} (relayed)`
        : `over the overlay (${r.hops} hops)`;
  return `pong from ${who} ${path} in ${r.rttMs} ms`;
}

/** Expands a hex prefix to the one peer or connection of the node that starts with it. */
export async function completeAddress(stateDir: string, prefix: string): Promise<string> {
  const status = (await controlRequest(stateDir, 'status', undefined, 5_000)) as NodeStatus;
  const known = new Set([...status.peers, ...status.connections].map((p) => p.address).filter((a) => a.startsWith(prefix)));
  if (known.size === 1) return [...known][0] as string;
  if (known.size === 0) throw new UsageError(`The node knows no peer whose address starts with ${prefix}; give all 40 hex digits.`);
  throw new UsageError(`Several peers' addresses start with ${prefix}; give more digits.`);
}
