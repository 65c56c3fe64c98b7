/**
 * Operator logs: one line per event. JSON lines when stdout is not a TTY (journald, files),
 * readable `time level event key=value` lines on a TTY. Errors carry their code and hint.
 *
 * Contract: logging never throws; `fields` must be JSON-serialisable (bigint is stringified).
 */
import { isEdgeError } from './errors.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'auto' | 'json' | 'text';
export type LogFields = Record<string, unknown>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** Default "info". */
  level?: LogLevel;
  /** Default "auto": text on a TTY, JSON otherwise. */
  format?: LogFormat;
  /** Default process.stderr (stdout stays free for command output). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Default () => new Date(): wall time is right for log stamps. */
  now?: () => Date;
}

function errorFields(value: unknown): unknown {
  if (isEdgeError(value)) return { code: value.code, message: value.message, hint: value.hint, ...(value.details ? { details: value.details } : {}) };
  if (value instanceof Error) return { message: value.message, name: value.name };
  return value;
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return errorFields(value);
  return value;
}

export function createLogger(options: LoggerOptions = {}, base: LogFields = {}): Logger {
  const level = RANK[options.level ?? 'info'];
  const stream = options.stream ?? process.stderr;
  const format = options.format ?? 'auto';
  const json = format === 'json' || (format === 'auto' && stream.isTTY !== true);
  const now = options.now ?? (() => new Date());

  const write = (lvl: LogLevel, event: string, fields: LogFields = {}): void => {
    if (RANK[lvl] < level) return;
    try {
      const all = { ...base, ...fields };
      let line: string;
      if (json) {
        line = JSON.stringify({ time: now().toISOString(), level: lvl, event, ...all }, replacer);
      } else {
        const parts = Object.entries(all).map(([k, v]) => {
          const s = typeof v === 'string' ? v : JSON.stringify(v, replacer);
          return `${k}=${s}`;
        });
        line = `${now().toISOString().slice(11, 23)} ${lvl.toUpperCase().padEnd(5)} ${event}${parts.length ? ' ' + parts.join(' ') : ''}`;
      }
      stream.write(line + '\n');
    } catch {
      // a log line must never take the service down
    }
  };

  return { debug: (e, f) => write('debug', e, f), info: (e, f) => write('info', e, f), warn: (e, f) => write('warn', e, f), error: (e, f) => write('error', e, f), child: (fields) => createLogger(options, { ...base, ...fields }) };
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => silentLogger };
