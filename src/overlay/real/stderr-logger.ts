import type { LogFields, LogLevel, Logger } from '../log.js';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export function isLogLevel(text: string): text is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(text);
}

/**
 * Plain text logs on stderr, one line each: time, level, component, message, then key=value
 * fields (values with spaces are quoted). Messages below `level` are skipped.
 */
export function createStderrLogger(
  level: LogLevel,
  component = 'ringvpn',
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  const min = RANK[level];
  const emit = (l: LogLevel, message: string, fields?: LogFields): void => {
    if (RANK[l] < min) return;
    let line = `${new Date().toISOString()} ${l.toUpperCase().padEnd(5)} [${component}] ${message}`;
    if (fields !== undefined) {
      for (const [key, value] of Object.entries(fields)) {
        if (value === undefined) continue;
        const text = String(value);
        line += ` ${key}=${/[\s"=]/.test(text) || text === '' ? JSON.stringify(text) : text}`;
      }
    }
    write(`${line}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (name) => createStderrLogger(level, `${component}.${name}`, write),
  };
}
