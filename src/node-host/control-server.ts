import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { type Server, type Socket, connect, createServer } from 'node:net';
import type { Logger } from '../overlay/log.js';
import { type ControlAnswer, type ControlError, type ControlRequest, MAX_REQUEST_BYTES, decodeRequest } from './control-protocol.js';

/** Control clients connected at once; more are refused by the kernel backlog / closed at once. */
const MAX_CLIENTS = 16;
/** Requests one client may have outstanding (pings take seconds); more are answered "busy". */
const MAX_IN_FLIGHT_PER_CLIENT = 8;
/** A control client that sends nothing for this long is disconnected. */
const CLIENT_IDLE_MS = 60_000;
/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with the final NUL). */
const MAX_SOCKET_PATH_BYTES = 107;

export type ControlHandler = (request: ControlRequest) => Promise<unknown>;

/** An error a handler throws on purpose: its code and message go back to the client as they are. */
export class ControlRequestError extends Error {
  override readonly name = 'ControlRequestError';
  constructor(readonly code: ControlError['code'], message: string) {
    super(message);
  }
}

export interface ControlServer {
  readonly path: string;
  readonly stats: { requests: number; malformed: number; oversized: number; clientErrors: number };
  close(): Promise<void>;
}

/**
 * Serves the control protocol on a Unix socket at `path`, mode 0600 (only the node's user can
 * connect). Refuses to start when another live node answers on that path; removes a stale socket
 * left by a crash. Malformed, oversized or unknown requests are answered with an error; nothing a
 * client sends stops the server.
 */
export async function startControlServer(path: string, handler: ControlHandler, log: Logger): Promise<ControlServer> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new Error(`The control socket path ${path} is too long for a Unix socket (${MAX_SOCKET_PATH_BYTES} bytes at most): use a shorter --state-dir.`);
  }
  await removeStaleSocket(path);
  const stats = { requests: 0, malformed: 0, oversized: 0, clientErrors: 0 };
  const clients = new Set<Socket>();
  const server = createServer((socket) => serveClient(socket, handler, stats, clients, log));
  server.maxConnections = MAX_CLIENTS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  server.on('error', (error) => log.warn('control socket error', { reason: error.message }));
  return {
    path,
    stats,
    close: () => closeServer(server, clients, path),
  };
}

function serveClient(
  socket: Socket,
  handler: ControlHandler,
  stats: ControlServer['stats'],
  clients: Set<Socket>,
  log: Logger,
): void {
  clients.add(socket);
  let buffered: Buffer[] = [];
  let bufferedBytes = 0;
  let inFlight = 0;
  const answer = (a: ControlAnswer): void => {
    if (socket.writable) socket.write(`${JSON.stringify(a)}\n`);
  };
  const onLine = (line: string): void => {
    if (line.trim() === '') return;
    stats.requests++;
    const decoded = decodeRequest(line);
    if (!decoded.ok) {
      stats.malformed++;
      const { id, code, message } = decoded.error;
      answer({ id, ok: false, error: { code, message } });
      return;
    }
    const request = decoded.value;
    if (inFlight >= MAX_IN_FLIGHT_PER_CLIENT) {
      answer({ id: request.id, ok: false, error: { code: 'busy', message: `at most ${MAX_IN_FLIGHT_PER_CLIENT} requests at once per client` } });
      return;
    }
    inFlight++;
    handler(request).then(
      (result) => answer({ id: request.id, ok: true, result }),
      (error: unknown) => {
        if (error instanceof ControlRequestError) answer({ id: request.id, ok: false, error: { code: error.code, message: error.message } });
        else {
          log.error('control request failed', { op: request.op, reason: String(error) });
          answer({ id: request.id, ok: false, error: { code: 'internal', message: 'the node could not answer this request (see its log)' } });
        }
      },
    ).finally(() => inFlight--);
  };
  socket.setTimeout(CLIENT_IDLE_MS, () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const part = chunk.subarray(start, nl);
      start = nl + 1;
      if (bufferedBytes + part.length > MAX_REQUEST_BYTES) return tooLarge();
      const line = Buffer.concat([...buffered, part]).toString('utf8');
      buffered = [];
      bufferedBytes = 0;
      onLine(line);
    }
    const rest = chunk.subarray(start);
    if (bufferedBytes + rest.length > MAX_REQUEST_BYTES) return tooLarge();
    if (rest.length > 0) {
      buffered.push(Buffer.from(rest));
      bufferedBytes += rest.length;
    }
  });
  const tooLarge = (): void => {
    stats.oversized++;
    buffered = [];
    bufferedBytes = 0;
    answer({ id: null, ok: false, error: { code: 'too-large', message: `a request line may be at most ${MAX_REQUEST_BYTES} bytes` } });
    socket.end();
    socket.pause();
  };
  socket.on('error', () => {
    stats.clientErrors++;
  });
  socket.on('close', () => clients.delete(socket));
}

async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new Error(`${path} exists and is not a control socket; move it away and start again.`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`Another ringvpn node is already running with this state directory (its control socket ${path} answers). Stop it first, or use another --state-dir.`);
  unlinkSync(path);
}

function closeServer(server: Server, clients: Set<Socket>, path: string): Promise<void> {
  return new Promise((resolve) => {
    for (const c of clients) c.destroy();
    server.close(() => {
      try {
        unlinkSync(path);
      } catch {
        // already removed by the server
      }
      resolve();
    });
  });
}
