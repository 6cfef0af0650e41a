import type { ConnectResult } from '../node-host/connect-session.js';
import { controlRequest } from '../node-host/control-client.js';
import { MAX_CONNECT_TIMEOUT_MS, MIN_CONNECT_TIMEOUT_MS } from '../node-host/control-protocol.js';
import { type Command, EXIT_FAILURE, EXIT_OK, UsageError, defaultStateDir, errorText, intOption, parseCommandLine } from './cli-common.js';
import { completeAddress } from './ping-command.js';

const USAGE = `Usage: ringvpn connect ADDRESS [--state-dir DIR] [--timeout SECONDS] [--json]

Asks the running node to open a session with the node at ADDRESS (40 hex digits, or the first 8
or more of a peer the node knows), waits until it is up and prints the path it took (direct,
or relayed via another member), why, and the time from the request to the first authenticated
packet. The node keeps the session open afterwards.

  --state-dir DIR    the node's state directory (default ${defaultStateDir()})
  --timeout SECONDS  how long to wait (default 15, at most ${MAX_CONNECT_TIMEOUT_MS / 1000})
  --json             one JSON object: address, alreadyLinked, ms, path, endpoint, via, reason
`;

export const connectCommand: Command = {
  name: 'connect',
  summary: 'open a session with a node and print its path and connect time',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandLine(argv, { 'state-dir': { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' } }, true);
    if (positionals.length !== 1) throw new UsageError('connect needs exactly one ADDRESS.');
    const wanted = (positionals[0] as string).toLowerCase();
    if (!/^[0-9a-f]{8,40}$/.test(wanted)) throw new UsageError('ADDRESS must be hexadecimal: 40 digits, or at least the first 8 of a known peer.');
    const timeoutMs = intOption(values.timeout, '--timeout', 15, MIN_CONNECT_TIMEOUT_MS / 1000, MAX_CONNECT_TIMEOUT_MS / 1000) * 1000;
    const stateDir = values['state-dir'] ?? defaultStateDir();
    try {
      const address = wanted.length === 40 ? wanted : await completeAddress(stateDir, wanted);
      const r = (await controlRequest(stateDir, 'connect', { address, timeoutMs }, timeoutMs + 5_000)) as ConnectResult;
      process.stdout.write(values.json === true ? `${JSON.stringify(r)}\n` : `${formatConnect(r)}\n`);
      return EXIT_OK;
    } catch (error) {
      process.stderr.write(`ringvpn connect: ${errorText(error)}\n`);
      return EXIT_FAILURE;
    }
  },
};

export function formatConnect(r: ConnectResult): string {
  const who = r.address.slice(0, 12);
  const path = r.path === 'relayed' ? `relayed via ${r.via?.slice(0, 12) ?? '?'}` : r.path === 'direct' ? `direct at ${r.endpoint}` : r.path;
  const when = r.alreadyLinked ? 'already connected' : `connected in ${r.ms} ms`;
  return `${who}: ${when}, ${path}\n  why: ${r.reason}`;
}
