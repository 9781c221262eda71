/** The exit codes of DESIGN.md's table; the only place they are spelled out as numbers. */
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
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly hint?: string;
  readonly detail?: string;

  constructor(code: string, exitCode: ExitCodeValue, message: string, options: OccsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OccsError';
    this.code = code;
    this.exitCode = exitCode;
    this.hint = options.hint;
    this.detail = options.detail;
  }
}

export const usageError = (message: string, options?: OccsErrorOptions): OccsError => new OccsError('USAGE', ExitCode.usage, message, options);

export const kvError = (code: string, message: string, options?: OccsErrorOptions): OccsError => new OccsError(code, ExitCode.kv, message, options);

export const templateError = (message: string, options?: OccsErrorOptions): OccsError => new OccsError('TEMPLATE', ExitCode.template, message, options);

export const rejectedError = (code: string, message: string, options?: OccsErrorOptions): OccsError => new OccsError(code, ExitCode.rejected, message, options);

/** The code of a Node.js system error (`ENOENT`, `ECONNREFUSED`, …), if it is one. */
export function systemErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export const reloadError = (code: string, message: string, options?: OccsErrorOptions): OccsError => new OccsError(code, ExitCode.reload, message, options);

/** Where a failure came from, for JSON reports: the exit code's meaning in one word. */
export function errorSource(error: OccsError): 'config' | 'kv' | 'template' | 'haproxy' | 'reload' | 'internal' {
  const sources: Record<number, 'config' | 'kv' | 'template' | 'haproxy' | 'reload'> = {
    [ExitCode.usage]: 'config',
    [ExitCode.kv]: 'kv',
    [ExitCode.template]: 'template',
    [ExitCode.rejected]: 'haproxy',
    [ExitCode.reload]: 'reload',
  };
  return sources[error.exitCode] ?? 'internal';
}
