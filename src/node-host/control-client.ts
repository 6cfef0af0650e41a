import { connect } from 'node:net';
import { join } from 'node:path';
import { CONTROL_SOCKET_NAME, type ControlError } from './control-protocol.js';

/** The control socket could not be used or the node answered with an error, in plain words. */
export class ControlClientError extends Error {
  override readonly name = 'ControlClientError';
  constructor(
    readonly code: 'not-running' | 'permission' | 'timeout' | 'protocol' | ControlError['code'],
    message: string,
  ) {
    super(message);
  }
}

/** Longest answer line accepted (a status of a node with hundreds of peers fits easily). */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

export function controlSocketPath(stateDir: string): string {
  return join(stateDir, CONTROL_SOCKET_NAME);
}

/**
 * Sends one request to the node whose state directory is `stateDir` and resolves with its result.
 * Rejects with a {@link ControlClientError} (plain words) when no node runs there, on timeout, or
 * when the node answers with an error.
 */
export function controlRequest(stateDir: string, op: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<unknown> {
  const path = controlSocketPath(stateDir);
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let received = '';
    let settled = false;
    const finish = (error: ControlClientError | null, value?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error !== null) reject(error);
      else resolve(value);
    };
    const timer = setTimeout(
      () => finish(new ControlClientError('timeout', `The node at ${stateDir} did not answer within ${Math.round(timeoutMs / 1000)} s.`)),
      timeoutMs,
    );
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify({ id: 1, op, ...(args === undefined ? {} : { args }) })}\n`));
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.length > MAX_ANSWER_BYTES) return finish(new ControlClientError('protocol', 'The node sent an answer that is too large.'));
      const nl = received.indexOf('\n');
      if (nl < 0) return;
      let answer: { ok?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } };
      try {
        answer = JSON.parse(received.slice(0, nl)) as typeof answer;
      } catch {
        return finish(new ControlClientError('protocol', 'The node sent an answer that is not JSON.'));
      }
      if (answer.ok === true) return finish(null, answer.result);
      const code = typeof answer.error?.code === 'string' ? answer.error.code : 'protocol';
      const message = typeof answer.error?.message === 'string' ? answer.error.message : 'the node refused the request';
      finish(new ControlClientError(code as ControlClientError['code'], message));
    });
    socket.on('error', (error: NodeJS.ErrnoException) => finish(connectError(error, stateDir, path)));
    socket.on('close', () => finish(new ControlClientError('protocol', 'The node closed the control connection without answering.')));
  });
}

function connectError(error: NodeJS.ErrnoException, stateDir: string, path: string): ControlClientError {
  switch (error.code) {
    case 'ENOENT':
      return new ControlClientError('not-running', `No ringvpn node is running with state directory ${stateDir} (there is no control socket ${path}). Start one with "ringvpn node".`);
    case 'ECONNREFUSED':
      return new ControlClientError('not-running', `The ringvpn node of ${stateDir} is not running (its control socket is left over from an earlier run).`);
    case 'EACCES':
    case 'EPERM':
      return new ControlClientError('permission', `Not allowed to open ${path}: run this as the user who started the node.`);
    default:
      return new ControlClientError('protocol', `Cannot talk to the node at ${path}: ${error.message}`);
  }
}
