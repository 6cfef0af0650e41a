import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';
import { readPrivateFile, writePrivateFile } from '../groups/secret-file.js';
import type { DataDir } from './data-dir.js';

export interface TlsMaterial {
  key: string;
  cert: string;
  /** SHA-256 of the certificate (DER), lowercase hex without separators: what invitations pin. */
  fingerprint: string;
}

const VALIDITY_YEARS = 10;

/**
 * The server's TLS certificate: self-signed, made on first start and kept. Clients do not check
 * it against public CAs; they pin its fingerprint from the invitation, so it lasts long and a
 * new one would invalidate every invitation given out.
 */
export async function ensureTlsCertificate(dir: DataDir, hostnames: readonly string[]): Promise<TlsMaterial> {
  if (!existsSync(dir.tlsKey) || !existsSync(dir.tlsCert)) {
    const names = [...new Set(['localhost', '127.0.0.1', '::1', ...hostnames])];
    const notBeforeDate = new Date(Date.now() - 24 * 3600_000);
    const notAfterDate = new Date(notBeforeDate.getTime() + VALIDITY_YEARS * 365 * 24 * 3600_000);
    const pems = await generate([{ name: 'commonName', value: hostnames[0] ?? 'ringvpn-group-server' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate,
      notAfterDate,
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: names.map((n) => (isIP(n) !== 0 ? { type: 7 as const, ip: n } : { type: 2 as const, value: n })),
        },
      ],
    });
    writePrivateFile(dir.tlsKey, pems.private);
    writeFileSync(dir.tlsCert, pems.cert, { mode: 0o644 });
  }
  const key = readPrivateFile(dir.tlsKey).toString('utf8');
  const cert = readFileSync(dir.tlsCert, 'utf8');
  return { key, cert, fingerprint: certificateFingerprint(cert) };
}

export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
}
