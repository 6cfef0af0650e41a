import type { LogFields, Logger } from '../overlay/log.js';

/** One-line logs on stderr: time, level, component, message, then key=value fields. */
export function createStderrLogger(component = 'group-server', minLevel: 'debug' | 'info' | 'warn' = 'info'): Logger {
  const order = { debug: 0, info: 1, warn: 2, error: 3 } as const;
  const write = (level: keyof typeof order) => (message: string, fields?: LogFields) => {
    if (order[level] < order[minLevel]) return;
    const extra = Object.entries(fields ?? {})
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(' ');
    process.stderr.write(`${new Date().toISOString()} ${level} ${component}: ${message}${extra ? ` ${extra}` : ''}\n`);
  };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (name) => createStderrLogger(`${component}/${name}`, minLevel),
  };
}
