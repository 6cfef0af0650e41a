import { controlRequest } from '../node-host/control-client.js';
import type { NodeStatus } from '../node-host/status-snapshot.js';
import { type Command, EXIT_FAILURE, EXIT_OK, defaultStateDir, errorText, parseCommandLine } from './cli-common.js';
import { formatStatus } from './status-format.js';

const USAGE = `Usage: ringvpn status [--state-dir DIR] [--json]

Shows the running node's address, endpoints, ring connections and peers (path, round trip).

  --state-dir DIR   the node's state directory (default ${defaultStateDir()})
  --json            one JSON object: address, endpoints, connections, peers, stats
`;

/** How long status waits for the node (it answers at once unless it is stuck). */
const STATUS_TIMEOUT_MS = 5_000;

export const statusCommand: Command = {
  name: 'status',
  summary: "show a running node's connections and peers",
  usage: USAGE,
  async run(argv) {
    const { values } = parseCommandLine(argv, { 'state-dir': { type: 'string' }, json: { type: 'boolean' } });
    const stateDir = values['state-dir'] ?? defaultStateDir();
    let status: NodeStatus;
    try {
      status = (await controlRequest(stateDir, 'status', undefined, STATUS_TIMEOUT_MS)) as NodeStatus;
    } catch (error) {
      process.stderr.write(`ringvpn status: ${errorText(error)}\n`);
      return EXIT_FAILURE;
    }
    process.stdout.write(values.json === true ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
    return EXIT_OK;
  },
};
