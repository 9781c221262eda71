import type { Settings } from '../config/settings.js';
import { asOccsError } from '../errors.js';
import { correctDrift, describeDrift, driftOf, NAMED_DIFFERENCES } from '../haproxy/drift.js';
import { cachedExpectedState } from '../haproxy/expected-state.js';
import { readLiveState } from '../haproxy/live-state.js';
import type { Logger } from '../log.js';
import type { Executor } from './executor.js';
import type { HaproxyView } from './haproxy-view.js';
import type { WatchState } from './state.js';

export interface DriftParts {
  settings: () => Readonly<Settings>;
  view: HaproxyView;
  executor: Executor;
  state: WatchState;
  log: Logger;
}

/** What one look found: nothing to look at yet, nothing drifted, or drift set right by the runtime API or a reload. */
export type Verified = 'skipped' | 'none' | 'runtime' | 'reload';

/**
 * HAProxy that heals from drift: every --verify-interval, what HAProxy runs (servers, addresses,
 * weights, admin states, map entries) is read and compared with what the view says it should
 * run; what an operator or another tool changed behind watch's back is put back through the
 * runtime API, or, when that cannot, by a verified reload with the installed files. A look is
 * one step of the executor (never during a change), and is skipped while a sync is under way.
 */
export class DriftKeeper {
  private timer?: NodeJS.Timeout;
  private readonly expected = cachedExpectedState();
  /** Looks fail (HAProxy stalled, its socket gone): told once when they start, and once when one works again. */
  private failing = false;

  constructor(private readonly parts: DriftParts) {}

  /** Looks every --verify-interval (0: never) until stopped. */
  start(): void {
    const every = this.parts.settings().watch.verifyIntervalMs;
    if (every === 0 || this.timer) return;
    const next = () => {
      this.timer = setTimeout(() => void this.verify().finally(() => this.timer && next()), every);
    };
    next();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One look, and the correction it calls for; never throws (a failure is logged). */
  async verify(): Promise<Verified> {
    const { view, executor, log, state } = this.parts;
    if (!view.state.started || state.syncSince !== undefined) return 'skipped';
    try {
      const verdict = await executor.exclusive(() => this.look());
      if (verdict !== 'skipped' && this.failing) {
        this.failing = false;
        log.info('HAProxy answers again: compared with the installed config');
      }
      if (verdict !== 'reload') return verdict;
      await executor.resync();
      return 'reload';
    } catch (error) {
      const again = `looking again every ${this.parts.settings().watch.verifyIntervalMs / 1000} s`;
      const message = `could not compare HAProxy with the installed config: ${asOccsError(error).message}`;
      if (this.failing) log.debug(`${message}; ${again}`);
      else log.warn(`${message}; ${again} (told again when a look works)`);
      this.failing = true;
      return 'skipped';
    }
  }

  /** Reads HAProxy and compares (inside the executor's one-at-a-time step); a runtime correction is made here. */
  private async look(): Promise<Verified> {
    const { view, log, state } = this.parts;
    const settings = this.parts.settings();
    const { installed, channel, apart } = view.state;
    const config = installed.get(settings.haproxy.config);
    if (!channel || config === undefined || state.syncSince !== undefined) return 'skipped';
    if (apart) return 'reload'; // HAProxy is known to differ already: the installed files are put back
    // Stack mode's map files only: another resource's file the config reads (an ACL's patterns, an errorfile) is no map.
    const mapPaths = settings.stack ? [settings.stack.maps.hosts, settings.stack.maps.paths] : [];
    const maps = new Map(mapPaths.flatMap((path) => (installed.get(path) === undefined ? [] : [[path, installed.get(path)!] as const])));
    const started = performance.now();
    const drift = driftOf(this.expected(config, maps), await readLiveState(channel, this.expected(config, maps)));
    state.counters.driftVerifications += 1;
    if (drift.kind === 'none') return 'none';
    const what = describeDrift(drift.found);
    // The first differences only, and their count: a worker reloaded on an empty config differs by every server.
    const fields = { drift: drift.found.slice(0, NAMED_DIFFERENCES), differences: drift.found.length };
    if (drift.kind === 'runtime' && settings.watch.runtimeApi) {
      try {
        await correctDrift(channel, drift, settings.watch.drainTimeoutMs, view.ids);
        const ms = Math.round(performance.now() - started);
        log.warn(`HAProxy drifted from the installed config (${what}); set right through the runtime API, no reload (${ms} ms)`, { ...fields, ms });
        state.driftCorrected(fields.drift, fields.differences, 'runtime');
        return 'runtime';
      } catch (error) {
        view.ids.forget();
        view.apart(`drift the runtime API could not set right (${asOccsError(error).message})`);
      }
    } else view.apart(`HAProxy drifted: ${drift.kind === 'reload' ? drift.reason : 'the runtime API is not used'}`);
    log.warn(`HAProxy drifted from the installed config (${what}); reloading it with the installed files`, fields);
    state.driftCorrected(fields.drift, fields.differences, 'reload');
    return 'reload';
  }
}
