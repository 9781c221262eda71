import { kvError, systemErrorCode, type OccsError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { formatSize } from '../util/size.js';
import { AnswerTooLargeError, HttpTimeoutError } from './http.js';
import { echoRedactor, isFiller } from '../util/redact.js';

const TLS_CODES = /^(CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|ERR_TLS_CERT)/;

/**
 * The messages of a network store's failures (exit 3), the same for every kind of store: what
 * failed, at which store, for which prefix, and what to check.
 */
export class StoreErrors {
  constructor(
    /** e.g. "http://127.0.0.1:9109"; never holds a secret. */
    readonly store: string,
    /** Where the user points occs-lb at the store, for the hints. */
    private readonly setting: string,
  ) {}

  failed(prefix: string, what: string, code: Parameters<typeof kvError>[0] = 'KV_ERROR', cause?: unknown): OccsError {
    return kvError(code, `key/value store at ${this.store} ${what} when reading "${prefix}"`, {
      hint: `check that the store is running and that ${this.setting} point${this.setting.includes(' or ') ? '' : 's'} at it`,
      cause,
    });
  }

  /** A server that answers, but is not the kind of store the URL says. */
  wrongKind(prefix: string, what: string, hint: string): OccsError {
    return kvError('KV_ERROR', `key/value store at ${this.store} ${what} when reading "${prefix}"`, { hint });
  }

  unauthorised(prefix: string, what: string, hint: string): OccsError {
    return kvError('KV_UNAUTHORISED', `key/value store at ${this.store} ${what} (unauthorised) when reading "${prefix}"`, { hint });
  }

  /** A request that got no answer: refused, unknown host, timeout, untrusted certificate… */
  requestFailed(prefix: string, error: unknown): unknown {
    if ((error as Error)?.name === 'AbortError') return error;
    if (error instanceof HttpTimeoutError) {
      return this.failed(prefix, `did not answer within ${formatDuration(error.timeoutMs)}`, 'KV_TIMEOUT', error);
    }
    if (error instanceof AnswerTooLargeError) {
      return kvError('KV_TOO_LARGE', `key/value store at ${this.store} answered more than ${formatSize(error.maxBytes)} when reading "${prefix}"`, {
        hint: 'check the prefix: does it hold more than servers? If the store really holds that much, raise --kv-max-size',
        cause: error,
      });
    }
    const code = systemErrorCode(error) ?? '';
    if (/^ERR_(SSL|OSSL)_/.test(code)) {
      return kvError('KV_TLS', `key/value store at ${this.store} refused our TLS handshake (${code})`, {
        hint: 'check the client certificate and key (--kv-cert, --kv-key) and --kv-ca',
        cause: error,
      });
    }
    if (TLS_CODES.test(code)) {
      return kvError('KV_TLS', `key/value store at ${this.store} has a TLS certificate that is not trusted (${code})`, {
        hint: 'pass its CA with --kv-ca FILE, or --insecure to skip verification',
        cause: error,
      });
    }
    return this.failed(prefix, unreachable(error), 'KV_UNREACHABLE', error);
  }
}

/** Why a request got no answer, in a few words safe to log: "refused the connection", "did not answer within 3s". */
export function unreachable(error: unknown): string {
  if (error instanceof HttpTimeoutError) return `did not answer within ${formatDuration(error.timeoutMs)}`;
  const code = systemErrorCode(error) ?? '';
  if (code === 'ECONNREFUSED') return 'refused the connection';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'could not be found (DNS)';
  return `could not be reached (${code || (error as Error).message})`;
}

/**
 * What a body is, in a few words and never its text, for the message of a server that is not the
 * store the URL names (its page would say nothing to the user): "an HTML page", "a body that is
 * not JSON", "an empty body", or undefined for JSON.
 */
export function bodyKind(body: Buffer | string): string | undefined {
  const text = (typeof body === 'string' ? body : body.toString('utf8')).trim();
  if (!text) return 'an empty body';
  if (/^<(!doctype html|html|head|body|\?xml|!--)/i.test(text)) return 'an HTML page';
  try {
    JSON.parse(text);
    return undefined;
  } catch {
    return 'a body that is not JSON';
  }
}

/** How much of an error body is shown: enough to see what the store said, not a page of it. */
const SNIPPET_CHARS = 120;

/**
 * The start of an error body, on one line: at most 120 printable ASCII characters (anything
 * else shown as `?`). A store may echo a secret in any form (split across lines, upper-cased,
 * JSON-escaped, base64), or only a piece of it: every secret, `secrets` and those of the run,
 * is masked as `Redactor.echo` says before the cut, so no piece of it survives.
 */
export function bodySnippet(body: Buffer | string, secrets: ReadonlyArray<string | undefined>): string {
  const text = storeText(body, secrets);
  return text ? `: ${text}` : '';
}

/** `text` without its last `count` visible characters (and whatever invisible ones lie between them). */
function dropLast(text: string, count: number): string {
  let end = text.length;
  for (let seen = 0; end > 0 && seen < count; end--) if (!isFiller(text[end - 1]!)) seen++;
  return text.slice(0, end);
}

/** Text a store chose (an error body, a message in it), masked and cut as `bodySnippet` says. */
export function storeText(body: Buffer | string, secrets: ReadonlyArray<string | undefined>): string {
  const start = typeof body === 'string' ? body.slice(0, 4096) : body.toString('utf8', 0, 4096);
  const redactor = echoRedactor(secrets);
  const masked = redactor.echo(start);
  // A secret cut by the window is not recognised: drop the stretch where such a piece could be.
  const whole = start.length < 4096 ? masked : dropLast(masked, redactor.cutMargin);
  const text = whole
    .replace(/[^\x20-\x7e]/g, (c) => (/\s/.test(c) ? ' ' : '?'))
    .replace(/ {2,}/g, ' ')
    .trim();
  return text.length > SNIPPET_CHARS ? `${text.slice(0, SNIPPET_CHARS)}…` : text;
}
