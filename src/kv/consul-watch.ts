import { Backoff, sleep } from '../util/backoff.js';
import { reporter } from './keys.js';
import { keepProbing } from './liveness.js';
import type { KvPair, KvWatchListener } from './source.js';

/**
 * How long Consul may hold a blocking query open: Consul's own default (it takes at most 10
 * minutes). The probes, not the end of the wait, prove the store still answers, so a long wait
 * costs an idle watch almost nothing (one query per prefix every 5 minutes).
 */
export const BLOCKING_WAIT_S = 300;
/** The least time between two queries of one prefix, however fast the answers come. */
export const MIN_QUERY_GAP_MS = 100;

export interface PrefixReading {
  pairs: KvPair[];
  /** X-Consul-Index, when the store sent one. */
  index?: number;
  /** The keys that may differ from the pairs of the reading before (`base`), when known. */
  changed?: { base: readonly KvPair[]; keys: readonly string[] };
}

export interface ConsulWatchDeps {
  /** One read of a prefix; with `since`, a blocking query from that index. */
  read: (prefix: string, since?: number, signal?: AbortSignal) => Promise<PrefixReading>;
  /**
   * One tiny request for the whole watch that proves the server in use can serve (moving to the
   * next when it cannot: the queries waiting on it follow), asked every probeIntervalMs while
   * queries block; throws when no server can.
   */
  probe?: (signal: AbortSignal) => Promise<void>;
  /** Asks a server other than the one in use whether it can serve, now and then (never throws). */
  checkOther?: (signal: AbortSignal) => Promise<void>;
  /** How often to probe (tests shorten it); PROBE_INTERVAL_MS by default. */
  probeIntervalMs?: number;
  pollIntervalMs: number;
}

/**
 * Watches prefixes with Consul's blocking queries, one loop per prefix, and reports the merged
 * pairs whenever a prefix's index moves. Faithful to Consul's rules: block only when the store
 * sends X-Consul-Index (else poll), treat an unchanged index as "no change", reset to a full
 * read when the index goes backwards, keep ~100 ms between queries, and retry errors with
 * backoff, forever. While queries block, one probe for all prefixes proves the store still
 * answers; when it fails on every server, the blocking queries are given up (a store that takes
 * connections and answers nothing is an error within a probe interval plus its timeout). A report
 * is made only when the merged pairs differ from the last one.
 */
export async function watchConsul(prefixes: readonly string[], listener: KvWatchListener, signal: AbortSignal, deps: ConsulWatchDeps): Promise<void> {
  const latest = new Map<string, KvPair[]>();
  // The keys that may differ since the last report, while every reading told them (undefined: one did not).
  let changed: Set<string> | undefined = new Set();
  const told = () => {
    const keys = changed && [...changed];
    changed = new Set();
    return keys;
  };
  // The first snapshot waits until every prefix has been read once.
  const merged = reporter(listener, () => (latest.size === prefixes.length ? [...latest.values()].flat() : undefined), undefined, told);
  const report = (prefix: string, reading: PrefixReading) => {
    // Known only against the pairs this prefix last reported: a reading in between was not reported.
    const known = reading.changed && reading.changed.base === latest.get(prefix) ? reading.changed.keys : undefined;
    if (known) for (const key of known) changed?.add(key);
    else changed = undefined;
    latest.set(prefix, reading.pairs);
    merged();
  };
  const ctx: Context = { report, listener, signal, deps, blocking: new Set() };
  await Promise.all([...prefixes.map((prefix) => watchPrefix(prefix, ctx)), probeServers(prefixes[0] ?? '', ctx)]);
}

interface Context {
  report: (prefix: string, reading: PrefixReading) => void;
  listener: KvWatchListener;
  signal: AbortSignal;
  deps: ConsulWatchDeps;
  /** The blocking queries under way: given up when no server answers the probe. */
  blocking: Set<AbortController>;
}

/** Probes the store while queries block on it (reads and polls prove it otherwise). */
async function probeServers(scope: string, ctx: Context): Promise<void> {
  const probe = ctx.deps.probe;
  if (!probe) return;
  let asked = false;
  await keepProbing(
    {
      probe: async (signal) => {
        asked = ctx.blocking.size > 0;
        if (asked) await probe(signal);
      },
      checkOther: ctx.deps.checkOther,
      intervalMs: ctx.deps.probeIntervalMs,
      answered: () => asked && ctx.listener.alive(scope),
      failed(error) {
        ctx.listener.error(error, scope);
        for (const query of ctx.blocking) query.abort();
      },
    },
    ctx.signal,
  );
}

async function watchPrefix(prefix: string, ctx: Context): Promise<void> {
  const { listener, signal, deps } = ctx;
  const backoff = new Backoff();
  let index = 0;
  let lastQuery = 0;
  // After an error the next query does not block: a store that is back answers at once, even
  // when nothing changed meanwhile, so its recovery is seen now rather than at the wait's end.
  let block = true;
  while (!signal.aborted) {
    await sleep(lastQuery + MIN_QUERY_GAP_MS - Date.now(), signal);
    if (signal.aborted) return;
    lastQuery = Date.now();
    let reading: PrefixReading;
    const since = block && index > 0 ? index : undefined;
    const query = new AbortController();
    if (since) ctx.blocking.add(query);
    try {
      reading = await deps.read(prefix, since, AbortSignal.any([signal, query.signal]));
    } catch (error) {
      if (signal.aborted) return;
      // A query the probes gave up was told as their error already.
      if (!query.signal.aborted) listener.error(error, prefix);
      block = false;
      await sleep(backoff.next(), signal);
      continue;
    } finally {
      ctx.blocking.delete(query);
    }
    const blocked = since !== undefined;
    backoff.reset();
    block = true;
    listener.alive(prefix);
    if (reading.index === undefined) {
      // No X-Consul-Index: this store cannot block, so poll it.
      index = 0;
      ctx.report(prefix, reading);
      await sleep(deps.pollIntervalMs, signal);
    } else if (reading.index < index) {
      // The index went backwards (the store was rebuilt or restored): start over with a full read.
      index = 0;
      ctx.report(prefix, reading);
    } else if (reading.index > index || !blocked) {
      // A new index, or a full read (the first, or after an error): compared with the last report.
      index = reading.index;
      ctx.report(prefix, reading);
    }
    // A blocking query that ended with an unchanged index: nothing new.
  }
}
