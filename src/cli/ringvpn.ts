import { type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, errorText } from './cli-common.js';
import { connectCommand } from './connect-command.js';
import { groupServerCommand } from './group-server-command.js';
import { joinCommand } from './join-command.js';
import { downCommand } from './down-command.js';
import { upCommand } from './up-command.js';
import { nodeCommand } from './node-command.js';
import { pingCommand } from './ping-command.js';
import { simCommand } from './sim-command.js';
import { statusCommand } from './status-command.js';

/**
 * Subcommands, in the order `ringvpn --help` lists them. Each lives in its own module; adding one
 * is an import and one entry here.
 */
const COMMANDS: readonly Command[] = [
  nodeCommand,
  upCommand,
  downCommand,
  statusCommand,
  pingCommand,
  connectCommand,
  joinCommand,
  groupServerCommand,
  simCommand,
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: ringvpn COMMAND [options]',
    '',
    'RingVPN: a peer-to-peer VPN on a structured overlay. Commands:',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'ringvpn COMMAND --help shows the options of one command.',
    '',
  ].join('\n');
}

/** Runs `ringvpn` with the arguments after the program name; resolves with the exit status. */
export async function runRingvpn(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    process.stderr.write(`ringvpn: unknown command "${name}".\n\n${help()}`);
    return EXIT_USAGE;
  }
  if (command !== simCommand && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(command.usage);
    return EXIT_OK;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`ringvpn ${command.name}: ${error.message}\n\n${command.usage}`);
      return EXIT_USAGE;
    }
    process.stderr.write(`ringvpn ${command.name}: ${errorText(error)}\n`);
    return EXIT_FAILURE;
  }
}

runRingvpn(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`ringvpn: ${errorText(error)}\n`);
    process.exitCode = EXIT_FAILURE;
  },
);
