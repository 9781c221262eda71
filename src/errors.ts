/** The exit codes of the README's table and docs/reference.md; the only place they are spelled out as numbers. */
export const ExitCode = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  kv: 3,
  template: 4,
  rejected: 5,
  reload: 6,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The counters of watch's failures (watch/state.ts): each failure adds to the one its code names. */
export type FailureCounter = 'renderFailures' | 'installFailures' | 'checkFailures' | 'refused' | 'reloadFailures' | 'unexpectedFailures';

/** What a code means to the watch loop, besides the exit code it ends a run with. */
export interface ErrorPolicy {
  exit: ExitCodeValue;
  /** The counter it feeds. */
  counter: FailureCounter;
  /** Fixed without the store changing (a full disk, an HAProxy that did not answer): the same snapshot is tried again, with backoff. */
  retry: boolean;
  /** HAProxy may now run something else than the installed files say: the next change reloads, whatever it is. */
  apart: boolean;
}

const policy = <E extends ExitCodeValue>(exit: E, counter: FailureCounter, also: { retry?: true; apart?: true } = {}): ErrorPolicy & { exit: E } => ({
  exit,
  counter,
  retry: also.retry ?? false,
  apart: also.apart ?? false,
});
const usage = policy(ExitCode.usage, 'renderFailures');
const kv = policy(ExitCode.kv, 'renderFailures');
const install = <E extends ExitCodeValue>(exit: E) => policy(exit, 'installFailures', { retry: true });
const refused = policy(ExitCode.rejected, 'refused');
const reload = policy(ExitCode.reload, 'reloadFailures');
const reloadRetried = policy(ExitCode.reload, 'reloadFailures', { retry: true });

/**
 * Every failure the user can act on, by code: the exit code it ends a run with, and what the
 * watch loop does with it. A code is one of these or it does not compile: no failure is told
 * apart by a string typed twice, and a new code is one line here.
 */
export const ERROR_CODES = {
  /** A setting, flag or config file is wrong. */
  USAGE: usage,
  /** The haproxy executable cannot be run at all. */
  HAPROXY_UNRUNNABLE: usage,
  INSTALL_READ_ONLY: install(ExitCode.usage),
  INSTALL_DENIED: install(ExitCode.usage),
  INSTALL_NO_DIRECTORY: install(ExitCode.usage),
  INSTALL_NOT_A_FILE: install(ExitCode.usage),
  INSTALL_NO_SPACE: install(ExitCode.unexpected),
  INSTALL_FAILED: install(ExitCode.unexpected),
  KV_ERROR: kv,
  KV_UNREACHABLE: kv,
  KV_TIMEOUT: kv,
  KV_TLS: kv,
  KV_UNAUTHORISED: kv,
  KV_PERMISSION_DENIED: kv,
  KV_TOO_LARGE: kv,
  KV_FILE_UNREADABLE: kv,
  KV_FILE_MALFORMED: kv,
  KV_FILE_WATCH: kv,
  TEMPLATE: policy(ExitCode.template, 'renderFailures'),
  CONFIG_REJECTED: policy(ExitCode.rejected, 'checkFailures'),
  ENTRIES_REJECTED: refused,
  MIN_SERVERS: refused,
  /** A store answer that leaves no server in any backend while HAProxy serves some: held (watch --allow-empty takes it). */
  EVERY_SERVER_GONE: refused,
  VALUE_REFUSED: policy(ExitCode.rejected, 'renderFailures'),
  HAPROXY_EXITED: reload,
  HAPROXY_NOT_RUNNING: reloadRetried,
  STALE_PID_FILE: reload,
  START_TIMEOUT: reload,
  MASTER_SOCKET: reloadRetried,
  RELOAD_TIMEOUT: policy(ExitCode.reload, 'reloadFailures', { retry: true, apart: true }),
  RELOAD_FAILED: reload,
  RELOAD_REJECTED: reload,
  RELOAD_NO_WORKER: policy(ExitCode.reload, 'reloadFailures', { apart: true }),
  RELOAD_NOT_PERMITTED: reload,
  RELOAD_COMMAND_FAILED: reload,
  /** HAProxy refused a runtime API command, or its state afterwards is not what was asked: it may hold part of the change. */
  RUNTIME_REFUSED: policy(ExitCode.reload, 'reloadFailures', { apart: true }),
  /** Anything not foreseen: a bug, or the system failing under us. */
  UNEXPECTED: policy(ExitCode.unexpected, 'unexpectedFailures'),
} as const satisfies Record<string, ErrorPolicy>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface OccsErrorOptions {
  /** What to do about it: printed after the message on the same line. */
  hint?: string;
  /** Extra lines (template context, the list of skipped entries) printed below the message. */
  detail?: string;
  cause?: unknown;
}

/**
 * Every failure the user can act on. Library code throws these; only the CLI's top level prints
 * them and turns `exitCode` into the process's exit status.
 */
export class OccsError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCodeValue;
  /** What the watch loop does with it (errors.ts's table). */
  get policy(): ErrorPolicy {
    return ERROR_CODES[this.code];
  }
  readonly hint?: string;
  readonly detail?: string;
  /** A command's text report on stdout told it already, hint and all (validate's): stderr need not repeat it to the same file. */
  inReport = false;

  constructor(code: ErrorCode, message: string, options: OccsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OccsError';
    this.code = code;
    this.exitCode = ERROR_CODES[code].exit;
    this.hint = options.hint;
    this.detail = options.detail;
  }
}

type CodeOf<E extends ExitCodeValue> = { [C in ErrorCode]: (typeof ERROR_CODES)[C]['exit'] extends E ? C : never }[ErrorCode];

export const usageError = (message: string, options?: OccsErrorOptions): OccsError => new OccsError('USAGE', message, options);

export const kvError = (code: CodeOf<typeof ExitCode.kv>, message: string, options?: OccsErrorOptions): OccsError => new OccsError(code, message, options);

export const templateError = (message: string, options?: OccsErrorOptions): OccsError => new OccsError('TEMPLATE', message, options);

export const rejectedError = (code: CodeOf<typeof ExitCode.rejected>, message: string, options?: OccsErrorOptions): OccsError =>
  new OccsError(code, message, options);

export const reloadError = (code: CodeOf<typeof ExitCode.reload>, message: string, options?: OccsErrorOptions): OccsError =>
  new OccsError(code, message, options);

/** Any failure as an OccsError: one of ours as it is, anything else UNEXPECTED (exit 1). */
export function asOccsError(error: unknown): OccsError {
  if (error instanceof OccsError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new OccsError('UNEXPECTED', `unexpected failure: ${message}`, { hint: 'run with --verbose for a stack trace', cause: error });
}

/** The code of a Node.js system error (`ENOENT`, `ECONNREFUSED`, …), if it is one. */
export function systemErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Where a failure came from, for JSON reports: the exit code's meaning in one word (a value refused by <%= %> is the template's doing). */
export function errorSource(error: OccsError): 'config' | 'kv' | 'template' | 'haproxy' | 'reload' | 'internal' {
  if (error.code === 'VALUE_REFUSED') return 'template';
  const sources: Record<number, 'config' | 'kv' | 'template' | 'haproxy' | 'reload'> = {
    [ExitCode.usage]: 'config',
    [ExitCode.kv]: 'kv',
    [ExitCode.template]: 'template',
    [ExitCode.rejected]: 'haproxy',
    [ExitCode.reload]: 'reload',
  };
  return sources[error.exitCode] ?? 'internal';
}

/**
 * An error as one line: the message, then what to do in parentheses; after a semicolon instead
 * when either holds parentheses of its own, so they never nest or pile up (") (").
 */
export function withHint(error: OccsError): string {
  if (!error.hint) return error.message;
  return error.message.endsWith(')') || error.hint.includes('(') ? `${error.message}; ${error.hint}` : `${error.message} (${error.hint})`;
}
