import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { ConsulKvStore } from './consul-kv-store.js';
import { parkQuery, parseWait, readBody, readMode, send, type ReadMode, type Waiter } from './consul-kv-query.js';

export type { ConsulEntry } from './consul-kv-store.js';

/**
 * A Consul-KV-compatible HTTP server for tests: OCCS is gone and Consul cannot be installed here.
 * It keeps to what Consul does: base64 values (null when empty), 404 on an empty prefix,
 * `X-Consul-Index`, `X-Consul-KnownLeader` and `X-Consul-LastContact` on every answer, blocking
 * `?index=&wait=` queries (5 minutes by default, at most 10, plus up to a sixteenth of jitter)
 * that return early on a change under the prefix (or at the wait's end with the same index),
 * string-prefix `?recurse`, both auth headers, `?stale` and `?consistent`, `/v1/status/leader`,
 * and https when given a certificate.
 *
 * One server is a cluster of one. Several servers given one `store` are a cluster (see
 * consul-kv-cluster.ts): one key space, one index, one leader. A server can be told it knows no
 * leader (default and consistent reads fail with 500 "No cluster leader"; stale reads serve the
 * store as it was when the leader was lost, with a LastContact that grows), or to lag (stale
 * reads serve the store as it was `lagMs` ago). Failures can be injected: an HTTP status, a
 * malformed body, a hang, or the server gone (connections refused).
 */
export type Failure = { kind: 'status'; status: number; body?: string } | { kind: 'malformed'; body: string } | { kind: 'hang' };

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
}

export interface ConsulKvServerOptions {
  token?: string;
  deniedStatus?: 401 | 403;
  tls?: { key: string | Buffer; cert: string | Buffer };
  /**
   * The token may read only keys starting with this (Consul's `key_prefix` ACL rule): a plain
   * GET of another key is refused (403), a recursive GET leaves the others out, as Consul does.
   */
  readable?: string;
  /** The cluster's state, shared with its other servers (default: a cluster of this one). */
  store?: ConsulKvStore;
}

export class ConsulKvServer {
  readonly store: ConsulKvStore;
  private server?: http.Server | https.Server;
  private readonly sockets = new Set<Socket>();
  private readonly waiters = new Set<Waiter>();
  private failure?: Failure;
  private lostLeaderAt?: number;
  port = 0;
  /** Stale reads serve the store as it was this long ago (and say so in X-Consul-LastContact). */
  lagMs = 0;
  /** X-Consul-LastContact of this server when it does not lead (default: its lag). */
  lastContactMs?: number;
  /** Every request received, newest last. */
  readonly requests: RecordedRequest[] = [];
  /** Bytes written to connections that have closed. */
  private closedBytes = 0;

  constructor(private readonly options: ConsulKvServerOptions = {}) {
    this.store = options.store ?? new ConsulKvStore();
    this.store.join(this);
    this.store.onChange((keys) => {
      for (const waiter of [...this.waiters]) if (keys.some((key) => key.startsWith(waiter.prefix))) waiter.changed();
    });
  }

  get url(): string {
    return `${this.options.tls ? 'https' : 'http'}://${this.address}`;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  get isLeader(): boolean {
    return this.store.leader() === this;
  }

  /** Whether this server knows a leader (X-Consul-KnownLeader). */
  get knownLeader(): boolean {
    return this.lostLeaderAt === undefined;
  }

  /** Tells the server it lost its leader (false) or found one again (true). */
  set knownLeader(known: boolean) {
    if (known === this.knownLeader) return;
    this.lostLeaderAt = known ? undefined : performance.now();
    if (!known) for (const waiter of [...this.waiters]) waiter.leaderLost();
  }

  /** Starts listening on 127.0.0.1 (a free port the first time, the same port on a restart). */
  async start(): Promise<this> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.handle(req, res);
    const server = this.options.tls ? https.createServer(this.options.tls, handler) : http.createServer(handler);
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => {
        this.sockets.delete(socket);
        this.closedBytes += socket.bytesWritten;
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Stops listening and cuts every open connection: clients now see "connection refused". */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const waiter of [...this.waiters]) waiter.gone();
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Injects a failure (undefined: heals). Parked blocking queries get it too, as Consul's do on leader loss. */
  fail(failure: Failure | undefined): void {
    this.failure = failure;
    if (failure && failure.kind !== 'hang') for (const waiter of [...this.waiters]) waiter.changed();
  }

  /** Rotates the ACL token: the old one is revoked, and requests that carry it are refused from now on, as Consul refuses a deleted token. */
  rotateToken(token: string): void {
    this.options.token = token;
  }

  put(key: string, value: string, flags = 0): void {
    this.store.put(key, value, flags);
  }

  delete(key: string, recurse = false): void {
    this.store.delete(key, recurse);
  }

  putMany(pairs: ReadonlyArray<readonly [string, string]>, flags = 0): void {
    this.store.putMany(pairs, flags);
  }

  deleteMany(keys: readonly string[]): void {
    this.store.deleteMany(keys);
  }

  /** Blocking queries waiting right now (lets tests wait until a watcher is parked). */
  /** Every byte this server has sent (heads and bodies), on connections open or closed. */
  get bytesSent(): number {
    let sent = this.closedBytes;
    for (const socket of this.sockets) sent += socket.bytesWritten;
    return sent;
  }

  get blockedQueries(): number {
    return this.waiters.size;
  }

  /** What the parked blocking queries ask, sorted: the key (prefix), with `?keys` for a listing. */
  get blockedOn(): string[] {
    return [...this.waiters].map((w) => w.asks).sort();
  }

  /**
   * What a read in `mode` sees here: the leader's present (default and consistent reads are
   * forwarded to it), or this server's own copy (stale), which is behind by its lag, and frozen
   * since it lost its leader.
   */
  private view(mode: ReadMode): { asOf?: number; knownLeader: boolean; lastContact: number } {
    if (mode !== 'stale' || this.isLeader) return { knownLeader: true, lastContact: 0 };
    const now = performance.now();
    const behind = this.lastContactMs ?? this.lagMs;
    const asOf = Math.min(now - this.lagMs, this.lostLeaderAt ?? now);
    return {
      asOf: asOf < now ? asOf : undefined,
      knownLeader: this.knownLeader,
      lastContact: Math.round(behind + (this.lostLeaderAt === undefined ? 0 : now - this.lostLeaderAt)),
    };
  }

  private authorised(req: http.IncomingMessage): boolean {
    if (!this.options.token) return true;
    const bearer = /^Bearer (.*)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = req.headers['x-consul-token'] ?? bearer;
    return token === this.options.token;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers });
    if (this.failure?.kind === 'hang') return;
    if (this.answerFailure(res)) return;
    if (url.pathname === '/v1/status/leader') return send(res, 200, JSON.stringify(this.knownLeader ? (this.store.leader()?.address ?? '') : ''));
    if (!url.pathname.startsWith('/v1/kv/')) return send(res, 404, 'no such endpoint', 'text/plain');
    if (!this.authorised(req)) return send(res, this.options.deniedStatus ?? 403, 'Permission denied', 'text/plain');
    const mode = readMode(url.searchParams);
    if (mode === undefined) return send(res, 400, 'Cannot specify ?stale with ?consistent, conflicting semantics.', 'text/plain');
    if ((mode !== 'stale' || req.method !== 'GET') && !this.knownLeader) return send(res, 500, 'No cluster leader', 'text/plain');

    const key = decodeURIComponent(url.pathname.slice('/v1/kv/'.length));
    if (req.method === 'PUT') return readBody(req, (body) => (this.put(key, body), send(res, 200, 'true')));
    if (req.method === 'DELETE') {
      this.delete(key, url.searchParams.has('recurse'));
      return send(res, 200, 'true');
    }
    if (req.method !== 'GET') return send(res, 405, 'method not allowed', 'text/plain');
    this.get(res, url, key, mode);
  }

  private get(res: http.ServerResponse, url: URL, key: string, mode: ReadMode): void {
    // `keys` lists the keys alone (no values), and implies `recurse`; `separator` cuts each just after the separator that follows the prefix.
    const keys = url.searchParams.has('keys') ? (url.searchParams.get('separator') ?? '') : undefined;
    const recurse = url.searchParams.has('recurse') || keys !== undefined;
    const raw = url.searchParams.has('raw');
    const readable = this.options.readable;
    if (readable !== undefined && !recurse && !key.startsWith(readable)) return send(res, 403, 'Permission denied', 'text/plain');
    const since = Number(url.searchParams.get('index') ?? '0');
    const wait = parseWait(url.searchParams.get('wait'));
    if (wait === undefined) return send(res, 400, 'Invalid wait time', 'text/plain');
    const read = () => {
      const view = this.view(mode);
      return { view, answer: this.store.read(key, recurse, raw, readable, view.asOf, keys) };
    };
    const answer = (): void => {
      // A hung server answers nothing, not even a query parked before it hung.
      if (res.writableEnded || !this.server || this.failure?.kind === 'hang' || this.answerFailure(res)) return;
      const { view, answer: found } = read();
      res.setHeader('X-Consul-Index', String(found.index));
      res.setHeader('X-Consul-KnownLeader', String(view.knownLeader));
      res.setHeader('X-Consul-LastContact', String(view.lastContact));
      if (found.body === undefined) return send(res, 404, '', 'text/plain');
      send(res, 200, found.body, raw ? 'text/plain' : 'application/json');
    };
    if (!(since > 0) || read().answer.index > since) return answer();
    parkQuery(this.waiters, res, {
      prefix: key,
      asks: keys === undefined ? key : `${key}?keys`,
      wait,
      moved: () => read().answer.index > since,
      // A lagging server sees a change lagMs after it is made; one without a leader, never.
      lateBy: () => (mode === 'stale' && this.knownLeader && !this.isLeader ? this.lagMs : 0),
      failing: () => this.failure !== undefined,
      answer,
      leaderLost: () => mode !== 'stale' && (send(res, 500, 'No cluster leader', 'text/plain'), true),
    });
  }

  /** Answers with the injected failure, if there is one (a hang answers nothing). */
  private answerFailure(res: http.ServerResponse): boolean {
    const failure = this.failure;
    if (failure?.kind === 'status') send(res, failure.status, failure.body ?? 'injected failure', 'text/plain');
    else if (failure?.kind === 'malformed') send(res, 200, failure.body, 'application/json');
    return failure !== undefined && failure.kind !== 'hang';
  }
}
