import http from 'node:http';
import type { Socket } from 'node:net';
import { usageError, systemErrorCode } from '../errors.js';
import { visibleJson } from '../log.js';
import { health, healthDocument, liveness, readiness, type Deadlines, type Verdict } from './health.js';
import { metricsText } from './metrics.js';
import type { WatchState } from './state.js';

/**
 * Limits that keep a client from holding the status listener: it may be reachable by anyone
 * (`--listen 0.0.0.0:9180` in a container), and it shares the process with the one that
 * supervises HAProxy.
 */
const LIMITS = {
  /** The request line and headers must arrive within this (slow clients are cut). */
  headersTimeoutMs: 5_000,
  /** A whole request, body included. */
  requestTimeoutMs: 10_000,
  /** An idle keep-alive connection. */
  keepAliveTimeoutMs: 5_000,
  /** Headers beyond this answer 431. */
  maxHeaderSize: 8 * 1024,
  /** Connections beyond this are refused until others close. */
  maxConnections: 256,
  /** Connections one client address may hold: one client cannot take all of them. */
  perClient: 8,
} as const;

const PATHS = ['/livez', '/readyz', '/healthz', '/metrics'] as const;
const RUNNING_CACHE_MS = 250;
type Route = 'livez' | 'readyz' | 'healthz' | 'metrics' | 'unknown' | 'bad';

/** What the status listener answers from: the watch's state, and the probes that need the moment's facts. */
export interface StatusSource {
  state: WatchState;
  /** Whether HAProxy runs (undefined: cannot tell). */
  running: () => Promise<boolean | undefined>;
  deadlines: Deadlines;
  /** Masks our secrets in a text (a reason may quote a store's error). */
  redact: <T>(value: T) => T;
}

/**
 * The path of a request target, without parsing it as a URL: origin-form (`/healthz?x`) or
 * absolute-form (`http://host/healthz`). Anything else (`*`, `host:port`, garbage) is 'bad'.
 */
export function routeOf(target: string | undefined): Route {
  if (!target) return 'bad';
  let path: string;
  if (target.startsWith('/')) path = target;
  else {
    const absolute = /^https?:\/\/(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]*)(?::\d*)?(\/[^?#]*)?(?:[?#]|$)/i.exec(target);
    if (!absolute) return 'bad';
    path = absolute[1] ?? '/';
  }
  path = path.replace(/[?#].*$/s, '');
  const known = PATHS.find((p) => p === path);
  return known ? (known.slice(1) as Route) : 'unknown';
}

/** `?format=json` in the target, or JSON preferred by the Accept header. */
export function wantsJson(target: string | undefined, accept: string | undefined): boolean {
  if (/[?&]format=json(?:[&#]|$)/.test(target ?? '')) return true;
  return /(^|,)\s*application\/json\s*(;|,|$)/i.test(accept ?? '');
}

/**
 * `--listen HOST:PORT`: /livez, /readyz and /healthz (200 or 503 with the reason; /healthz also
 * as JSON) and /metrics (Prometheus text). Nothing a client sends can throw out of here: a
 * request that cannot be answered gets a 4xx (or, when it cannot even be parsed, a 400 and the
 * connection closed).
 */
export async function serveStatus(status: StatusSource, host: string, port: number): Promise<http.Server> {
  // One look at HAProxy serves every probe of the next 250 ms: a flood of probes cannot make
  // watch spend its time asking, and a HAProxy that died is still seen within a probe period.
  let asked: { at: number; answer: Promise<boolean | undefined> } | undefined;
  const running = () => {
    if (!asked || Date.now() - asked.at > RUNNING_CACHE_MS) asked = { at: Date.now(), answer: status.running() };
    return asked.answer;
  };
  const source: StatusSource = { ...status, running };
  const options: http.ServerOptions = {
    maxHeaderSize: LIMITS.maxHeaderSize,
    requestTimeout: LIMITS.requestTimeoutMs,
    headersTimeout: LIMITS.headersTimeoutMs,
    keepAliveTimeout: LIMITS.keepAliveTimeoutMs,
    // How often the two timeouts above are enforced (Node's default, 30 s, would let them run long).
    connectionsCheckingInterval: 1_000,
  };
  const server = http.createServer(options, (req, res) => {
    const failed = () => {
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    };
    try {
      answer(source, req, res).catch(failed);
    } catch {
      failed();
    }
  });
  server.maxConnections = LIMITS.maxConnections;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const client = socket.remoteAddress ?? '';
    const count = (open.get(client) ?? 0) + 1;
    if (count > LIMITS.perClient) return void socket.destroy();
    open.set(client, count);
    socket.once('close', () => {
      const left = (open.get(client) ?? 1) - 1;
      if (left > 0) open.set(client, left);
      else open.delete(client);
    });
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => refuseClient(error, socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(usageError(`cannot listen on ${host}:${port} (${systemErrorCode(error) ?? String(error)})`, { hint: 'choose another --listen address' })),
    );
    // No host: every address (IPv6 and IPv4), as a kubelet's probes need in a pod.
    server.listen(port, host || undefined, () => resolve());
  });
  // Once listening, a failure of one connection must not reach the process.
  server.on('error', () => {});
  return server;
}

async function answer(source: StatusSource, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  res.on('error', () => {});
  req.on('error', () => {});
  // Nothing here reads a body: let any that comes go by, so keep-alive and pipelining still work.
  req.resume();
  const route = routeOf(req.url);
  const { state, redact } = source;
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'only GET and HEAD\n', { allow: 'GET, HEAD' });
  if (route === 'bad') return send(res, 400, 'bad request target\n', { connection: 'close' });
  // Label values are data too (a backend is an app's name in stack mode): masked like every other output.
  if (route === 'metrics') return send(res, 200, redact(metricsText(state)), { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  if (route === 'unknown') return send(res, 404, 'try /livez, /readyz, /healthz or /metrics\n');
  if (route === 'livez') return verdict(res, liveness(state, Date.now(), source.deadlines), redact);
  const running = await source.running();
  if (route === 'readyz') return verdict(res, readiness(state, running), redact);
  if (!wantsJson(req.url, req.headers.accept)) return verdict(res, health(state), redact);
  const doc = redact(healthDocument(state, running, Date.now(), source.deadlines));
  // Invisible characters of keys as JSON escapes, as in the logs: the same data, nothing hidden on a terminal.
  send(res, health(state).ok ? 200 : 503, `${visibleJson(doc)}\n`, { 'content-type': 'application/json; charset=utf-8' });
}

/** 200 or 503 with the reason, which may quote a store's error: masked like every other output. */
function verdict(res: http.ServerResponse, { ok, reason }: Verdict, redact: StatusSource['redact']): void {
  send(res, ok ? 200 : 503, `${redact(reason)}\n`);
}

function send(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(bytes.length), ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : bytes);
}

/** A request Node's parser refused (or a socket that failed): answer 4xx if we still can, then close. */
function refuseClient(error: NodeJS.ErrnoException, socket: Socket): void {
  socket.on('error', () => {});
  if (socket.writable && error.code !== 'ECONNRESET') {
    const status =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  }
  socket.destroySoon();
}
