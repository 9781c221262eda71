import { packageVersion } from '../paths.js';
import { OccsError } from '../errors.js';
import { Endpoints, memberCannotServe } from './endpoints.js';
import { HttpClient, type HttpStream } from './http.js';
import { rangesOf, slashedLast, toPair, type EtcdKv, type KeyRange } from './etcd-keys.js';
import { watchEtcd } from './etcd-watch.js';
import type { EtcdWatchMessage } from './etcd-messages.js';
import { toSnapshot } from './keys.js';
import { checkOthersOnFailover, PROBE_TIMEOUT_MS } from './liveness.js';
import type { KvPair, KvSnapshot, KvSource, KvSourceOptions, KvWatchListener } from './source.js';
import { storeText, StoreErrors, unreachable } from './store-errors.js';
import { etcdRefusal, notEtcd, notFromTheGateway, parseError, readAll, type RefusalContext } from './etcd-refusal.js';

const b64 = (bytes: Buffer): string => bytes.toString('base64');

/**
 * etcd v3 through its JSON gateway (`/v3/kv/range`, `/v3/watch`): range reads of each prefix
 * and watch streams from the read's revision. With a user and password, a token is asked from
 * `/v3/auth/authenticate` and asked again when etcd says it has expired.
 */
export class EtcdSource implements KvSource {
  readonly description: string;
  private readonly http: HttpClient;
  private readonly errors: StoreErrors;
  /** The login under way or done (one for all concurrent requests); undefined: none yet. */
  private login?: Promise<string>;

  readonly endpoints: Endpoints;

  constructor(
    endpoints: readonly URL[],
    private readonly options: KvSourceOptions,
  ) {
    this.endpoints = new Endpoints(endpoints, 'etcd');
    this.description = this.endpoints.description;
    this.errors = new StoreErrors(this.description, '--kv');
    this.http = new HttpClient(options);
    // A login is a member's own (etcd's simple tokens): it is asked again on the next member.
    this.endpoints.onFailover(() => (this.login = undefined));
  }

  /**
   * Reads every shape of every prefix. A shape the user may not read counts as empty when another
   * shape of the same prefix can be read (a role granted on `/apps/` only, say); not otherwise.
   * No `siblings` for an empty prefix (see kv/siblings.ts): etcd cannot list a parent's directories without reading all of it.
   */
  async read(prefixes: readonly string[], signal?: AbortSignal): Promise<KvSnapshot> {
    const perPrefix = await Promise.all(
      prefixes.map(async (prefix) => {
        const results = await Promise.allSettled(rangesOf(prefix).map((range) => this.range(range, signal)));
        const read = results.filter((r) => r.status === 'fulfilled');
        const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        const fatal = failed.find((r) => !(r.reason instanceof OccsError && r.reason.code === 'KV_PERMISSION_DENIED'));
        if (fatal || read.length === 0) throw (fatal ?? failed[0]!).reason;
        return read.flatMap((r) => r.value.pairs);
      }),
    );
    return toSnapshot(perPrefix.flat());
  }

  watch(prefixes: readonly string[], listener: KvWatchListener, signal: AbortSignal): Promise<void> {
    const stopChecking = checkOthersOnFailover(this.endpoints, (s) => this.checkOther(s), signal);
    return watchEtcd(prefixes.flatMap(rangesOf), listener, signal, {
      range: (range) => this.range(range, signal),
      watch: (range, fromRevision, streamSignal) => this.watchStream(range, fromRevision, streamSignal),
      probe: (range, probeSignal) => this.probe(range, probeSignal),
      checkOther: (checkSignal) => this.checkOther(checkSignal),
      onMove: (moved) => this.endpoints.onMove(moved),
      tokenExpired: () => (this.login = undefined),
    }).finally(stopChecking);
  }

  /**
   * A count of a range, linearizable: only a member in touch with a leader answers it, so a member
   * cut off from its peers fails it (and the next member is asked). Permission denied is an answer
   * too: etcd checks permissions after the read has reached the leader.
   */
  private async probe(range: KeyRange, signal: AbortSignal): Promise<void> {
    const body = { key: b64(range.key), range_end: b64(range.rangeEnd), count_only: true };
    try {
      await this.post(range.label, '/v3/kv/range', body, signal, this.probeTimeoutMs);
    } catch (error) {
      if (!(error instanceof OccsError && error.code === 'KV_PERMISSION_DENIED')) throw error;
    }
  }

  /** Asks a member other than the one in use for its health (`/health` says whether it has a leader). */
  private async checkOther(signal: AbortSignal): Promise<void> {
    const other = this.endpoints.nextOther();
    if (!other) return;
    try {
      const r = await this.http.request(new URL('/health', other), { timeoutMs: this.probeTimeoutMs, signal });
      const health = (parseError(r.body.toString('utf8')) as { health?: unknown }).health;
      if (r.status === 200 && (health === 'true' || health === true)) this.endpoints.answered(other);
      else this.endpoints.failed(other);
    } catch {
      if (!signal.aborted) this.endpoints.failed(other);
    }
  }

  private get probeTimeoutMs(): number {
    return Math.min(this.options.timeoutMs, PROBE_TIMEOUT_MS);
  }

  /** One range read: the pairs (a slashed key after the same key without) and their revision. */
  async range(range: KeyRange, signal?: AbortSignal): Promise<{ pairs: KvPair[]; revision: number }> {
    const body = { key: b64(range.key), range_end: b64(range.rangeEnd) };
    const answer = (await this.post(range.label, '/v3/kv/range', body, signal)) as { header?: { revision?: string }; kvs?: EtcdKv[] };
    const revision = Number(answer.header?.revision);
    if (!Number.isInteger(revision)) throw this.errors.failed(range.label, 'answered a range without a revision');
    const pairs = slashedLast((answer.kvs ?? []).map(toPair).filter((p) => p !== undefined));
    return { pairs: pairs.map(({ key, value }) => ({ key, value })), revision };
  }

  /** A watch stream of a range from a revision: one JSON message per line. */
  private async watchStream(range: KeyRange, fromRevision: number, signal: AbortSignal): Promise<AsyncIterable<EtcdWatchMessage>> {
    const body = {
      create_request: { key: b64(range.key), range_end: b64(range.rangeEnd), start_revision: String(fromRevision), progress_notify: true },
    };
    const stream = await this.send(
      range.label,
      '/v3/watch',
      body,
      (url, headers, text) => this.http.stream(url, { method: 'POST', headers, body: text, timeoutMs: this.options.timeoutMs, signal }),
      signal,
    );
    return parseLines(stream.lines);
  }

  private async post(label: string, path: string, body: object, signal?: AbortSignal, timeoutMs = this.options.timeoutMs): Promise<unknown> {
    const response = await this.send(
      label,
      path,
      body,
      async (url, headers, text) => {
        const r = await this.http.request(url, { method: 'POST', headers, body: text, timeoutMs, signal });
        return { status: r.status, text: r.body.toString('utf8') };
      },
      signal,
    );
    const answered = notFromTheGateway(response.status, response.text);
    if (answered) throw notEtcd(this.errors, label, `${answered} to ${path}`);
    return JSON.parse(response.text);
  }

  /**
   * Sends one request with the current token; asks for a token first (and again once, if etcd
   * says it expired). Any other refusal is an error that names the prefix.
   */
  private async send<R extends { status: number; text?: string } | HttpStream>(
    label: string,
    path: string,
    body: object,
    perform: (url: URL, headers: Record<string, string>, text: string) => Promise<R>,
    signal?: AbortSignal,
  ): Promise<R> {
    // Each endpoint once, from the one in use: a member that cannot serve hands the request to the next at once.
    for (let attempt = 0, tried = 1; ; attempt++) {
      const endpoint = this.endpoints.current;
      const url = new URL(path, endpoint);
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': `occs-lb/${packageVersion()}` };
      if (this.options.user) {
        if (!this.login) {
          // Not with this request's signal: the login is shared, and one request (a probe) may be
          // aborted while others wait for the same login.
          const login = this.authenticate(label);
          this.login = login;
          login.catch(() => {
            if (this.login === login) this.login = undefined; // a failed login is not kept
          });
        }
        headers.authorization = await this.login;
      }
      let response: R;
      try {
        response = await perform(url, headers, JSON.stringify(body));
      } catch (error) {
        if (tried < this.endpoints.size && !signal?.aborted && this.endpoints.moveOn(endpoint, unreachable(error))) {
          tried += 1;
          continue;
        }
        throw this.errors.requestFailed(label, error);
      }
      if (response.status === 200) {
        this.endpoints.answered(endpoint);
        return response;
      }
      const text = 'text' in response && response.text !== undefined ? response.text : await readAll((response as HttpStream).lines);
      const failure = parseError(text);
      const said = String(failure.message ?? failure.error ?? '');
      if (tried < this.endpoints.size && memberCannotServe(response.status, said) && this.endpoints.moveOn(endpoint, `said "${storeText(said, [])}"`)) {
        tried += 1;
        continue;
      }
      if (response.status === 401 && this.options.user && attempt === 0) {
        this.login = undefined; // expired: ask for a new one, once
        continue;
      }
      throw etcdRefusal(this.refusalContext, label, path, response.status, failure, text);
    }
  }

  private async authenticate(label: string): Promise<string> {
    const url = new URL('/v3/auth/authenticate', this.endpoints.current);
    let answer: { status: number; body: Buffer };
    try {
      answer = await this.http.request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: this.options.user, password: this.options.password ?? '' }),
        timeoutMs: this.options.timeoutMs,
      });
    } catch (error) {
      throw this.errors.requestFailed(label, error);
    }
    const text = answer.body.toString('utf8');
    const token = (parseError(text) as { token?: unknown }).token;
    if (answer.status !== 200 || typeof token !== 'string' || !token)
      throw etcdRefusal(this.refusalContext, label, url.pathname, answer.status, parseError(text), text);
    return token;
  }

  private get refusalContext(): RefusalContext {
    return { description: this.description, user: this.options.user, password: this.options.password, errors: this.errors };
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

async function* parseLines(lines: AsyncIterable<string>): AsyncIterable<EtcdWatchMessage> {
  for await (const line of lines) yield JSON.parse(line) as EtcdWatchMessage;
}
