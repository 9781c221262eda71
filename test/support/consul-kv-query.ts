import type { IncomingMessage, ServerResponse } from 'node:http';

/** How the Consul-KV test server reads a query's consistency and blocking wait, and answers, as Consul does. */

export type ReadMode = 'default' | 'stale' | 'consistent';

/** The consistency a read asks for; undefined when it asks for both (Consul refuses that, 400). */
export function readMode(query: URLSearchParams): ReadMode | undefined {
  if (query.has('stale') && query.has('consistent')) return undefined;
  return query.has('stale') ? 'stale' : query.has('consistent') ? 'consistent' : 'default';
}

/** Consul's longest blocking wait, and the one it uses when none is asked. */
export const MAX_WAIT_MS = 10 * 60_000;
export const DEFAULT_WAIT_MS = 5 * 60_000;

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * How long a blocking query waits: `wait` is a Go duration (`30s`, `1m30s`, `500ms`), 5 minutes
 * when absent or zero, at most 10 minutes; then Consul adds a random part of up to a sixteenth
 * of it, so the queries of many clients do not all end at once. Undefined: not a duration
 * (Consul answers 400).
 */
export function parseWait(text: string | null, random = Math.random): number | undefined {
  let ms = 0;
  if (text && text !== '0') {
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
    if (parts.map((p) => p[0]).join('') !== text) return undefined;
    for (const [, amount, unit] of parts) ms += Number(amount) * UNITS[unit!]!;
  }
  const wait = ms <= 0 ? DEFAULT_WAIT_MS : Math.min(ms, MAX_WAIT_MS);
  return wait + Math.floor(random() * (wait / 16));
}

/** A parked blocking query, as the server that holds it tells it what happened. */
export interface Waiter {
  prefix: string;
  /** What the query asks, as tests see it: the key, with `?keys` for a listing. */
  asks: string;
  /** Something under the prefix was written (or a failure was injected). */
  changed: () => void;
  /** The server lost its leader. */
  leaderLost: () => void;
  /** The server stopped: its connections are cut, nothing is answered. */
  gone: () => void;
}

export interface Parked {
  prefix: string;
  asks: string;
  wait: number;
  /** Whether the answer moved past the query's index. */
  moved: () => boolean;
  /** How long after a write the server sees it (a lagging server); 0: at once. */
  lateBy: () => number;
  /** A failure is injected: it is answered at once. */
  failing: () => boolean;
  answer: () => void;
  /** The server lost its leader: true when that answered the query (one forwarded to the leader fails). */
  leaderLost: () => boolean;
}

/**
 * A blocking query: answered on the first change under the prefix that the server can see (a
 * lagging one sees it `lateBy` later), or when the wait is over.
 */
export function parkQuery(waiters: Set<Waiter>, res: ServerResponse, q: Parked): void {
  let later: NodeJS.Timeout | undefined;
  const done = () => {
    clearTimeout(timer);
    clearTimeout(later);
    waiters.delete(waiter);
  };
  const settle = () => (done(), q.answer());
  const waiter: Waiter = {
    prefix: q.prefix,
    asks: q.asks,
    changed: () => {
      if (q.failing() || q.moved()) return settle();
      const lag = q.lateBy();
      if (lag > 0 && !later) later = setTimeout(() => ((later = undefined), q.moved() && settle()), lag + 1);
    },
    leaderLost: () => q.leaderLost() && done(),
    gone: done,
  };
  const timer = setTimeout(settle, q.wait);
  waiters.add(waiter);
  res.on('close', done);
}

export function readBody(req: IncomingMessage, then: (body: string) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => then(Buffer.concat(chunks).toString('utf8')));
}

/** One answer, unless the query was answered already (a blocking query told twice). */
export function send(res: ServerResponse, status: number, body: string, type = 'application/json'): void {
  if (res.writableEnded) return;
  res.writeHead(status, { 'Content-Type': type });
  res.end(body);
}
