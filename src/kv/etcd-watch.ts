import { kvError, OccsError } from '../errors.js';
import { Backoff, sleep } from '../util/backoff.js';
import { toPair, type EtcdKv, type KeyRange } from './etcd-keys.js';
import { reporter } from './keys.js';
import { withProbes } from './liveness.js';
import { storeText } from './store-errors.js';
import { AnswerTooLargeError } from './http.js';
import { formatSize } from '../util/size.js';
import type { KvPair, KvWatchListener } from './source.js';

/** One line of etcd's watch stream (JSON gateway). */
export interface EtcdWatchMessage {
  result?: {
    events?: Array<{ type?: string; kv?: EtcdKv }>;
    created?: boolean;
    canceled?: boolean;
    compact_revision?: string;
    cancel_reason?: string;
  };
  error?: { message?: string; code?: number };
}

export interface EtcdWatchDeps {
  range(range: KeyRange): Promise<{ pairs: KvPair[]; revision: number }>;
  watch(range: KeyRange, fromRevision: number, signal: AbortSignal): Promise<AsyncIterable<EtcdWatchMessage>>;
  /** A tiny request (a count of the range) that proves etcd answers, asked while a stream is quiet. */
  probe?: (range: KeyRange, signal: AbortSignal) => Promise<void>;
  /** etcd refused the token a watch was created with: forget it, a new one is asked next time. */
  tokenExpired(): void;
  /** How long a stream may stay silent (tests shorten it); STREAM_IDLE_MS by default. */
  idleMs?: number;
  /** How often to probe (tests shorten it); PROBE_INTERVAL_MS by default. */
  probeIntervalMs?: number;
}

/** The least time between two reads of one range. */
const MIN_REREAD_GAP_MS = 100;
/**
 * A watch stream silent this long is closed, and the range read and watched again. Like
 * Consul's 60 s blocking wait, it proves the store is still there, and a stream cut without a
 * word (a proxy, a dead peer) cannot hide changes for longer than this.
 */
export const STREAM_IDLE_MS = 60_000;
const STABLE_MS = 30_000;

const isPermissionDenied = (error: unknown) => error instanceof OccsError && error.code === 'KV_PERMISSION_DENIED';

/**
 * Follows key ranges: read each (pairs and revision), then stream its changes from revision + 1,
 * each event batch becoming a new snapshot of all ranges. A compacted revision, a silent or
 * broken stream, an etcd that went away: read again and watch again (errors with backoff,
 * forever). Re-reading from scratch is what makes a restart of etcd lose nothing: whatever
 * changed meanwhile is in the new read. A shape of a prefix the user may not read counts as
 * empty, as long as the other shape can be read; if neither can, that is an error.
 */
export async function watchEtcd(ranges: readonly KeyRange[], listener: KvWatchListener, signal: AbortSignal, deps: EtcdWatchDeps): Promise<void> {
  const current = new Map<KeyRange, Map<string, string>>();
  const denied = new Set<KeyRange>();
  const report = reporter(listener, () => {
    if (current.size < ranges.length) return undefined; // the first snapshot waits for every range
    // In the order of `ranges`, so a slashed key wins over the same key without the slash.
    return ranges.flatMap((r) => [...current.get(r)!].map(([key, value]) => ({ key, value })));
  });
  const ctx = { current, denied, report, listener, signal, deps, siblings: (r: KeyRange) => ranges.filter((x) => x.prefix === r.prefix) };
  await Promise.all(ranges.map((range) => watchRange(range, ctx)));
}

interface Context {
  current: Map<KeyRange, Map<string, string>>;
  denied: Set<KeyRange>;
  report(): void;
  listener: KvWatchListener;
  signal: AbortSignal;
  deps: EtcdWatchDeps;
  siblings(range: KeyRange): KeyRange[];
}

async function watchRange(range: KeyRange, ctx: Context): Promise<void> {
  const { listener, signal, deps } = ctx;
  const backoff = new Backoff();
  while (!signal.aborted) {
    try {
      const { pairs, revision } = await deps.range(range);
      ctx.denied.delete(range);
      listener.alive(range.label);
      const keys = new Map(pairs.map((p) => [p.key, p.value]));
      ctx.current.set(range, keys);
      // Compared with what was last reported, events included: not with an earlier read.
      ctx.report();
      const outcome = await follow(range, revision, keys, ctx, () => backoff.reset());
      if (outcome === 'token') {
        deps.tokenExpired();
        continue;
      }
      await sleep(MIN_REREAD_GAP_MS, signal);
    } catch (error) {
      if (signal.aborted) return;
      if (isPermissionDenied(error) && !ctx.siblings(range).every((r) => r === range || ctx.denied.has(r))) {
        // This shape is off limits but another shape of the prefix is readable: it is empty to us.
        ctx.denied.add(range);
        if (!ctx.current.has(range)) ctx.current.set(range, new Map());
        ctx.report();
        await sleep(deps.idleMs ?? STREAM_IDLE_MS, signal);
        continue;
      }
      listener.error(error, range.label);
      await sleep(backoff.next(), signal);
    }
  }
}

/**
 * Applies a range's watch stream to `keys` until the stream is compacted away, falls silent for
 * STREAM_IDLE_MS, or asks for a new token; throws when it breaks. `working` is called once the
 * stream has proved itself, by delivering events or by lasting STABLE_MS (only then does the
 * backoff start over: a stream that breaks right after it was made keeps backing off).
 */
async function follow(range: KeyRange, revision: number, keys: Map<string, string>, ctx: Context, working: () => void): Promise<Outcome> {
  const probe = ctx.deps.probe;
  if (!probe) return followStream(range, revision, keys, ctx, working, ctx.signal);
  // While the stream runs, etcd is probed: one that stalls is an error within seconds.
  return withProbes(
    (signal) => followStream(range, revision, keys, ctx, working, signal),
    (signal) => probe(range, signal),
    ctx.signal,
    ctx.deps.probeIntervalMs,
  );
}

type Outcome = 'compacted' | 'idle' | 'token';

async function followStream(
  range: KeyRange,
  revision: number,
  keys: Map<string, string>,
  ctx: Context,
  working: () => void,
  signal: AbortSignal,
): Promise<Outcome> {
  const stream = new AbortController();
  const stop = () => stream.abort();
  signal.addEventListener('abort', stop, { once: true });
  const idleMs = ctx.deps.idleMs ?? STREAM_IDLE_MS;
  let idle = false;
  let timer = setTimeout(() => ((idle = true), stop()), idleMs);
  const heard = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ((idle = true), stop()), idleMs);
  };
  const stable = setTimeout(working, STABLE_MS);
  try {
    for await (const message of await ctx.deps.watch(range, revision + 1, stream.signal)) {
      heard();
      const outcome = applyMessage(message, range, keys);
      if (outcome === 'events') {
        working();
        ctx.listener.alive(range.label);
        ctx.report();
      } else if (outcome) return outcome;
    }
    throw kvError('KV_UNREACHABLE', `etcd's watch stream of "${range.label}" ended`);
  } catch (error) {
    if (idle) return 'idle';
    if (signal.aborted || error instanceof OccsError) throw error;
    throw streamFailure(error, range);
  } finally {
    clearTimeout(timer);
    clearTimeout(stable);
    signal.removeEventListener('abort', stop);
  }
}

/** One message of a watch stream applied to `keys`: events, the stream's end, or nothing (a progress note). */
function applyMessage(message: EtcdWatchMessage, range: KeyRange, keys: Map<string, string>): Outcome | 'events' | undefined {
  if (message.error) {
    throw kvError('KV_ERROR', `etcd's watch of "${range.label}" failed: ${storeText(String(message.error.message ?? ''), []) || 'unknown error'}`);
  }
  const result = message.result;
  if (!result) return undefined;
  if (result.canceled) {
    if (/auth token|unauthenticated/i.test(result.cancel_reason ?? '')) return 'token';
    if (result.compact_revision !== undefined && result.compact_revision !== '0') return 'compacted';
    const reason = result.cancel_reason ? `: ${storeText(String(result.cancel_reason), [])}` : '';
    throw kvError('KV_ERROR', `etcd cancelled the watch of "${range.label}"${reason}`);
  }
  if (!result.events?.length) return undefined;
  for (const event of result.events) {
    const pair = event.kv && toPair(event.kv);
    if (!pair) continue;
    if (event.type === 'DELETE') keys.delete(pair.key);
    else keys.set(pair.key, pair.value);
  }
  return 'events';
}

/** A stream that broke: too large a message (the user can raise the limit), or cut. */
function streamFailure(error: unknown, range: KeyRange): OccsError {
  if (error instanceof AnswerTooLargeError) {
    return kvError('KV_TOO_LARGE', `etcd's watch stream of "${range.label}" sent an event larger than ${formatSize(error.maxBytes)}`, {
      hint: 'check the prefix: does it hold more than servers? If the store really holds that much, raise --kv-max-size',
      cause: error,
    });
  }
  return kvError('KV_UNREACHABLE', `etcd's watch stream of "${range.label}" broke (${(error as Error).message})`, { cause: error });
}
