/**
 * Structured logging, one logger per component. Field glossary:
 * `peer` (overlay address, short hex), `endpoint` (ip:port), `path`, `relay`, `key` (DHT key, short hex),
 * `reason` (plain words). Never log keys, secrets or tokens: fingerprints only.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(component: string): Logger;
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
