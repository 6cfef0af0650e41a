import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { type Identity, identityFromSeed } from '../identity.js';
import type { Logger } from '../log.js';
import type { Random } from '../random.js';

/** A problem with the state directory or the identity file, in words a person can act on. */
export class StateDirError extends Error {
  override readonly name = 'StateDirError';
  constructor(
    readonly code: 'state-dir-unusable' | 'identity-unreadable' | 'identity-mode' | 'identity-malformed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const IDENTITY_FILE = 'identity.key';
const IDENTITY_HEADER = 'ringvpn-identity-v1';
const SEED_BYTES = 32;

/**
 * Creates the state directory (mode 0700) or checks an existing one. A directory other users can
 * enter is tightened to 0700 with a warning: it holds the private key and the control socket.
 */
export function prepareStateDir(dir: string, log: Logger): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new StateDirError('state-dir-unusable', `Cannot create the state directory ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const st = statSync(dir);
  if (!st.isDirectory()) throw new StateDirError('state-dir-unusable', `The state directory ${dir} exists but is not a directory.`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new StateDirError('state-dir-unusable', `The state directory ${dir} belongs to another user (uid ${st.uid}); use a directory of your own.`);
  }
  if ((st.mode & 0o077) !== 0) {
    chmodSync(dir, 0o700);
    log.warn('state directory was open to other users; set its mode to 0700', { path: dir, was: modeText(st.mode) });
  }
}

/**
 * The node's identity: read from `<dir>/identity.key`, or created there on first start (mode 0600,
 * written to a temporary file first so a crash never leaves half a key). A key file that other users
 * can read is refused, as ssh does: its key may have been copied.
 */
export function loadOrCreateIdentity(dir: string, random: Random, log: Logger): { identity: Identity; created: boolean } {
  const path = join(dir, IDENTITY_FILE);
  let text: string;
  try {
    const st = statSync(path);
    if ((st.mode & 0o077) !== 0) {
      throw new StateDirError(
        'identity-mode',
        `The identity key file ${path} can be read by other users (mode ${modeText(st.mode)}), so its private key may have been copied. ` +
          `If you trust it, run "chmod 600 ${path}" and start again; otherwise delete it to create a new identity (a new address).`,
      );
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof StateDirError) throw error;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new StateDirError('identity-unreadable', `Cannot read the identity key file ${path}: ${(error as Error).message}`, { cause: error });
    }
    const seed = random.bytes(SEED_BYTES);
    writePrivateFile(path, identityFileText(seed));
    const identity = identityFromSeed(seed);
    seed.fill(0);
    log.info('created a new identity', { path });
    return { identity, created: true };
  }
  const seed = parseIdentityFile(text);
  if (seed === null) {
    throw new StateDirError(
      'identity-malformed',
      `The identity key file ${path} is damaged (expected "${IDENTITY_HEADER}" and 64 hex digits). Restore it from a backup, or delete it to create a new identity (a new address).`,
    );
  }
  const identity = identityFromSeed(seed);
  seed.fill(0);
  return { identity, created: false };
}

/** The identity key file's content for a 32-byte seed (what {@link parseIdentityFile} reads back). */
export function identityFileText(seed: Uint8Array): string {
  return `${IDENTITY_HEADER}\n${Buffer.from(seed).toString('hex')}\n`;
}

export function parseIdentityFile(text: string): Uint8Array | null {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines.length !== 2 || lines[0] !== IDENTITY_HEADER) return null;
  const hex = lines[1] as string;
  if (!/^[0-9a-f]{64}$/.test(hex)) return null;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Writes `content` to `path` with mode 0600 atomically (temporary file, fsync, rename). */
export function writePrivateFile(path: string, content: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(tmp);
    throw error;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

function modeText(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}
