import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type GroupServer, startGroupServer } from './app.js';
import { createStderrLogger } from './log.js';
import { USAGE, UsageError, parseGroupServerArgs } from './options.js';

/**
 * `ringvpn group-server` / `npm run group-server -- --data DIR --port P`: starts the server and
 * runs until SIGINT or SIGTERM. Returns the process exit code (after shutdown, or at once on a usage error).
 */
export async function runGroupServer(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseGroupServerArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const log = createStderrLogger('group-server');
  let server: GroupServer;
  try {
    server = await startGroupServer({ ...options, log });
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const reason =
      code === 'EADDRINUSE'
        ? `port ${options.port} is already in use; pick another with --port`
        : code === 'EACCES'
          ? `not allowed to listen on port ${options.port}; use a port above 1023 or run with more rights`
          : e instanceof Error
            ? e.message
            : String(e);
    process.stderr.write(`The group server could not start: ${reason}\n`);
    return 1;
  }
  process.stdout.write(
    `RingVPN group server listening at ${server.url}\n` +
      `Open ${server.publicUrl}/ in a browser to create a group.\n` +
      (server.fingerprint !== null
        ? `TLS certificate fingerprint (SHA-256): ${server.fingerprint}\n` +
          'Browsers will warn that the certificate is self-signed: check that the fingerprint matches.\n'
        : '') +
      `Data directory: ${options.dataDir}\n`,
  );
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log.info('stopping', { reason: signal });
      server.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  runGroupServer(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`The group server stopped: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
