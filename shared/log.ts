/**
 * Log lines on stderr with a component name: one JSON object each, or one
 * short line for people (`text`, the default when stderr is a terminal).
 * Never log tensors, payloads or secrets.
 *
 * @example
 * const log = createLogger('worker', { level: 'info' });
 * log.info('registered', { workerId });
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

export type LogFormat = 'json' | 'text';

export const LOG_FORMATS: readonly (LogFormat | 'auto')[] = ['auto', 'json', 'text'];

export interface LoggerOptions {
  /** @default 'info' */
  level?: LogLevel;
  /** @default 'text' when stderr is a terminal, else 'json' */
  format?: LogFormat;
  /** Where lines go. @default process.stderr */
  sink?: (line: string) => void;
}

/** `12:04:05 warn  coordinator: member lost job=job-1 worker=w2` */
export function textLine(time: Date, level: LogLevel, component: string, msg: string, fields: Record<string, unknown> = {}): string {
  const clock = time.toISOString().slice(11, 19);
  const extra = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? (/[\s"=]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
    .join(' ');
  return `${clock} ${level.padEnd(5)} ${component}: ${msg}${extra ? ` ${extra}` : ''}`;
}

export function createLogger(component: string, options: LoggerOptions = {}): Logger {
  const min = RANK[options.level ?? 'info'];
  const sink = options.sink ?? ((line: string) => process.stderr.write(line + '\n'));
  const text = (options.format ?? (process.stderr.isTTY ? 'text' : 'json')) === 'text';
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (RANK[level] < min) return;
    const now = new Date();
    sink(text ? textLine(now, level, component, msg, fields) : JSON.stringify({ time: now.toISOString(), level, component, msg, ...fields }));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (sub) => createLogger(`${component}.${sub}`, options),
  };
}

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
