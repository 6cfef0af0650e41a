import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { JoinProgress } from '../groups/join.js';
import { type Command, EXIT_FAILURE, EXIT_OK, UsageError, defaultStateDir, errorText, intOption, parseCommandLine } from './cli-common.js';

const USAGE = `Usage: ringvpn join INVITATION --name NAME --email EMAIL [--state-dir DIR] [--wait MINUTES]
       ringvpn join INVITATION --join-code CODE [--state-dir DIR] [--wait MINUTES]

Asks to join a group, waits until an admin of the group approves, then saves this computer's
member certificate. The private key stays in the state directory (mode 0600); only its public
half goes to the group server. Run the same command again to pick up where it stopped.

  INVITATION        the ringvpn://join?... link an admin sent you, or the invitation file
  --name NAME       how the group's admins and members see you (1 to 64 characters)
  --email EMAIL     shown to the admins with your request
  --join-code CODE  the code the group's web join page gave you (rvj1....), instead of --name/--email
  --state-dir DIR   where the key, certificate and revocation list go (default ${defaultStateDir()});
                    use the same directory for "ringvpn node" and "ringvpn up"
  --wait MINUTES    stop waiting for approval after this long (default 60; the request stays filed)
`;

const MAX_INVITATION_FILE_BYTES = 4096;
/** How often the server is asked whether an admin decided. */
const POLL_INTERVAL_MS = 2_000;

export const joinCommand: Command = {
  name: 'join',
  summary: 'ask to join a group with an invitation and wait for approval',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandLine(
      argv,
      {
        name: { type: 'string' },
        email: { type: 'string' },
        'join-code': { type: 'string' },
        'state-dir': { type: 'string' },
        wait: { type: 'string' },
      },
      true,
    );
    if (positionals.length !== 1) throw new UsageError('join needs exactly one INVITATION (the ringvpn://join?... link or the invitation file).');
    const joinCode = values['join-code'];
    if (joinCode === undefined && (values.name === undefined || values.email === undefined)) {
      throw new UsageError('give --name and --email (the admins see both with your request), or --join-code from the web join page.');
    }
    const waitMinutes = intOption(values.wait, '--wait', 60, 1, 7 * 24 * 60);
    const invitation = readInvitation(positionals[0] as string);
    const stateDir = values['state-dir'] ?? defaultStateDir();

    const { joinGroup } = await import('../groups/join.js');
    const abort = new AbortController();
    const onSignal = (): void => abort.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const result = await joinGroup({
        invitation,
        name: values.name ?? '',
        email: values.email ?? '',
        stateDir,
        joinCode,
        pollIntervalMs: POLL_INTERVAL_MS,
        approvalTimeoutMs: waitMinutes * 60_000,
        signal: abort.signal,
        onProgress: (event) => process.stdout.write(`${progressLine(event, stateDir)}\n`),
      });
      process.stdout.write(
        `You are a member of "${result.groupName}" as "${result.certificate.name}" (certificate ${result.certificate.serial}, valid until ${new Date(result.certificate.notAfter).toISOString().slice(0, 10)}).\n` +
          `Start the VPN with: ringvpn up --state-dir ${stateDir}   (or only the overlay node: ringvpn node --state-dir ${stateDir})\n`,
      );
      return EXIT_OK;
    } catch (error) {
      process.stderr.write(`ringvpn join: ${sentence(errorText(error))}\n`);
      return EXIT_FAILURE;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

/** A link as is; otherwise a file's contents (an invitation file holds the link). */
function readInvitation(arg: string): string {
  if (arg.startsWith('ringvpn://')) return arg;
  if (!existsSync(arg)) throw new UsageError(`"${arg}" is neither a ringvpn://join?... link nor an invitation file that exists.`);
  if (statSync(arg).size > MAX_INVITATION_FILE_BYTES) throw new UsageError(`${arg} is too large to be an invitation file.`);
  return readFileSync(arg, 'utf8');
}

function progressLine(event: JoinProgress, stateDir: string): string {
  switch (event.kind) {
    case 'contacting-server':
      return `Contacting the group server at ${event.serverUrl} ...`;
    case 'group-found':
      return `Found the group "${event.groupName}".`;
    case 'request-sent':
      return `Asked to join (request ${event.requestId.slice(0, 8)}).`;
    case 'resuming':
      return `Picking up the request made earlier (request ${event.requestId.slice(0, 8)}).`;
    case 'waiting-for-approval':
      return 'Waiting for an admin of the group to approve ... (Ctrl-C stops waiting; run the same command again to continue)';
    case 'approved':
      return 'Approved.';
    case 'certificate-saved':
      return `Saved the member certificate (serial ${event.serial}) in ${join(stateDir, 'groups')}.`;
    case 'revocations-updated':
      return `Revocation list up to date (version ${event.sequence}).`;
    case 'membership-ended':
      return 'The certificate this computer held was revoked by an admin of the group: asking to join again.';
  }
}

function sentence(text: string): string {
  const t = text.trim();
  return t.length === 0 ? 'joining failed' : t[0]?.toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
}
