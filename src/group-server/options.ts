import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import type { GroupServerOptions } from './app.js';

export const USAGE = `Usage: ringvpn group-server --data DIR --port PORT [options]

  --data DIR          where the server keeps its database, keys and TLS certificate (created if missing)
  --port PORT         TCP port to listen on
  --host ADDRESS      address to listen on (default 127.0.0.1; use 0.0.0.0 to accept from the network)
  --http              plain HTTP instead of HTTPS (for tests, or behind a proxy that does TLS)
  --public-url URL    the address people and apps use to reach this server (goes into invitations)
  --smtp-url URL      send join notifications to admins through this SMTP server, e.g. smtp://mail:25
  --smtp-from ADDR    sender of those e-mails
  --open-creation     let anyone create groups (by default only the first group; later ones need an admin)
  --trust-proxy LIST  addresses or CIDR ranges of reverse proxies in front of this server, comma-separated:
                      their X-Forwarded-For header names the client, so rate limits count per client
  --help              show this text
`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Parses the command line; throws UsageError with a sentence when something is missing or wrong. */
export function parseGroupServerArgs(argv: string[]): GroupServerOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        data: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        http: { type: 'boolean', default: false },
        'public-url': { type: 'string' },
        'smtp-url': { type: 'string' },
        'smtp-from': { type: 'string' },
        'open-creation': { type: 'boolean', default: false },
        'trust-proxy': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  if (values.help) return 'help';
  if (values.data === undefined || values.data === '') throw new UsageError('--data DIR is required');
  if (values.port === undefined || !/^\d{1,5}$/.test(values.port) || Number(values.port) > 65535) {
    throw new UsageError('--port needs a number from 0 to 65535');
  }
  const publicUrl = values['public-url'] ?? null;
  if (publicUrl !== null) {
    let url: URL;
    try {
      url = new URL(publicUrl);
    } catch {
      throw new UsageError('--public-url is not a valid URL (e.g. https://vpn.example.org:8443)');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError('--public-url must start with https:// or http://');
  }
  const smtpUrl = values['smtp-url'] ?? null;
  if (smtpUrl !== null && !/^smtps?:\/\//.test(smtpUrl)) throw new UsageError('--smtp-url must start with smtp:// or smtps://');
  const trustProxy = values['trust-proxy']?.split(',').map((a) => a.trim()).filter((a) => a !== '') ?? [];
  for (const entry of trustProxy) {
    const [address, bits, ...rest] = entry.split('/');
    const family = isIP(address ?? '');
    const maxBits = family === 6 ? 128 : 32;
    if (family === 0 || rest.length > 0 || (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > maxBits))) {
      throw new UsageError(`--trust-proxy takes addresses or CIDR ranges such as 127.0.0.1 or 10.0.0.0/8, not "${entry}"`);
    }
  }
  return {
    dataDir: values.data,
    port: Number(values.port),
    host: values.host ?? '127.0.0.1',
    http: values.http ?? false,
    publicUrl,
    smtpUrl,
    ...(values['smtp-from'] !== undefined ? { smtpFrom: values['smtp-from'] } : {}),
    openGroupCreation: values['open-creation'] ?? false,
    ...(trustProxy.length > 0 ? { trustProxy } : {}),
  };
}
