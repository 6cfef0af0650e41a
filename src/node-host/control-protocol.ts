import { addressFromHex } from '../overlay/address.js';
import { type Result, err, ok } from '../overlay/result.js';

/**
 * The node's local control protocol, spoken over a Unix socket in the state directory (mode 0600):
 * one JSON object per line each way.
 *
 *   request   {"id": 1, "op": "status"}
 *             {"id": 2, "op": "ping", "args": {"address": "<40 hex>", "timeoutMs": 2000}}
 *             {"id": 3, "op": "connect", "args": {"address": "<40 hex>", "timeoutMs": 10000}}
 *   answer    {"id": 1, "ok": true, "result": {...}}
 *             {"id": 2, "ok": false, "error": {"code": "bad-request", "message": "..."}}
 *
 * Answers carry the request's id and may come back in any order (a ping takes a while).
 */
export const CONTROL_PROTOCOL_VERSION = 1;
export const CONTROL_SOCKET_NAME = 'control.sock';
/** Longest request line; anything longer is answered with an error and the connection closed. */
export const MAX_REQUEST_BYTES = 16 * 1024;
export const MIN_PING_TIMEOUT_MS = 100;
export const MAX_PING_TIMEOUT_MS = 30_000;
export const DEFAULT_PING_TIMEOUT_MS = 3_000;
/** A connect may take a relay search or an upgrade; a minute is the most a person would wait. */
export const MIN_CONNECT_TIMEOUT_MS = 100;
export const MAX_CONNECT_TIMEOUT_MS = 60_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;

export type RequestId = number | string;

export type ControlRequest =
  | { id: RequestId; op: 'status' }
  | { id: RequestId; op: 'ping'; args: { address: bigint; timeoutMs: number } }
  | { id: RequestId; op: 'connect'; args: { address: bigint; timeoutMs: number } };

export type ControlErrorCode = 'bad-request' | 'unknown-op' | 'too-large' | 'busy' | 'invalid-address' | 'unreachable' | 'internal';

export interface ControlError {
  code: ControlErrorCode;
  message: string;
}

export type ControlAnswer =
  | { id: RequestId | null; ok: true; result: unknown }
  | { id: RequestId | null; ok: false; error: ControlError };

export interface DecodeFailure extends ControlError {
  /** The request's id when it could be read, so the answer can still be matched. */
  id: RequestId | null;
}

/** Decodes one request line. Never throws. */
export function decodeRequest(line: string): Result<ControlRequest, DecodeFailure> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return err({ id: null, code: 'bad-request', message: 'the request is not valid JSON' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return err({ id: null, code: 'bad-request', message: 'the request must be a JSON object' });
  }
  const v = value as Record<string, unknown>;
  const id = v.id;
  if (!((typeof id === 'number' && Number.isSafeInteger(id)) || (typeof id === 'string' && id.length <= 64))) {
    return err({ id: null, code: 'bad-request', message: '"id" must be an integer or a string of at most 64 characters' });
  }
  switch (v.op) {
    case 'status':
      return ok({ id, op: 'status' });
    case 'ping':
    case 'connect': {
      const op = v.op;
      const args = v.args;
      if (typeof args !== 'object' || args === null) return err({ id, code: 'bad-request', message: `${op} needs "args": {"address": ...}` });
      const a = args as Record<string, unknown>;
      const address = typeof a.address === 'string' ? addressFromHex(a.address) : null;
      if (address === null) return err({ id, code: 'invalid-address', message: 'the address must be 40 hexadecimal digits' });
      const [min, max, fallback] =
        op === 'ping' ? [MIN_PING_TIMEOUT_MS, MAX_PING_TIMEOUT_MS, DEFAULT_PING_TIMEOUT_MS] : [MIN_CONNECT_TIMEOUT_MS, MAX_CONNECT_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS];
      const timeoutMs = a.timeoutMs ?? fallback;
      if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < min || timeoutMs > max) {
        return err({ id, code: 'bad-request', message: `timeoutMs must be a number from ${min} to ${max}` });
      }
      return ok({ id, op, args: { address, timeoutMs } });
    }
    default:
      return err({ id, code: 'unknown-op', message: `unknown operation ${JSON.stringify(String(v.op)).slice(0, 40)}; known: status, ping, connect` });
  }
}
