import { hostname } from 'node:os';
import { packageVersion } from '../paths.js';
import type { OccsError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { consulMeta, encodePrefix, folderListing, hasIndex, notConsul, prefixReading, spreadIndex, type Get } from './consul-answers.js';
import { KeptListings } from './consul-kept.js';
import type { FolderListing } from './consul-answers.js';
import { BLOCKING_WAIT_S, watchConsul, type PrefixReading } from './consul-watch.js';
import { Endpoints } from './endpoints.js';
import { checkOthersOnFailover, PROBE_TIMEOUT_MS } from './liveness.js';
import { HttpClient, type HttpResponse } from './http.js';
import { toSnapshot } from './keys.js';
import { listedDirectories, SiblingLister } from './siblings.js';
import { DEFAULT_MAX_STALE_MS, type KvConsistency, type KvSnapshot, type KvSource, type KvSourceOptions, type KvWatchListener } from './source.js';
import { bodySnippet, StoreErrors, unreachable } from './store-errors.js';

/**
 * The Consul KV HTTP API, which OCCS spoke too: one recursive GET per prefix, the token sent as
 * both `Authorization: Bearer` and `X-Consul-Token`, 404 with X-Consul-Index meaning "no keys",
 * anything else unexpected an error (never "no backends"): a 404 without it is no Consul's.
 *
 * Given several servers, requests go to one at a time; one that does not answer (refused, timed
 * out), answers 5xx, knows no leader (default and consistent reads) or has not heard from its
 * leader for longer than --kv-max-stale (stale reads) hands the request to the next at once, and
 * a request still waiting on it (a blocking query) is sent again to the next from the same index.
 */
export class ConsulSource implements KvSource {
  readonly description: string;
  readonly endpoints: Endpoints;
  private readonly http: HttpClient;
  private readonly errors: StoreErrors;
  private readonly headers: Record<string, string>;
  private readonly consistency: KvConsistency;
  private readonly maxStaleMs: number;
  /** The consistency parameter of every read, if one is asked (`&stale`). */
  private readonly mode: string;
  /** Requests waiting on each endpoint, aborted when it is left so they are sent to the next. */
  private readonly underway = new Map<URL, Set<AbortController>>();
  private contact?: number;
  /** Each prefix's last listing, so only the bytes of an answer that changed are read again (consul-listing.ts). */
  private readonly kept = new KeptListings();
  /** The key probes ask for: the first prefix read. */
  private probeKey?: string;
  /** The directories beside a prefix that holds no key, asked once while it holds none. */
  private readonly siblings = new SiblingLister((parent, signal) => this.listDirectory(parent, signal));

  constructor(
    endpoints: readonly URL[],
    private readonly options: KvSourceOptions,
  ) {
    this.consistency = options.consistency ?? 'default';
    this.maxStaleMs = options.maxStaleMs ?? DEFAULT_MAX_STALE_MS;
    this.mode = this.consistency === 'default' ? '' : `&${this.consistency}`;
    // Any server answers stale reads: each host starts at its own, so a fleet spreads its reads.
    this.endpoints = new Endpoints(endpoints, '', this.consistency === 'stale' ? spreadIndex(hostname(), endpoints.length) : 0);
    this.description = this.endpoints.description;
    this.errors = new StoreErrors(this.description, 'KV_IP/KV_PORT (or --kv)');
    this.http = new HttpClient(options);
    this.headers = { accept: 'application/json', 'user-agent': `occs-lb/${packageVersion()}` };
    if (options.token) {
      this.headers.authorization = `Bearer ${options.token}`;
      this.headers['x-consul-token'] = options.token;
    }
    this.endpoints.onMove(() => {
      for (const [endpoint, requests] of this.underway) if (endpoint !== this.endpoints.current) for (const request of requests) request.abort();
    });
  }

  /**
   * X-Consul-LastContact of the last answer a server gave from its own copy (stale reads, and
   * probes: default and consistent reads come from the leader, which says 0): how far behind its
   * leader the server in use is. Undefined until one came, or from a store that does not say (OCCS).
   */
  get lastContactMs(): number | undefined {
    return this.contact;
  }

  async read(prefixes: readonly string[], signal?: AbortSignal): Promise<KvSnapshot> {
    const lists = await Promise.all(prefixes.map((prefix) => this.readPrefix(prefix, signal)));
    return this.siblings.add(toSnapshot(lists.flatMap((l) => l.pairs)), prefixes, signal);
  }

  watch(prefixes: readonly string[], listener: KvWatchListener, signal: AbortSignal): Promise<void> {
    this.probeKey ??= prefixes[0];
    const key = prefixes[0] ?? 'occs-lb';
    const checkOther = (checkSignal: AbortSignal) => this.checkOther(checkSignal, key);
    const stopChecking = checkOthersOnFailover(this.endpoints, checkOther, signal);
    return watchConsul(prefixes, this.siblings.listening(listener, prefixes, signal), signal, {
      read: (prefix, since, readSignal, keptAs) => this.readPrefix(prefix, readSignal ?? signal, since, keptAs),
      split: this.options.watchInParts,
      list: (folder, since, listSignal) => this.listFolder(folder, listSignal ?? signal, since),
      drop: (part) => this.kept.drop(part),
      probe: (probeSignal) => this.probe(probeSignal, key, this.probeTimeoutMs),
      checkOther,
      pollIntervalMs: this.options.pollIntervalMs ?? 5000,
    }).finally(stopChecking);
  }

  /**
   * Proves a server can serve: a stale, non-recursive GET of the prefix's own key, which any server
   * answers from its own copy (usually a tiny 404), its headers saying whether it knows a leader and
   * when it last heard from it. Any answer but a 5xx will do (a token scoped below the prefix may get
   * 403), but a 404 or 200 without X-Consul-Index is no Consul's. A server that cannot serve is left
   * for the next, with the requests waiting on it. Throws only when none can serve.
   */
  async probe(signal: AbortSignal, prefix = this.probeKey ?? 'occs-lb', timeoutMs = this.options.timeoutMs): Promise<void> {
    const response = await this.get({ prefix, query: 'stale', timeoutMs, signal, local: true });
    if (response.status >= 500) throw this.failed(prefix, `answered HTTP ${response.status}${bodySnippet(response.body, [this.options.token])}`);
    const answered = response.status === 404 || response.status === 200;
    if (answered && !hasIndex(response.headers)) throw notConsul(this.errors, prefix, `HTTP ${response.status} without X-Consul-Index`);
  }

  /** Asks a server other than the one in use whether it could serve (the probe's question), for /healthz. */
  private async checkOther(signal: AbortSignal, prefix: string): Promise<void> {
    const other = this.endpoints.nextOther();
    if (!other) return;
    const url = new URL(`/v1/kv/${encodePrefix(prefix)}`, other);
    url.search = 'stale';
    try {
      const response = await this.http.request(url, { headers: this.headers, timeoutMs: this.probeTimeoutMs, signal });
      if (this.cannotServe(response, true) === undefined) this.endpoints.answered(other);
      else this.endpoints.failed(other);
    } catch {
      if (!signal.aborted) this.endpoints.failed(other);
    }
  }

  /** A probe is one tiny read: a server that needs longer is in trouble, and the next one is asked. */
  private get probeTimeoutMs(): number {
    return Math.min(this.options.timeoutMs, PROBE_TIMEOUT_MS);
  }

  /**
   * One recursive GET of a prefix; with `since`, a blocking query that Consul holds until
   * something under the prefix changes past that index (or the wait ends).
   */
  private async readPrefix(prefix: string, signal?: AbortSignal, since?: number, keptAs = prefix): Promise<PrefixReading> {
    this.probeKey ??= prefix;
    const lent = this.kept.lend(keptAs);
    try {
      const response = await this.get({ prefix, ...this.asking('recurse', since), signal, local: this.consistency === 'stale', into: lent.into });
      return prefixReading({ kept: this.kept, as: keptAs }, prefix, response, this.errors, this.options.token);
    } finally {
      lent.release();
    }
  }

  /** A read's query and timeout; with `since`, a blocking query, given room for the up to wait/16 of jitter Consul adds. */
  private asking(what: string, since?: number): { query: string; timeoutMs: number } {
    if (!since) return { query: `${what}${this.mode}`, timeoutMs: this.options.timeoutMs };
    return { query: `${what}&index=${since}&wait=${BLOCKING_WAIT_S}s${this.mode}`, timeoutMs: this.options.timeoutMs + BLOCKING_WAIT_S * 1000 * 1.1 };
  }

  /**
   * The names in a folder as Consul's `?keys&separator=/` lists them (consul-answers.ts); with
   * `since`, a blocking query.
   */
  private async listFolder(folder: string, signal?: AbortSignal, since?: number): Promise<FolderListing> {
    // Into a kept buffer, as a read is: an answer to every change under the folder, read by node:http, cost more than the read itself.
    const lent = this.kept.lend(`${folder}\0?keys`);
    try {
      const asked = { prefix: folder, ...this.asking('keys&separator=/', since), signal, local: this.consistency === 'stale', into: lent.into };
      return folderListing(await this.get(asked), folder, this.errors, this.options.token);
    } finally {
      lent.release();
    }
  }

  /** The directories in `parent` (its keys are left out), without their `/`; none when it holds no key. */
  private async listDirectory(parent: string, signal?: AbortSignal): Promise<string[]> {
    return listedDirectories((await this.listFolder(parent && `${parent}/`, signal)).names ?? []);
  }

  /**
   * One GET of `/v1/kv/<prefix>`, to the server in use, and to the next at once when that one
   * cannot serve: each server once. A request waiting on a server that another request left is
   * sent again to the one now in use. When the last cannot serve either, its answer is returned
   * (a 5xx, for the caller's error), or the reason it cannot serve is thrown.
   */
  private async get(request: Get): Promise<HttpResponse> {
    for (let tried = 1; ;) {
      const endpoint = this.endpoints.current;
      const url = new URL(`/v1/kv/${encodePrefix(request.prefix)}`, endpoint);
      url.search = request.query;
      const left = new AbortController();
      const signal = request.signal ? AbortSignal.any([request.signal, left.signal]) : left.signal;
      const untrack = this.track(endpoint, left);
      let response: HttpResponse;
      try {
        response = await this.http.request(url, { headers: this.headers, timeoutMs: request.timeoutMs, signal, into: request.into });
      } catch (error) {
        if (request.signal?.aborted) throw this.errors.requestFailed(request.prefix, error);
        if (left.signal.aborted) continue; // the server was left meanwhile: again, to the one in use
        if (tried < this.endpoints.size && this.endpoints.moveOn(endpoint, unreachable(error))) {
          tried += 1;
          continue;
        }
        this.endpoints.failed(endpoint);
        throw this.errors.requestFailed(request.prefix, error);
      } finally {
        untrack();
      }
      const contact = consulMeta(response.headers).lastContactMs;
      if (request.local && contact !== undefined) this.contact = contact;
      const why = this.cannotServe(response, request.local);
      if (why === undefined) {
        this.endpoints.answered(endpoint);
        return response;
      }
      if (tried < this.endpoints.size && this.endpoints.moveOn(endpoint, why)) {
        tried += 1;
        continue;
      }
      this.endpoints.failed(endpoint);
      if (response.status >= 500) return response;
      throw this.failed(request.prefix, why);
    }
  }

  /** Why the server that gave this answer cannot serve our reads (safe to log); undefined when it can. */
  private cannotServe(response: HttpResponse, local: boolean): string | undefined {
    if (response.status >= 500 || response.status === 429) return `answered HTTP ${response.status}${bodySnippet(response.body, [this.options.token])}`;
    const meta = consulMeta(response.headers);
    // Default and consistent reads need a leader; a stale read is served by a server without one.
    if (this.consistency !== 'stale' && meta.knownLeader === false) return 'knows no leader (X-Consul-KnownLeader: false)';
    if (this.consistency === 'stale' && local && meta.lastContactMs !== undefined && meta.lastContactMs > this.maxStaleMs) {
      return `last heard from its leader ${formatDuration(meta.lastContactMs)} ago, more than --kv-max-stale (${formatDuration(this.maxStaleMs)})`;
    }
    return undefined;
  }

  /** Notes a request waiting on `endpoint`; returns the function that forgets it. */
  private track(endpoint: URL, request: AbortController): () => void {
    let requests = this.underway.get(endpoint);
    if (!requests) this.underway.set(endpoint, (requests = new Set()));
    requests.add(request);
    return () => requests.delete(request);
  }

  private failed(prefix: string, what: string): OccsError {
    return this.errors.failed(prefix, what);
  }

  async close(): Promise<void> {
    this.http.close();
  }
}
