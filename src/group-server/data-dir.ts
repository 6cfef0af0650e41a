import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { writePrivateFile, readPrivateFile } from '../groups/secret-file.js';

/**
 * Everything the server keeps lives in one directory (mode 0700):
 *   groups.sqlite        the database
 *   tls/key.pem          TLS private key (0600)    tls/cert.pem  self-signed certificate
 *   ca/<group id>.key    each group's CA key (0600)
 *   cookie-secret        signs cookies (0600)
 */
export interface DataDir {
  root: string;
  database: string;
  tlsKey: string;
  tlsCert: string;
  caKey(groupIdHex: string): string;
}

export function openDataDir(root: string): DataDir {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  mkdirSync(join(root, 'ca'), { recursive: true, mode: 0o700 });
  mkdirSync(join(root, 'tls'), { recursive: true, mode: 0o700 });
  return {
    root,
    database: join(root, 'groups.sqlite'),
    tlsKey: join(root, 'tls', 'key.pem'),
    tlsCert: join(root, 'tls', 'cert.pem'),
    caKey: (groupIdHex) => join(root, 'ca', `${groupIdHex}.key`),
  };
}

/** A random secret made on first start and kept in the data directory. */
export function loadOrCreateSecret(dir: DataDir, name: string): string {
  const path = join(dir.root, name);
  if (!existsSync(path)) writePrivateFile(path, randomBytes(32).toString('base64url'));
  return readPrivateFile(path).toString('utf8').trim();
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
