import type { Result } from '../../overlay/result.js';

/**
 * Why a packet was rejected. Decoders of bytes from the TAP device or from peers return these
 * instead of throwing: a malformed frame is dropped and counted, never a crash.
 */
export type PacketErrorCode =
  | 'too-short'
  | 'bad-length'
  | 'bad-version'
  | 'bad-header-length'
  | 'bad-checksum'
  | 'bad-option'
  | 'bad-value'
  | 'unsupported';

export interface PacketError {
  readonly code: PacketErrorCode;
  readonly message: string;
}

export type PacketResult<T> = Result<T, PacketError>;

export const packetError = (code: PacketErrorCode, message: string): { ok: false; error: PacketError } => ({
  ok: false,
  error: { code, message },
});
