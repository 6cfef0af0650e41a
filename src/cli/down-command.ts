import { setTimeout as sleep } from 'node:timers/promises';
import { runningVpnPid } from '../vpn/vpn-pid-file.js';
import { type Command, EXIT_FAILURE, EXIT_OK, defaultStateDir, parseCommandLine } from './cli-common.js';

const USAGE = `Usage: ringvpn down [--state-dir DIR] [--timeout SECONDS]

Stops the "ringvpn up" of this state directory: it leaves the network, removes the virtual
address and the TAP device, and exits. Waits until it has (default 10 s).

  --state-dir DIR    the state directory "ringvpn up" was started with (default ${defaultStateDir()})
  --timeout SECONDS  how long to wait for it to finish (default 10)
`;

export const downCommand: Command = {
  name: 'down',
  summary: 'leave the virtual LAN started by "ringvpn up"',
  usage: USAGE,
  async run(argv) {
    const { values } = parseCommandLine(argv, { 'state-dir': { type: 'string' }, timeout: { type: 'string' } });
    const stateDir = values['state-dir'] ?? defaultStateDir();
    const timeoutS = Number(values.timeout ?? '10');
    if (!Number.isFinite(timeoutS) || timeoutS <= 0 || timeoutS > 600) {
      process.stderr.write('ringvpn down: --timeout must be a number of seconds from 1 to 600.\n');
      return EXIT_FAILURE;
    }
    const pid = runningVpnPid(stateDir);
    if (pid === undefined) {
      process.stderr.write(`ringvpn down: no "ringvpn up" is running with state directory ${stateDir}.\n`);
      return EXIT_FAILURE;
    }
    try {
      process.kill(pid, 'SIGTERM');
    } catch (error) {
      process.stderr.write(`ringvpn down: cannot stop process ${pid}: ${(error as Error).message} (run as the user who started it).\n`);
      return EXIT_FAILURE;
    }
    const until = Date.now() + timeoutS * 1000;
    while (Date.now() < until) {
      if (!alive(pid)) {
        process.stdout.write(`ringvpn down: stopped (process ${pid}).\n`);
        return EXIT_OK;
      }
      await sleep(100);
    }
    process.stderr.write(`ringvpn down: process ${pid} is still stopping after ${timeoutS} s.\n`);
    return EXIT_FAILURE;
  },
};

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
