import { asOccsError } from '../errors.js';
import type { Logger } from '../log.js';
import type { WatchState } from './state.js';

/**
 * How the store is doing, as the watch's source reports it: failures logged once when they
 * start (counted every time), and once when the last failing part is back.
 */
export class StoreHealth {
  /** The failing parts of a source SIGHUP replaced: the new source's first word settles them. */
  private replaced = new Set<string>();

  constructor(
    private readonly state: WatchState,
    private readonly log: Logger,
  ) {}

  /** SIGHUP put another source in place: what the old one failed to read is no longer the question. */
  swapped(): void {
    this.replaced = new Set(this.state.storeProblems.keys());
  }

  /** A good read: the store is back (told once, when the last failing part recovers). */
  alive(scope: string): void {
    const { state, log } = this;
    state.storeHeardAt = Date.now();
    const problem = [scope, ...this.replaced].map((s) => state.storeProblems.get(s)).find(Boolean);
    this.settleReplaced();
    if (problem) {
      state.storeProblems.delete(scope);
      if (state.storeProblems.size === 0) {
        const seconds = Math.round((Date.now() - problem.since) / 100) / 10;
        log.info(`store reachable again after ${seconds}s`, { seconds });
      }
    }
    // Nothing new and nothing failing: the installed config is still what the store says.
    if (state.storeProblems.size === 0 && !state.syncProblem && state.lastSyncAt !== undefined) state.syncSucceeded();
  }

  /** A failed read: logged once when the store starts failing, not on every retry; counted every time. */
  failed(error: unknown, scope: string): void {
    const { state, log } = this;
    this.settleReplaced();
    state.storeHeardAt = Date.now();
    state.counters.storeErrors += 1;
    const occs = asOccsError(error);
    if (state.storeProblems.size === 0) {
      log.error(`${occs.message}; keeping the installed config and HAProxy as they are, retrying with backoff`, { code: occs.code });
    } else log.debug(occs.message);
    state.storeProblems.set(scope, { message: occs.message, code: occs.code, since: state.storeProblems.get(scope)?.since ?? Date.now() });
  }

  private settleReplaced(): void {
    for (const scope of this.replaced) this.state.storeProblems.delete(scope);
    this.replaced.clear();
  }
}
