import type { Redactor } from './util/redact.js';

export type LogFormat = 'text' | 'json';
export type Verbosity = 'quiet' | 'normal' | 'verbose';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly format: LogFormat;
  readonly verbosity: Verbosity;
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
}

const shown: Record<Verbosity, ReadonlySet<LogLevel>> = {
  quiet: new Set(['error']),
  normal: new Set(['error', 'warn', 'info']),
  verbose: new Set(['error', 'warn', 'info', 'debug']),
};

/**
 * Text safe to print on one terminal line: control characters (C0, C1, DEL) and the Unicode line
 * separators become `\\uXXXX`, so data (a key, a value) can neither fake a log line nor send
 * terminal escapes.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const textPrefix: Record<LogLevel, string> = { error: 'error: ', warn: 'warning: ', info: '', debug: 'debug: ' };

/** Logs go to stderr only (stdout carries the product), redacted, as text lines or JSON lines. */
export function createLogger(options: {
  stream: NodeJS.WritableStream;
  format: LogFormat;
  verbosity: Verbosity;
  redactor: Redactor;
}): Logger {
  const { stream, format, verbosity, redactor } = options;
  const write = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (!shown[verbosity].has(level)) return;
    let line: string;
    if (format === 'json') {
      line = JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields });
    } else {
      const extra = [fields?.detail, fields?.stack].filter((f): f is string => typeof f === 'string');
      line = [`${textPrefix[level]}${printable(message)}`, ...extra].join('\n');
    }
    stream.write(`${redactor.apply(line)}\n`);
  };
  return {
    format,
    verbosity,
    error: (m, f) => write('error', m, f),
    warn: (m, f) => write('warn', m, f),
    info: (m, f) => write('info', m, f),
    debug: (m, f) => write('debug', m, f),
  };
}
