import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { GroupError } from './errors.js';

/** Writes a file readable only by its owner (0600), atomically: a crash leaves the old file or the new one. */
export function writePrivateFile(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** Reads a file that must not be readable by other users (as ssh does with its keys). */
export function readPrivateFile(path: string): Buffer {
  const mode = statSync(path).mode;
  if ((mode & 0o077) !== 0) {
    throw new GroupError('key-file-exposed', `${path} can be read by other users; run: chmod 600 ${path}`);
  }
  return readFileSync(path);
}

const KEY_FILE_KIND = 'ringvpn-ed25519-seed';

/** An Ed25519 key stored as its 32-byte seed in a small JSON file of mode 0600. */
export function writeKeyFile(path: string, seed: Uint8Array): void {
  if (seed.length !== 32) throw new RangeError('a key seed is 32 bytes');
  writePrivateFile(path, `${JSON.stringify({ kind: KEY_FILE_KIND, version: 1, seed: Buffer.from(seed).toString('base64') })}\n`);
}

export function readKeyFile(path: string): Uint8Array {
  const text = readPrivateFile(path).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new GroupError('key-file-corrupt', `${path} is not a RingVPN key file`);
  }
  const p = parsed as { kind?: unknown; version?: unknown; seed?: unknown };
  if (p.kind !== KEY_FILE_KIND || p.version !== 1 || typeof p.seed !== 'string') {
    throw new GroupError('key-file-corrupt', `${path} is not a RingVPN key file`);
  }
  const seed = Buffer.from(p.seed, 'base64');
  if (seed.length !== 32) throw new GroupError('key-file-corrupt', `${path} holds a damaged key`);
  return new Uint8Array(seed);
}
