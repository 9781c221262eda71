import { Backoff, sleep } from '../util/backoff.js';
import { reporter } from './keys.js';
import { withProbes } from './liveness.js';
import type { KvPair, KvWatchListener } from './source.js';

/** How long Consul may hold a blocking query open. */
export const BLOCKING_WAIT_S = 60;
/** The least time between two queries of one prefix, however fast the answers come. */
export const MIN_QUERY_GAP_MS = 100;

export interface PrefixReading {
  pairs: KvPair[];
  /** X-Consul-Index, when the store sent one. */
  index?: number;
}

export interface ConsulWatchDeps {
  /** One read of a prefix; with `since`, a blocking query from that index. */
  read: (prefix: string, since?: number, signal?: AbortSignal) => Promise<PrefixReading>;
  /** A tiny request that proves the store answers, asked while a blocking query waits. */
  probe?: (prefix: string, signal: AbortSignal) => Promise<void>;
  /** How often to probe (tests shorten it); PROBE_INTERVAL_MS by default. */
  probeIntervalMs?: number;
  pollIntervalMs: number;
}

/**
 * Watches prefixes with Consul's blocking queries, one loop per prefix, and reports the merged
 * pairs whenever a prefix's index moves. Faithful to Consul's rules: block only when the store
 * sends X-Consul-Index (else poll), treat an unchanged index as "no change", reset to a full
 * read when the index goes backwards, keep ~100 ms between queries, and retry errors with
 * backoff, forever. While a query blocks, the store is probed, so a stalled store is an error
 * within seconds. A report is made only when the merged pairs differ from the last one.
 */
export async function watchConsul(prefixes: readonly string[], listener: KvWatchListener, signal: AbortSignal, deps: ConsulWatchDeps): Promise<void> {
  const latest = new Map<string, KvPair[]>();
  // The first snapshot waits until every prefix has been read once.
  const merged = reporter(listener, () => (latest.size === prefixes.length ? [...latest.values()].flat() : undefined));
  const report = (prefix: string, pairs: KvPair[]) => {
    latest.set(prefix, pairs);
    merged();
  };
  await Promise.all(prefixes.map((prefix) => watchPrefix(prefix, report, listener, signal, deps)));
}

async function watchPrefix(
  prefix: string,
  report: (prefix: string, pairs: KvPair[]) => void,
  listener: KvWatchListener,
  signal: AbortSignal,
  deps: ConsulWatchDeps,
): Promise<void> {
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
    try {
      const probe = deps.probe;
      reading =
        since && probe
          ? await withProbes(
              (s) => deps.read(prefix, since, s),
              (s) => probe(prefix, s),
              signal,
              deps.probeIntervalMs,
            )
          : await deps.read(prefix, since);
    } catch (error) {
      if (signal.aborted) return;
      listener.error(error, prefix);
      block = false;
      await sleep(backoff.next(), signal);
      continue;
    }
    const blocked = since !== undefined;
    backoff.reset();
    block = true;
    listener.alive(prefix);
    if (reading.index === undefined) {
      // No X-Consul-Index: this store cannot block, so poll it.
      index = 0;
      report(prefix, reading.pairs);
      await sleep(deps.pollIntervalMs, signal);
    } else if (reading.index < index) {
      // The index went backwards (the store was rebuilt or restored): start over with a full read.
      index = 0;
      report(prefix, reading.pairs);
    } else if (reading.index > index || !blocked) {
      // A new index, or a full read (the first, or after an error): compared with the last report.
      index = reading.index;
      report(prefix, reading.pairs);
    }
    // A blocking query that ended with an unchanged index: nothing new.
  }
}
