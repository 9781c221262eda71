import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A Consul-KV-compatible HTTP server for tests: OCCS is gone and Consul cannot be installed here.
 * It keeps to what Consul does: base64 values (null when empty), 404 on an empty prefix,
 * `X-Consul-Index` on every answer, blocking `?index=&wait=` queries that return early on a
 * change under the prefix (or at the wait's end with the same index), string-prefix `?recurse`,
 * both auth headers, and https when given a certificate. Failures can be injected: an HTTP status, a malformed body, a hang, or
 * the server gone (connections refused).
 */
export interface ConsulEntry {
  Key: string;
  Value: string | null;
  Flags: number;
  LockIndex: number;
  CreateIndex: number;
  ModifyIndex: number;
}

export type Failure = { kind: 'status'; status: number; body?: string } | { kind: 'malformed'; body: string } | { kind: 'hang' };

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
}

interface Waiter {
  prefix: string;
  wake: () => void;
}

export class ConsulKvServer {
  private readonly entries = new Map<string, ConsulEntry>();
  /** Raft index of the last delete under a key, so an index still moves when keys vanish. */
  private readonly tombstones = new Map<string, number>();
  private index = 1;
  private server?: http.Server | https.Server;
  private readonly sockets = new Set<Socket>();
  private waiters = new Set<Waiter>();
  /**
   * Answers to reads, until the next write: a write wakes every watcher of its prefix at once,
   * and Consul serves them all from its in-memory tree, not by sorting and encoding each time.
   */
  private readonly answers = new Map<string, { index: number; body?: string }>();
  private failure?: Failure;
  port = 0;
  /** Every request received, newest last. */
  readonly requests: RecordedRequest[] = [];

  constructor(
    private readonly options: {
      token?: string;
      deniedStatus?: 401 | 403;
      tls?: { key: string | Buffer; cert: string | Buffer };
      /**
       * The token may read only keys starting with this (Consul's `key_prefix` ACL rule): a plain
       * GET of another key is refused (403), a recursive GET leaves the others out, as Consul does.
       */
      readable?: string;
    } = {},
  ) {}

  get url(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Starts listening on 127.0.0.1 (a free port the first time, the same port on a restart). */
  async start(): Promise<this> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.handle(req, res);
    const server = this.options.tls ? https.createServer(this.options.tls, handler) : http.createServer(handler);
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
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
    for (const waiter of this.waiters) waiter.wake();
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Injects a failure (undefined: heals). Parked blocking queries get it too, as Consul's do on leader loss. */
  fail(failure: Failure | undefined): void {
    this.failure = failure;
    if (failure && failure.kind !== 'hang') for (const waiter of [...this.waiters]) waiter.wake();
  }

  /** Rotates the ACL token: the old one is revoked, and requests that carry it are refused from now on, as Consul refuses a deleted token. */
  rotateToken(token: string): void {
    this.options.token = token;
  }

  put(key: string, value: string, flags = 0): void {
    this.putMany([[key, value]], flags);
  }

  delete(key: string, recurse = false): void {
    const k = key.replace(/^\/+/, '');
    const doomed = recurse ? [...this.entries.keys()].filter((e) => e.startsWith(k)) : [k];
    if (!doomed.some((d) => this.entries.has(d))) return;
    this.index += 1;
    for (const d of doomed) {
      if (this.entries.delete(d)) this.tombstones.set(d, this.index);
    }
    for (const d of doomed) this.notify(d);
  }

  /** Several keys set in one Consul transaction (`PUT /v1/txn`): one index, one wake-up. */
  putMany(pairs: ReadonlyArray<readonly [string, string]>, flags = 0): void {
    this.index += 1;
    for (const [key, value] of pairs) {
      const k = key.replace(/^\/+/, '');
      const previous = this.entries.get(k);
      const encoded = value === '' ? null : Buffer.from(value, 'utf8').toString('base64');
      this.entries.set(k, { Key: k, Value: encoded, Flags: flags, LockIndex: 0, CreateIndex: previous?.CreateIndex ?? this.index, ModifyIndex: this.index });
    }
    for (const [key] of pairs) this.notify(key.replace(/^\/+/, ''));
  }

  /** Several keys deleted in one Consul transaction: one index, one wake-up. */
  deleteMany(keys: readonly string[]): void {
    this.index += 1;
    const doomed = keys.map((key) => key.replace(/^\/+/, ''));
    for (const d of doomed) if (this.entries.delete(d)) this.tombstones.set(d, this.index);
    for (const d of doomed) this.notify(d);
  }

  /** Blocking queries waiting right now (lets tests wait until a watcher is parked). */
  get blockedQueries(): number {
    return this.waiters.size;
  }

  private notify(key: string): void {
    this.answers.clear();
    for (const waiter of [...this.waiters]) if (key.startsWith(waiter.prefix)) waiter.wake();
  }

  /** Consul's index for a prefix: the highest modify or delete index under it. */
  private prefixIndex(prefix: string, recurse: boolean): number {
    let max = 0;
    const under = (key: string) => (recurse ? key.startsWith(prefix) : key === prefix);
    for (const entry of this.entries.values()) if (under(entry.Key)) max = Math.max(max, entry.ModifyIndex);
    for (const [key, index] of this.tombstones) if (under(key)) max = Math.max(max, index);
    return Math.max(max, 1);
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
    if (!url.pathname.startsWith('/v1/kv/')) return this.send(res, 404, 'no such endpoint', 'text/plain');
    if (!this.authorised(req)) {
      return this.send(res, this.options.deniedStatus ?? 403, 'Permission denied', 'text/plain');
    }

    const key = decodeURIComponent(url.pathname.slice('/v1/kv/'.length));
    if (req.method === 'PUT') return this.readBody(req, (body) => (this.put(key, body), this.send(res, 200, 'true')));
    if (req.method === 'DELETE') {
      this.delete(key, url.searchParams.has('recurse'));
      return this.send(res, 200, 'true');
    }
    if (req.method !== 'GET') return this.send(res, 405, 'method not allowed', 'text/plain');

    const recurse = url.searchParams.has('recurse');
    const readable = this.options.readable;
    if (readable !== undefined && !recurse && !key.startsWith(readable)) return this.send(res, 403, 'Permission denied', 'text/plain');
    const since = Number(url.searchParams.get('index') ?? '0');
    const wait = parseWait(url.searchParams.get('wait'));
    const answer = (): void => {
      if (!this.answerFailure(res)) this.answerGet(res, key, recurse, url.searchParams.has('raw'));
    };
    if (!(since > 0) || this.read(key, recurse, url.searchParams.has('raw')).index > since) return answer();

    // Blocking query: answer on the first change under the prefix, or when the wait is over.
    const waiter: Waiter = {
      prefix: key,
      wake: () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        if (!res.writableEnded && this.server) answer();
      },
    };
    const timer = setTimeout(waiter.wake, wait);
    this.waiters.add(waiter);
    res.on('close', () => {
      clearTimeout(timer);
      this.waiters.delete(waiter);
    });
  }

  /** Answers with the injected failure, if there is one (a hang answers nothing). */
  private answerFailure(res: http.ServerResponse): boolean {
    const failure = this.failure;
    if (failure?.kind === 'status') this.send(res, failure.status, failure.body ?? 'injected failure', 'text/plain');
    else if (failure?.kind === 'malformed') this.send(res, 200, failure.body, 'application/json');
    return failure !== undefined && failure.kind !== 'hang';
  }

  private answerGet(res: http.ServerResponse, key: string, recurse: boolean, raw: boolean): void {
    const { index, body } = this.read(key, recurse, raw);
    res.setHeader('X-Consul-Index', String(index));
    res.setHeader('X-Consul-KnownLeader', 'true');
    if (body === undefined) return this.send(res, 404, '', 'text/plain');
    this.send(res, 200, body, raw ? 'text/plain' : 'application/json');
  }

  /** A read's index and body (undefined: no key), computed once per write. */
  private read(key: string, recurse: boolean, raw: boolean): { index: number; body?: string } {
    const id = `${recurse}:${raw}:${key}`;
    const known = this.answers.get(id);
    if (known) return known;
    const matches = [...this.entries.values()]
      .filter((e) => (recurse ? e.Key.startsWith(key) : e.Key === key))
      .filter((e) => this.options.readable === undefined || e.Key.startsWith(this.options.readable))
      .sort((a, b) => (a.Key < b.Key ? -1 : 1));
    const body = matches.length === 0 ? undefined : raw ? Buffer.from(matches[0]!.Value ?? '', 'base64').toString('utf8') : JSON.stringify(matches);
    const answer = { index: this.prefixIndex(key, recurse), body };
    this.answers.set(id, answer);
    return answer;
  }

  private readBody(req: http.IncomingMessage, then: (body: string) => void): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => then(Buffer.concat(chunks).toString('utf8')));
  }

  private send(res: http.ServerResponse, status: number, body: string, type = 'application/json'): void {
    res.writeHead(status, { 'Content-Type': type });
    res.end(body);
  }
}

/** Consul's `wait`: `30s`, `1m`, `500ms`; default 5 minutes, capped at 10 minutes. */
function parseWait(text: string | null): number {
  const match = /^(\d+)(ms|s|m)?$/.exec(text ?? '');
  if (!match) return 300_000;
  const unit = match[2] === 'ms' ? 1 : match[2] === 'm' ? 60_000 : 1000;
  return Math.min(Number(match[1]) * unit, 600_000);
}
