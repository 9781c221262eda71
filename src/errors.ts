/** The exit codes of the README's table; the only place they are spelled out as numbers. */
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

/**
 * Every failure the user can act on, by code, with the exit code it ends a run with. A code is
 * one of these or it does not compile: no failure is told apart by a string typed twice.
 */
export const ERROR_CODES = {
  /** A setting, flag or config file is wrong. */
  USAGE: ExitCode.usage,
  /** The haproxy executable cannot be run at all. */
  HAPROXY_UNRUNNABLE: ExitCode.usage,
  INSTALL_READ_ONLY: ExitCode.usage,
  INSTALL_DENIED: ExitCode.usage,
  INSTALL_NO_DIRECTORY: ExitCode.usage,
  INSTALL_NOT_A_FILE: ExitCode.usage,
  INSTALL_NO_SPACE: ExitCode.unexpected,
  INSTALL_FAILED: ExitCode.unexpected,
  KV_ERROR: ExitCode.kv,
  KV_UNREACHABLE: ExitCode.kv,
  KV_TIMEOUT: ExitCode.kv,
  KV_TLS: ExitCode.kv,
  KV_UNAUTHORISED: ExitCode.kv,
  KV_PERMISSION_DENIED: ExitCode.kv,
  KV_TOO_LARGE: ExitCode.kv,
  KV_FILE_UNREADABLE: ExitCode.kv,
  KV_FILE_MALFORMED: ExitCode.kv,
  KV_FILE_WATCH: ExitCode.kv,
  TEMPLATE: ExitCode.template,
  CONFIG_REJECTED: ExitCode.rejected,
  ENTRIES_REJECTED: ExitCode.rejected,
  MIN_SERVERS: ExitCode.rejected,
  /** A store answer that leaves no server in any backend while HAProxy serves some: held (watch --allow-empty takes it). */
  EVERY_SERVER_GONE: ExitCode.rejected,
  VALUE_REFUSED: ExitCode.rejected,
  HAPROXY_EXITED: ExitCode.reload,
  HAPROXY_NOT_RUNNING: ExitCode.reload,
  STALE_PID_FILE: ExitCode.reload,
  START_TIMEOUT: ExitCode.reload,
  MASTER_SOCKET: ExitCode.reload,
  RELOAD_TIMEOUT: ExitCode.reload,
  RELOAD_FAILED: ExitCode.reload,
  RELOAD_REJECTED: ExitCode.reload,
  RELOAD_NO_WORKER: ExitCode.reload,
  RELOAD_NOT_PERMITTED: ExitCode.reload,
  RELOAD_COMMAND_FAILED: ExitCode.reload,
  /** HAProxy refused a runtime API command, or its state afterwards is not what was asked. */
  RUNTIME_REFUSED: ExitCode.reload,
  /** Anything not foreseen: a bug, or the system failing under us. */
  UNEXPECTED: ExitCode.unexpected,
} as const satisfies Record<string, ExitCodeValue>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Codes of a failure to write a destination (a full disk, a read-only directory…): fixed outside the store. */
export const INSTALL_CODES: ReadonlySet<ErrorCode> = new Set([
  'INSTALL_READ_ONLY',
  'INSTALL_DENIED',
  'INSTALL_NO_DIRECTORY',
  'INSTALL_NOT_A_FILE',
  'INSTALL_NO_SPACE',
  'INSTALL_FAILED',
]);

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
  readonly hint?: string;
  readonly detail?: string;

  constructor(code: ErrorCode, message: string, options: OccsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OccsError';
    this.code = code;
    this.exitCode = ERROR_CODES[code];
    this.hint = options.hint;
    this.detail = options.detail;
  }
}

type CodeOf<E extends ExitCodeValue> = { [C in ErrorCode]: (typeof ERROR_CODES)[C] extends E ? C : never }[ErrorCode];

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
