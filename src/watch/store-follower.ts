import type { KvSource, KvWatchListener } from '../kv/source.js';
import type { Logger } from '../log.js';
import type { WatchState } from './state.js';

/**
 * The store watch follows: one source and its watch stream at a time. SIGHUP may put another in
 * its place (the config file named another store, a token or certificate was rotated, the
 * prefixes changed): the new one is followed first, then the old one is stopped and closed, so
 * no moment goes unwatched. Whatever the new one reports is compared with what was last acted
 * on, as after any re-read, so no change is lost across the swap.
 */
export class StoreFollower {
  private current?: { source: KvSource; abort: AbortController; watching: Promise<void>; unobserve: () => void };

  constructor(
    private readonly listener: KvWatchListener,
    /** Aborts every watch for good (watch is stopping). */
    private readonly signal: AbortSignal,
    /** Told of each source followed (its endpoints shown, its failovers logged); returns what stops that. */
    private readonly observe: (source: KvSource) => () => void = () => () => {},
  ) {}

  /** The source followed now: SIGHUP reads it, and it tells where the data comes from. */
  get source(): KvSource {
    return this.current!.source;
  }

  /** Follows `prefixes` on `source`; the source followed before is stopped and closed. */
  async follow(source: KvSource, prefixes: readonly string[]): Promise<void> {
    const previous = this.current;
    const abort = new AbortController();
    const stop = () => abort.abort();
    this.signal.addEventListener('abort', stop, { once: true });
    const watching = source.watch(prefixes, this.listener, abort.signal).finally(() => this.signal.removeEventListener('abort', stop));
    this.current = { source, abort, watching, unobserve: this.observe(source) };
    if (previous) await this.release(previous);
  }

  /** Stops following: resolves once the watch has ended and the source is closed. */
  async stop(): Promise<void> {
    if (this.current) await this.release(this.current);
  }

  private async release(followed: NonNullable<StoreFollower['current']>): Promise<void> {
    followed.unobserve();
    followed.abort.abort();
    await followed.watching;
    await followed.source.close();
  }
}

/** Shows a followed source's endpoints in /healthz and the metrics, and logs each failover once. */
export function observeEndpoints(source: KvSource, state: WatchState, log: Logger): () => void {
  const endpoints = source.endpoints;
  state.followed = source;
  if (!endpoints) return () => {};
  return endpoints.onFailover(({ from, to, why }) => {
    state.counters.storeFailovers += 1;
    log.warn(`store endpoint ${from} failed (${why}); moving to ${to}`, { from, to, why });
  });
}
