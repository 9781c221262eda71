import type { Redactor } from './util/redact.js';
import { invisibleCharacters } from './values/invisible.js';

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

const INVISIBLE = invisibleCharacters();

/** `\uXXXX` (or `\u{XXXXX}` beyond the BMP) for one character. */
const escapeChar = (c: string): string => {
  const code = c.codePointAt(0)!;
  return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/**
 * Text safe to print on one terminal line: every invisible character becomes `\uXXXX`, so data
 * (a key, a value) can neither fake a log line, send terminal escapes, nor reorder what is shown.
 */
export function printable(text: string): string {
  return text.replace(INVISIBLE, escapeChar);
}

/** JSON text with every invisible character as a JSON escape: the same data to a parser, nothing hidden on a terminal. */
export function visibleJson(value: unknown): string {
  return JSON.stringify(value).replace(INVISIBLE, (c) =>
    c.length === 2 ? `\\u${c.charCodeAt(0).toString(16)}\\u${c.charCodeAt(1).toString(16)}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

const textPrefix: Record<LogLevel, string> = { error: 'error: ', warn: 'warning: ', info: '', debug: 'debug: ' };

/** Logs go to stderr only (stdout carries the product), redacted, as text lines or JSON lines. */
export function createLogger(options: { stream: NodeJS.WritableStream; format: LogFormat; verbosity: Verbosity; redactor: Redactor }): Logger {
  const { stream, format, verbosity, redactor } = options;
  const write = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (!shown[verbosity].has(level)) return;
    let line: string;
    // Secrets are masked before anything is encoded or escaped: an escaped secret is still one.
    if (format === 'json') {
      line = visibleJson(redactor.deep({ time: new Date().toISOString(), level, msg: message, ...fields }));
    } else {
      // Extra lines (template context, a stack) keep their line breaks, nothing else invisible.
      const extra = [fields?.detail, fields?.stack]
        .filter((f): f is string => typeof f === 'string')
        .map((f) => redactor.apply(f).split('\n').map(printable).join('\n'));
      line = [`${textPrefix[level]}${printable(redactor.apply(message))}`, ...extra].join('\n');
    }
    stream.write(`${line}\n`);
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
