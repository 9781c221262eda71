import { packageVersion } from '../paths.js';
import type { OccsError } from '../errors.js';
import { HttpClient, type HttpResponse } from './http.js';
import { normalizeKey, toSnapshot } from './keys.js';
import { BLOCKING_WAIT_S, watchConsul, type PrefixReading } from './consul-watch.js';
import type { KvPair, KvSnapshot, KvSource, KvSourceOptions, KvWatchListener } from './source.js';
import { bodySnippet, StoreErrors } from './store-errors.js';

/** Every prefix of the request path is encoded segment by segment; `/` stays a separator. */
const encodePrefix = (prefix: string): string => prefix.split('/').map(encodeURIComponent).join('/');

/**
 * The Consul KV HTTP API, which OCCS spoke too: one recursive GET per prefix, the token sent as
 * both `Authorization: Bearer` and `X-Consul-Token`, 404 meaning "no keys", anything else
 * unexpected an error (never "no backends").
 */
export class ConsulSource implements KvSource {
  readonly description: string;
  private readonly http: HttpClient;
  private readonly errors: StoreErrors;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly base: URL,
    private readonly options: KvSourceOptions,
  ) {
    this.description = base.origin;
    this.errors = new StoreErrors(base.origin, 'KV_IP/KV_PORT (or --kv)');
    this.http = new HttpClient(options);
    this.headers = { accept: 'application/json', 'user-agent': `occs-lb/${packageVersion()}` };
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
      read: (prefix, since, readSignal) => this.readPrefix(prefix, readSignal ?? signal, since),
      probe: (prefix, probeSignal) => this.probe(prefix, probeSignal),
      pollIntervalMs: this.options.pollIntervalMs ?? 5000,
    });
  }

  /**
   * Proves the store answers: a GET of the prefix's own key, not recursive, so the answer is
   * tiny (usually a 404). Any answer but a server error will do: a token scoped to the keys
   * under the prefix may be refused the prefix's own key (403), and is still answered.
   */
  private async probe(prefix: string, signal: AbortSignal): Promise<void> {
    const url = new URL(`/v1/kv/${encodePrefix(prefix)}`, this.base);
    let response: HttpResponse;
    try {
      response = await this.http.request(url, { headers: this.headers, timeoutMs: this.options.timeoutMs, signal });
    } catch (error) {
      throw this.errors.requestFailed(prefix, error);
    }
    if (response.status >= 500) throw this.failed(prefix, `answered HTTP ${response.status}${bodySnippet(response.body, [this.options.token])}`);
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
      throw this.errors.requestFailed(prefix, error);
    }
    const header = Number(response.headers['x-consul-index']);
    const index = Number.isInteger(header) && header > 0 ? header : undefined;
    if (response.status === 404) return { pairs: [], index };
    if (response.status === 401 || response.status === 403) throw this.unauthorised(prefix, response.status);
    if (response.status !== 200) {
      throw this.failed(prefix, `answered HTTP ${response.status}${bodySnippet(response.body, [this.options.token])}`);
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
      pairs.push({ key: normalizeKey(key), value: value ? fromBase64(value) : '' });
    }
    return pairs;
  }

  private failed(prefix: string, what: string): OccsError {
    return this.errors.failed(prefix, what);
  }

  private unauthorised(prefix: string, status: number): OccsError {
    return this.errors.unauthorised(
      prefix,
      `answered HTTP ${status}`,
      this.options.token
        ? 'check OCCS_API_TOKEN or OCCS_API_TOKEN_FILE (or --token/--token-file)'
        : 'no token was sent: set OCCS_API_TOKEN or OCCS_API_TOKEN_FILE (or --token/--token-file)',
    );
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

/** Decoding room reused for every value: a listing of 10,000 keys would otherwise make 10,000 buffers. */
const scratch = Buffer.allocUnsafe(64 * 1024);

/** Consul's base64 value as UTF-8 text. */
function fromBase64(value: string): string {
  if (value.length > (scratch.length / 3) * 4) return Buffer.from(value, 'base64').toString('utf8');
  return scratch.toString('utf8', 0, scratch.write(value, 0, 'base64'));
}
