import { kvError, OccsError } from '../errors.js';
import { Backoff, sleep } from '../util/backoff.js';
import type { KeyRange } from './etcd-keys.js';
import { applyMessage, streamFailure, type EtcdWatchMessage, type Followed, type Outcome } from './etcd-messages.js';
import { keepProbing } from './liveness.js';
import { MergedPairs } from './merged-pairs.js';
import type { KvPair, KvWatchListener } from './source.js';

export interface EtcdWatchDeps {
  range(range: KeyRange): Promise<{ pairs: KvPair[]; revision: number }>;
  watch(range: KeyRange, fromRevision: number, signal: AbortSignal): Promise<AsyncIterable<EtcdWatchMessage>>;
  /**
   * One tiny linearizable request (a count of a range) that proves the member in use answers and
   * has a leader, moving to another member when it does not; asked every probeIntervalMs.
   */
  probe?: (range: KeyRange, signal: AbortSignal) => Promise<void>;
  /** Asks one member other than the one in use whether it answers, now and then (never throws). */
  checkOther?: (signal: AbortSignal) => Promise<void>;
  /** Told whenever requests move to another member; returns the function that stops telling. */
  onMove?: (moved: () => void) => () => void;
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
 * A watch stream silent this long is closed, and the range read and watched again. etcd sends a
 * progress note on every stream asked for them every 10 minutes (with up to a minute of jitter),
 * so a healthy stream is never this quiet. A member that stops answering is found much sooner by
 * the probes, and a connection that dies without a word by TCP keep-alives (the HTTP agent turns
 * them on): this is the last guard, and costs an idle watch nothing.
 */
export const STREAM_IDLE_MS = 12 * 60_000;
/** How often a shape of a prefix the user may not read is tried again. */
const DENIED_RETRY_MS = 5 * 60_000;
const STABLE_MS = 30_000;
/** After a stream breaks, it is made again at once (on the next member, if the one it was on is gone) at most this often; else with backoff. */
const QUICK_RESUME_MS = 1_000;

const isPermissionDenied = (error: unknown) => error instanceof OccsError && error.code === 'KV_PERMISSION_DENIED';

/**
 * Follows key ranges: read each (pairs and revision), then stream its changes from revision + 1,
 * the event batches at hand becoming one new snapshot of all ranges. A stream that breaks, or that was on a
 * member requests moved away from, is made again from the last revision seen (on whichever member
 * is in use then): nothing written meanwhile is missed, and nothing is read twice. A compacted
 * revision, a store that went back in revisions (rebuilt), or a silent stream: read again. Errors
 * are retried with backoff, forever. One probe for all ranges proves the member in use still
 * answers with a leader; when probes fail and then answer again, the streams are made again too.
 * A shape of a prefix the user may not read counts as empty, as long as the other shape can be
 * read; if neither can, that is an error.
 */
export async function watchEtcd(ranges: readonly KeyRange[], listener: KvWatchListener, signal: AbortSignal, deps: EtcdWatchDeps): Promise<void> {
  const current = new Map<KeyRange, Map<string, string>>();
  const denied = new Set<KeyRange>();
  // In the order of `ranges`, the last range that holds a key gives its value: a slashed key wins over the same key without the slash.
  const merged = new MergedPairs((key) => {
    for (let i = ranges.length - 1; i >= 0; i--) {
      const value = current.get(ranges[i]!)?.get(key);
      if (value !== undefined) return value;
    }
    return undefined;
  });
  // Never the same pairs twice in a row: `take` answers only when they changed since it last did.
  const report = () => {
    if (current.size < ranges.length) return; // the first snapshot waits for every range
    const taken = merged.take();
    if (taken) listener.snapshot(taken);
  };
  // A burst of events is one snapshot: the events the loop has at hand are applied, then reported once.
  let due = false;
  const reportSoon = () => {
    if (due) return;
    due = true;
    setImmediate(() => {
      due = false;
      if (!signal.aborted) report();
    });
  };
  const streams = new Set<() => void>();
  const siblings = (r: KeyRange) => ranges.filter((x) => x.prefix === r.prefix);
  const ctx: Context = { current, denied, merged, report, reportSoon, listener, signal, deps, streams, siblings, probesFailing: false };
  const moveStreams = () => [...streams].forEach((move) => move());
  const stopTelling = deps.onMove?.(moveStreams);
  try {
    await Promise.all([...ranges.map((range) => watchRange(range, ctx)), probeMembers(ranges, ctx, moveStreams)]);
  } finally {
    stopTelling?.();
  }
}

interface Context {
  current: Map<KeyRange, Map<string, string>>;
  denied: Set<KeyRange>;
  /** All ranges' pairs, sorted, as last reported plus the keys touched since. */
  merged: MergedPairs;
  report(): void;
  /** Reports once the events at hand are applied (a macrotask later): one snapshot for a burst, not one per event. */
  reportSoon(): void;
  listener: KvWatchListener;
  signal: AbortSignal;
  deps: EtcdWatchDeps;
  /** Each open stream's "make me again" (the member changed, or came back). */
  streams: Set<() => void>;
  /** The last probe failed on every member: a stream made meanwhile proves nothing (a member without quorum makes them too). */
  probesFailing: boolean;
  siblings(range: KeyRange): KeyRange[];
}

/** Probes the member in use while the ranges are followed; a probe answered after failures makes the streams again. */
async function probeMembers(ranges: readonly KeyRange[], ctx: Context, moveStreams: () => void): Promise<void> {
  const probe = ctx.deps.probe;
  if (!probe) return;
  const scope = ranges[0]!.label;
  await keepProbing(
    {
      probe: (signal) => probe(ranges.find((r) => !ctx.denied.has(r)) ?? ranges[0]!, signal),
      checkOther: ctx.deps.checkOther,
      intervalMs: ctx.deps.probeIntervalMs,
      answered() {
        ctx.listener.alive(scope);
        if (ctx.probesFailing) moveStreams(); // a stream open through the trouble may be stuck: make it again
        ctx.probesFailing = false;
      },
      failed(error) {
        ctx.probesFailing = true;
        ctx.listener.error(error, scope);
      },
    },
    ctx.signal,
  );
}

async function watchRange(range: KeyRange, ctx: Context): Promise<void> {
  const { listener, signal, deps } = ctx;
  const backoff = new Backoff();
  let followed: Followed | undefined;
  let quickResume = 0;
  while (!signal.aborted) {
    try {
      if (!followed) followed = await readRange(range, ctx);
      const outcome = await followStream(range, followed, ctx, () => backoff.reset());
      if (outcome === 'token') deps.tokenExpired();
      else if (outcome !== 'moved') {
        followed = undefined; // compacted, rebuilt or silent: read again
        await sleep(MIN_REREAD_GAP_MS, signal);
      }
    } catch (error) {
      if (signal.aborted) return;
      if (isPermissionDenied(error) && !ctx.siblings(range).every((r) => r === range || ctx.denied.has(r))) {
        // This shape is off limits but another shape of the prefix is readable: it is empty to us.
        ctx.denied.add(range);
        if (!ctx.current.has(range)) ctx.current.set(range, new Map());
        ctx.report();
        await sleep(DENIED_RETRY_MS, signal);
        continue;
      }
      if (followed && Date.now() >= quickResume) {
        // A stream broke: made again at once, from where it was (on the next member if its own is gone).
        quickResume = Date.now() + QUICK_RESUME_MS;
        continue;
      }
      listener.error(error, range.label);
      await sleep(backoff.next(), signal);
    }
  }
}

/** Reads a range afresh; what it holds is compared with what was last reported, events included. */
async function readRange(range: KeyRange, ctx: Context): Promise<Followed> {
  const { pairs, revision } = await ctx.deps.range(range);
  ctx.denied.delete(range);
  ctx.listener.alive(range.label);
  const keys = new Map(pairs.map((p) => [p.key, p.value]));
  const before = ctx.current.get(range);
  ctx.current.set(range, keys);
  for (const key of before?.keys() ?? []) ctx.merged.touch(key);
  for (const key of keys.keys()) ctx.merged.touch(key);
  ctx.report();
  return { keys, revision, touched: (key) => ctx.merged.touch(key) };
}

/**
 * Applies a range's watch stream to `followed` from its revision until the stream is compacted
 * away, falls silent for STREAM_IDLE_MS, asks for a new token, or is to be made again on another
 * member; throws when it breaks. `working` is called once the stream has proved itself, by
 * delivering events or by lasting STABLE_MS (only then does the backoff start over: a stream
 * that breaks right after it was made keeps backing off).
 */
async function followStream(range: KeyRange, followed: Followed, ctx: Context, working: () => void): Promise<Outcome> {
  const stream = new AbortController();
  const stop = () => stream.abort();
  ctx.signal.addEventListener('abort', stop, { once: true });
  const idleMs = ctx.deps.idleMs ?? STREAM_IDLE_MS;
  let ended: Outcome | undefined;
  const end = (outcome: Outcome) => ((ended ??= outcome), stop());
  let timer = setTimeout(() => end('idle'), idleMs);
  const heard = () => {
    clearTimeout(timer);
    timer = setTimeout(() => end('idle'), idleMs);
  };
  const move = () => end('moved');
  ctx.streams.add(move);
  const stable = setTimeout(working, STABLE_MS);
  try {
    for await (const message of await ctx.deps.watch(range, followed.revision + 1, stream.signal)) {
      heard();
      const outcome = applyMessage(message, range, followed);
      if (outcome === 'created') {
        if (!ctx.probesFailing) ctx.listener.alive(range.label);
      } else if (outcome === 'events') {
        working();
        ctx.listener.alive(range.label);
        ctx.reportSoon();
      } else if (outcome) return outcome;
    }
    throw kvError('KV_UNREACHABLE', `etcd's watch stream of "${range.label}" ended`);
  } catch (error) {
    if (ended) return ended;
    if (ctx.signal.aborted || error instanceof OccsError) throw error;
    throw streamFailure(error, range);
  } finally {
    clearTimeout(timer);
    clearTimeout(stable);
    ctx.streams.delete(move);
    ctx.signal.removeEventListener('abort', stop);
  }
}
