import { Backoff, sleep } from '../util/backoff.js';
import type { KvPair, KvWatchListener } from './source.js';

/** The least time between two queries of one prefix, however fast the answers come. */
export const MIN_QUERY_GAP_MS = 100;

export interface PrefixReading {
  /** Never changed once read (a snapshot may hold the array itself). */
  pairs: readonly KvPair[];
  /** X-Consul-Index, when the store sent one. */
  index?: number;
  /** The keys that may differ from the pairs of the reading before (`base`), when known. */
  changed?: { base: readonly KvPair[]; keys: readonly string[] };
}

/** What the query loops of one watch share. */
export interface LoopContext {
  listener: KvWatchListener;
  signal: AbortSignal;
  pollIntervalMs: number;
  /** The blocking queries under way: given up when no server answers the probe. */
  blocking: Set<AbortController>;
}

/** One thing a watch asks Consul again and again: a prefix's pairs, or the names in a folder. */
export interface Query<R extends { index?: number }> {
  /** What its errors and good reads are told against. */
  scope: string;
  /** One read; with `since`, a blocking query from that index. */
  read: (since: number | undefined, signal: AbortSignal) => Promise<R>;
  /** A reading that may be news: a new index, a full read, or a poll. */
  news: (reading: R) => void;
  /** Ends this loop alone (a part no longer watched). */
  stop?: AbortSignal;
}

/**
 * Asks one query until the watch (or `stop`) ends, faithful to Consul's rules: block only when the
 * store sends X-Consul-Index (else poll), treat an unchanged index as "no change", start over with
 * a full read when the index goes backwards, keep MIN_QUERY_GAP_MS between queries, and retry
 * errors with backoff, forever.
 */
export async function follow<R extends { index?: number }>(query: Query<R>, ctx: LoopContext): Promise<void> {
  const { listener } = ctx;
  const signal = query.stop ? AbortSignal.any([ctx.signal, query.stop]) : ctx.signal;
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
    let reading: R;
    const since = block && index > 0 ? index : undefined;
    const asked = new AbortController();
    if (since) ctx.blocking.add(asked);
    try {
      reading = await query.read(since, AbortSignal.any([signal, asked.signal]));
    } catch (error) {
      if (signal.aborted) return;
      // A query the probes gave up was told as their error already.
      if (!asked.signal.aborted) listener.error(error, query.scope);
      block = false;
      await sleep(backoff.next(), signal);
      continue;
    } finally {
      ctx.blocking.delete(asked);
    }
    // Stopped while the answer was on its way: it is no longer wanted.
    if (signal.aborted) return;
    const blocked = since !== undefined;
    backoff.reset();
    block = true;
    listener.alive(query.scope);
    if (reading.index === undefined) {
      // No X-Consul-Index: this store cannot block, so poll it.
      index = 0;
      query.news(reading);
      await sleep(ctx.pollIntervalMs, signal);
    } else if (reading.index < index) {
      // The index went backwards (the store was rebuilt or restored): start over with a full read.
      index = 0;
      query.news(reading);
    } else if (reading.index > index || !blocked) {
      // A new index, or a full read (the first, or after an error).
      index = reading.index;
      query.news(reading);
    }
    // A blocking query that ended with an unchanged index: nothing new.
  }
}
