import { type NodeHost as NodeHostType } from '../node-host/node-host.js';
import type { LogLevel } from '../overlay/log.js';
import { PUBLIC_NETWORK_NAME, validNetworkName } from '../overlay/real/network-id.js';
import { createStderrLogger, isLogLevel } from '../overlay/real/stderr-logger.js';
import { type Command, EXIT_FAILURE, EXIT_OK, UsageError, defaultStateDir, errorText, intOption, parseCommandLine } from './cli-common.js';

const USAGE = `Usage: ringvpn node [--port P] [--bootstrap HOST:PORT[,HOST:PORT...]] [--state-dir DIR]
                    [--network NAME] [--listen IP] [--log-level LEVEL]

Runs one overlay node on real UDP sockets until it gets SIGTERM or SIGINT (Ctrl-C).

  --port P          UDP port (default 0: any free port, printed at start)
  --bootstrap LIST  nodes to join through, comma-separated host:port; none: start a new ring
  --state-dir DIR   identity key and control socket (default ${defaultStateDir()});
                    the key is created on first start (mode 0600) and reused afterwards
  --network NAME    which overlay to join (default "${PUBLIC_NETWORK_NAME}", the public ring)
  --listen IP       IPv4 address to bind (default 0.0.0.0: all; an IPv6 socket is added if possible)
  --log-level L     debug, info, warn or error (default info; logs go to stderr)
`;

export const nodeCommand: Command = {
  name: 'node',
  summary: 'run one overlay node on real UDP sockets',
  usage: USAGE,
  async run(argv) {
    const { values } = parseCommandLine(argv, {
      port: { type: 'string' },
      bootstrap: { type: 'string', multiple: true },
      'state-dir': { type: 'string' },
      network: { type: 'string' },
      listen: { type: 'string' },
      'log-level': { type: 'string' },
    });
    const port = intOption(values.port, '--port', 0, 0, 65535);
    const bootstraps = (values.bootstrap ?? []).flatMap((b) => b.split(',')).map((b) => b.trim()).filter((b) => b !== '');
    const networkName = values.network ?? PUBLIC_NETWORK_NAME;
    if (!validNetworkName(networkName)) throw new UsageError('--network must be 1 to 64 printable characters without spaces.');
    const level = values['log-level'] ?? 'info';
    if (!isLogLevel(level)) throw new UsageError('--log-level must be debug, info, warn or error.');
    const log = createStderrLogger(level as LogLevel);
    const stateDir = values['state-dir'] ?? defaultStateDir();

    const { NodeHost } = await import('../node-host/node-host.js');
    let host: NodeHostType;
    try {
      host = await NodeHost.start({ stateDir, port, listenHost: values.listen, bootstraps, networkName, log });
    } catch (error) {
      process.stderr.write(`ringvpn node: ${errorText(error)}\n`);
      return EXIT_FAILURE;
    }
    return waitForSignal(host);
  },
};

/**
 * Resolves after the first SIGTERM/SIGINT has stopped the node cleanly; a second signal exits at
 * once. A bug that escapes every handler is logged and the node is stopped (control socket
 * removed) before exiting with status 1, rather than dying with a stale socket.
 */
function waitForSignal(host: NodeHostType): Promise<number> {
  return new Promise((resolve) => {
    process.on('uncaughtException', (error) => {
      process.stderr.write(`ringvpn node: internal error, stopping: ${error.stack ?? error.message}\n`);
      const forced = setTimeout(() => process.exit(EXIT_FAILURE), 2_000);
      forced.unref();
      host.stop().finally(() => resolve(EXIT_FAILURE));
    });
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`ringvpn node: second ${signal}, exiting without cleaning up\n`);
        process.exit(EXIT_FAILURE);
      }
      stopping = true;
      host.stop().then(
        () => resolve(EXIT_OK),
        (error: unknown) => {
          process.stderr.write(`ringvpn node: stopping failed: ${errorText(error)}\n`);
          resolve(EXIT_FAILURE);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
