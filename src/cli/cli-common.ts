import { homedir } from 'node:os';
import { join } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A mistake in the command line: printed with the command's usage, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** One subcommand of `ringvpn`. `run` resolves with the exit status. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(argv: string[]): Promise<number>;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** parseArgs with strict checking; its errors become {@link UsageError}s in plain words. */
export function parseCommandLine<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^.*?: /, '').replace(/\. To specify a positional.*$/, '.'));
  }
}

/**
 * Where a node keeps its identity and control socket when --state-dir is not given:
 * /var/lib/ringvpn for root, else $XDG_STATE_HOME/ringvpn or ~/.local/state/ringvpn.
 */
export function defaultStateDir(): string {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return '/var/lib/ringvpn';
  const base = process.env.XDG_STATE_HOME !== undefined && process.env.XDG_STATE_HOME !== '' ? process.env.XDG_STATE_HOME : join(homedir(), '.local', 'state');
  return join(base, 'ringvpn');
}

/** A whole number in [min, max] from an option's text, or a UsageError naming the option. */
export function intOption(text: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got "${text}".`);
  }
  return n;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
