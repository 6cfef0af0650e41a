import { createStderrLogger } from '../overlay/real/stderr-logger.js';
import type { VpnHost as VpnHostType } from '../vpn/vpn-host.js';
import { DEFAULT_TAP_NAME, DEFAULT_VPN_NETWORK, DEFAULT_VPN_PORT, type RawSettings, VpnConfigError, readConfigFile, resolveSettings } from '../vpn/vpn-config.js';
import { type Command, EXIT_FAILURE, EXIT_OK, UsageError, defaultStateDir, errorText, parseCommandLine } from './cli-common.js';

const USAGE = `Usage: ringvpn up [--state-dir DIR] [--port P] [--bootstrap HOST:PORT[,...]] [--network NAME]
                  [--subnet CIDR] [--vip IP] [--tap NAME] [--listen IP] [--config FILE] [--log-level L]

Brings this machine onto a virtual LAN (as root): runs an overlay node, creates the TAP device,
claims a virtual IP of the subnet over the DHT and puts it on the device, and carries IP packets
to the other members until SIGTERM / Ctrl-C or "ringvpn down". Every node started with the same
--network name joins the same LAN.

  --state-dir DIR   identity, address lease and control socket (default ${defaultStateDir()})
  --port P          UDP port (default ${DEFAULT_VPN_PORT}; 0: any free port)
  --bootstrap LIST  members to join through, comma-separated host:port; none: start a new network
  --network NAME    the network's name (default "${DEFAULT_VPN_NETWORK}")
  --subnet CIDR     the virtual LAN (default 10.254.0.0/16; its lowest address is reserved)
  --vip IP          the virtual IP to ask for first (another is taken if it is in use)
  --tap NAME        the TAP device's name (default ${DEFAULT_TAP_NAME})
  --listen IP       IPv4 address to bind (default all)
  --config FILE     a JSON file with the same settings (see the README); flags win
  --log-level L     debug, info, warn or error (default info; logs go to stderr)
`;

export const upCommand: Command = {
  name: 'up',
  summary: 'join a virtual LAN: node, TAP device and virtual IP (as root)',
  usage: USAGE,
  async run(argv) {
    const { values } = parseCommandLine(argv, {
      'state-dir': { type: 'string' },
      port: { type: 'string' },
      bootstrap: { type: 'string', multiple: true },
      network: { type: 'string' },
      subnet: { type: 'string' },
      vip: { type: 'string' },
      tap: { type: 'string' },
      listen: { type: 'string' },
      config: { type: 'string' },
      'log-level': { type: 'string' },
    });
    const flags: RawSettings = {
      stateDir: values['state-dir'],
      port: values.port,
      bootstrap: values.bootstrap,
      network: values.network,
      subnet: values.subnet,
      vip: values.vip,
      tap: values.tap,
      listen: values.listen,
      logLevel: values['log-level'],
    };
    let settings;
    try {
      const file = values.config === undefined ? {} : readConfigFile(values.config);
      settings = resolveSettings(flags, file, defaultStateDir());
    } catch (error) {
      if (error instanceof VpnConfigError) throw new UsageError(error.message);
      throw error;
    }
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      process.stderr.write('ringvpn up: needs root (it creates a TAP device and sets its address); run it with sudo.\n');
      return EXIT_FAILURE;
    }
    const log = createStderrLogger(settings.logLevel);
    const { VpnHost } = await import('../vpn/vpn-host.js');
    let vpn: VpnHostType;
    try {
      vpn = await VpnHost.start(settings, log);
    } catch (error) {
      process.stderr.write(`ringvpn up: ${errorText(error)}\n`);
      return EXIT_FAILURE;
    }
    return untilSignal(vpn);
  },
};

/** Resolves once SIGTERM/SIGINT has brought everything down; a second signal exits at once. */
function untilSignal(vpn: VpnHostType): Promise<number> {
  return new Promise((resolve) => {
    process.on('uncaughtException', (error) => {
      process.stderr.write(`ringvpn up: internal error, stopping: ${error.stack ?? error.message}\n`);
      setTimeout(() => process.exit(EXIT_FAILURE), 3_000).unref();
      vpn.stop().finally(() => resolve(EXIT_FAILURE));
    });
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        process.stderr.write(`ringvpn up: second ${signal}, exiting without cleaning up\n`);
        process.exit(EXIT_FAILURE);
      }
      stopping = true;
      vpn.stop().then(
        () => resolve(EXIT_OK),
        (error: unknown) => {
          process.stderr.write(`ringvpn up: stopping failed: ${errorText(error)}\n`);
          resolve(EXIT_FAILURE);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
