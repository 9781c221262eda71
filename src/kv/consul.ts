import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { kvError, systemErrorCode, usageError, type OccsError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { HttpClient, HttpTimeoutError, type HttpResponse } from './http.js';
import { normalizeKey, toSnapshot } from './keys.js';
import { BLOCKING_WAIT_S, watchConsul, type PrefixReading } from './consul-watch.js';
import type { KvPair, KvSnapshot, KvSource, KvSourceOptions, KvWatchListener } from './source.js';

/** Every prefix of the request path is encoded segment by segment; `/` stays a separator. */
const encodePrefix = (prefix: string): string => prefix.split('/').map(encodeURIComponent).join('/');

const TLS_CODES = /^(CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|ERR_TLS_CERT)/;

/**
 * The Consul KV HTTP API, which OCCS spoke too: one recursive GET per prefix, the token sent as
 * both `Authorization: Bearer` and `X-Consul-Token`, 404 meaning "no keys", anything else
 * unexpected an error (never "no backends").
 */
export class ConsulSource implements KvSource {
  readonly description: string;
  private readonly http: HttpClient;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly base: URL,
    private readonly options: KvSourceOptions,
  ) {
    this.description = base.origin;
    this.http = new HttpClient({ ca: readCa(options.caFile), verify: !options.insecure });
    this.headers = { accept: 'application/json', 'user-agent': 'occs-lb' };
    if (options.token) {
      this.headers.authorization = `Bearer ${options.token}`;
      this.headers['x-consul-token'] = options.token;
    }
  }

  async read(prefixes: readonly string[], signal?: AbortSignal): Promise<KvSnapshot> {
    const lists = await Promise.all(prefixes.map((prefix) => this.readPrefix(prefix, signal)));
    return toSnapshot(lists.flatMap((l) => l.pairs));
  }

  watch(prefixes: readonly string[], listener: KvWatchListener, signal: AbortSignal): Promise<void> {
    return watchConsul(prefixes, listener, signal, {
      read: (prefix, since) => this.readPrefix(prefix, signal, since),
      pollIntervalMs: this.options.pollIntervalMs ?? 5000,
    });
  }

  /**
   * One recursive GET of a prefix; with `since`, a blocking query that Consul holds until
   * something under the prefix changes past that index (or the wait ends).
   */
  private async readPrefix(prefix: string, signal?: AbortSignal, since?: number): Promise<PrefixReading> {
    const url = new URL(`/v1/kv/${encodePrefix(prefix)}`, this.base);
    url.search = since ? `recurse&index=${since}&wait=${BLOCKING_WAIT_S}s` : 'recurse';
    // Consul adds up to wait/16 of jitter to a blocking query; leave room for it.
    const timeoutMs = this.options.timeoutMs + (since ? BLOCKING_WAIT_S * 1000 * 1.1 : 0);
    let response: HttpResponse;
    try {
      response = await this.http.request(url, { headers: this.headers, timeoutMs, signal });
    } catch (error) {
      throw this.requestFailed(prefix, error);
    }
    const header = Number(response.headers['x-consul-index']);
    const index = Number.isInteger(header) && header > 0 ? header : undefined;
    if (response.status === 404) return { pairs: [], index };
    if (response.status === 401 || response.status === 403) throw this.unauthorised(prefix, response.status);
    if (response.status !== 200) {
      throw this.failed(prefix, `answered HTTP ${response.status}${bodySnippet(response.body, this.options.token)}`);
    }
    return { pairs: this.parseListing(prefix, response.body), index };
  }

  private parseListing(prefix: string, body: Buffer): KvPair[] {
    let entries: unknown;
    try {
      entries = JSON.parse(body.toString('utf8'));
    } catch {
      throw this.failed(prefix, 'answered something that is not JSON');
    }
    if (!Array.isArray(entries)) throw this.failed(prefix, 'answered JSON that is not a list of keys');
    const pairs: KvPair[] = [];
    for (const entry of entries) {
      const { Key: key, Value: value } = (entry ?? {}) as { Key?: unknown; Value?: unknown };
      if (typeof key !== 'string' || !(typeof value === 'string' || value === null || value === undefined)) {
        throw this.failed(prefix, 'answered a list whose entries have no Key/Value');
      }
      if (key.endsWith('/')) continue;
      pairs.push({ key: normalizeKey(key), value: value ? Buffer.from(value, 'base64').toString('utf8') : '' });
    }
    return pairs;
  }

  private failed(prefix: string, what: string, code = 'KV_ERROR', cause?: unknown): OccsError {
    return kvError(code, `key/value store at ${this.description} ${what} when reading "${prefix}"`, {
      hint: 'check that the store is running and that KV_IP/KV_PORT (or --kv) point at it',
      cause,
    });
  }

  private unauthorised(prefix: string, status: number): OccsError {
    const hint = this.options.token
      ? 'check OCCS_API_TOKEN or OCCS_API_TOKEN_FILE (or --token/--token-file)'
      : 'no token was sent: set OCCS_API_TOKEN or OCCS_API_TOKEN_FILE (or --token/--token-file)';
    return kvError(
      'KV_UNAUTHORISED',
      `key/value store at ${this.description} answered HTTP ${status} (unauthorised) when reading "${prefix}"`,
      { hint },
    );
  }

  private requestFailed(prefix: string, error: unknown): OccsError | unknown {
    if ((error as Error)?.name === 'AbortError') return error;
    if (error instanceof HttpTimeoutError) {
      return this.failed(prefix, `did not answer within ${formatDuration(error.timeoutMs)}`, 'KV_TIMEOUT', error);
    }
    const code = systemErrorCode(error) ?? '';
    if (TLS_CODES.test(code)) {
      return kvError('KV_TLS', `key/value store at ${this.description} has a TLS certificate that is not trusted (${code})`, {
        hint: 'pass its CA with --kv-ca FILE, or --insecure to skip verification',
        cause: error,
      });
    }
    const what =
      code === 'ECONNREFUSED' ? 'refused the connection'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'could not be found (DNS)'
      : `could not be reached (${code || (error as Error).message})`;
    return this.failed(prefix, what, 'KV_UNREACHABLE', error);
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

/**
 * The CAs to trust with --kv-ca: Node's own roots and NODE_EXTRA_CA_CERTS plus the file, so the
 * option adds a CA rather than replacing every other one.
 */
function readCa(file: string | undefined): Array<string | Buffer> | undefined {
  if (!file) return undefined;
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  const defaults: Array<string | Buffer> = [...tls.rootCertificates];
  if (extra) {
    try {
      defaults.push(readFileSync(extra));
    } catch {
      // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS; so do we, by ignoring it.
    }
  }
  try {
    return [...defaults, readFileSync(file)];
  } catch (error) {
    throw usageError(`cannot read the CA file ${file} (${systemErrorCode(error) ?? String(error)})`, {
      hint: 'fix --kv-ca',
    });
  }
}

/**
 * The start of an error body, on one line: enough to see what the store said. A store may echo
 * the token (plainly or JSON-escaped); it is masked before the cut, so no piece of it survives.
 */
function bodySnippet(body: Buffer, token: string | undefined): string {
  let text = body.toString('utf8', 0, 64 * 1024);
  if (token) {
    for (const form of new Set([token, JSON.stringify(token).slice(1, -1), encodeURIComponent(token)])) {
      text = text.split(form).join('***');
    }
  }
  // eslint-disable-next-line no-control-regex
  text = text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]+/g, ' ').trim().slice(0, 200);
  return text ? `: ${text}` : '';
}
