import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { GroupError } from './errors.js';

/** The group server as an invitation names it: its URL and, for a self-signed server, the pinned certificate fingerprint. */
export interface ServerPin {
  serverUrl: string;
  /** SHA-256 of the server's TLS certificate, 64 lowercase hex digits; null to check the certificate against public CAs. */
  fingerprint: string | null;
}

export interface JsonResponse {
  status: number;
  body: unknown;
}

export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * One JSON request to the group server. With a pinned fingerprint the TLS connection is made first,
 * its certificate compared with the pin, and only then is anything sent over it; public CA
 * validation is off in that case only, because the pin is a stronger check. Errors are GroupErrors
 * in plain words; an answer with an HTTP error status is returned, not thrown.
 */
export async function requestJson(pin: ServerPin, method: 'GET' | 'POST', path: string, body?: unknown, options: RequestOptions = {}): Promise<JsonResponse> {
  const url = new URL(pin.serverUrl + path);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = { accept: 'application/json', connection: 'close' };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const signal = options.signal !== undefined ? AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const base = { host: hostname, port, method, path: url.pathname + url.search, headers, signal };

  let req: http.ClientRequest;
  if (url.protocol === 'http:') {
    req = http.request(base);
  } else if (pin.fingerprint === null) {
    req = https.request({ ...base, servername: isIP(hostname) === 0 ? hostname : undefined });
  } else {
    const socket = await connectPinned(hostname, port, pin.fingerprint, signal);
    req = http.request({ ...base, createConnection: () => socket });
  }
  return new Promise<JsonResponse>((resolve, reject) => {
    req.on('error', (e) => reject(describeNetworkError(e, pin.serverUrl, signal)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy(new GroupError('bad-answer', 'the group server sent an answer that is far too large'));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (e) => reject(describeNetworkError(e, pin.serverUrl, signal)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = text.length === 0 ? null : JSON.parse(text);
        } catch {
          reject(new GroupError('bad-answer', `the group server at ${pin.serverUrl} did not answer in JSON; is the address right?`));
          return;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.end(payload);
  });
}

function connectPinned(host: string, port: number, fingerprint: string, signal: AbortSignal): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      servername: isIP(host) === 0 ? host : undefined,
      // Public CA validation is replaced by the pin below: the server's certificate is self-signed.
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    const onAbort = () => socket.destroy(new GroupError('timeout', 'the group server did not answer in time'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('secureConnect', () => {
      signal.removeEventListener('abort', onAbort);
      const seen = socket.getPeerX509Certificate()?.fingerprint256.replace(/:/g, '').toLowerCase();
      if (seen !== fingerprint) {
        socket.destroy();
        reject(
          new GroupError(
            'server-not-trusted',
            "the group server's certificate does not match the one in the invitation; someone may be intercepting the connection, or the server was reinstalled: ask an admin for a new invitation",
          ),
        );
        return;
      }
      resolve(socket);
    });
    socket.once('error', (e) => {
      signal.removeEventListener('abort', onAbort);
      reject(describeNetworkError(e, `https://${host}:${port}`, signal));
    });
  });
}

function describeNetworkError(e: Error, serverUrl: string, signal: AbortSignal): GroupError {
  if (e instanceof GroupError) return e;
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof Error && reason.name !== 'TimeoutError') return new GroupError('cancelled', 'cancelled', { cause: e });
    return new GroupError('timeout', `the group server at ${serverUrl} did not answer in time`, { cause: e });
  }
  const code = (e as { code?: unknown }).code;
  if (code === 'ECONNREFUSED') return new GroupError('unreachable', `could not reach the group server at ${serverUrl}: nothing answers there; is it running?`, { cause: e });
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new GroupError('unreachable', `could not find the group server ${serverUrl}: check the address and your Internet connection`, { cause: e });
  if (code === 'ECONNRESET' || code === 'EPIPE') return new GroupError('unreachable', `the connection to the group server at ${serverUrl} was cut; try again`, { cause: e });
  if (typeof code === 'string' && (code.startsWith('ERR_TLS') || code.includes('CERT'))) {
    return new GroupError('server-not-trusted', `the group server's certificate could not be verified (${code})`, { cause: e });
  }
  return new GroupError('unreachable', `could not talk to the group server at ${serverUrl}: ${e.message}`, { cause: e });
}
