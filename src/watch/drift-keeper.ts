import type { Settings } from '../config/settings.js';
import { asOccsError } from '../errors.js';
import { describeDrift, driftOf, NAMED_DIFFERENCES } from '../haproxy/drift.js';
import { cachedExpectedState } from '../haproxy/expected-state.js';
import { readLiveState } from '../haproxy/live-state.js';
import type { Logger } from '../log.js';
import { decideCorrection, type Change } from '../plan/plan.js';
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

/** What a look found, and the correction decided on. */
interface Looked {
  found: readonly string[];
  change: Change;
}

/** What one look found: nothing to look at yet, nothing drifted, or drift set right by the runtime API or a reload. */
export type Verified = 'skipped' | 'none' | 'runtime' | 'reload';

/**
 * HAProxy that heals from drift: every --verify-interval, what HAProxy runs (servers, addresses,
 * weights, admin states, map entries) is read and compared with what the view says it should
 * run; what an operator or another tool changed behind watch's back is decided on as a store
 * change is (`decideCorrection`) and carried out by the executor: through the runtime API, or
 * by a verified reload with the installed files. A look is one step of the executor (never
 * during a change) and is skipped while a sync is under way.
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
    const { view, executor, state } = this.parts;
    if (!view.state.started || state.syncSince !== undefined) return 'skipped';
    const looked = await this.lookSafely();
    if (!looked || looked.change.kind === 'none') return looked ? 'none' : 'skipped';
    // The first differences only, and their count: a worker reloaded on an empty config differs by every server.
    const { found, change } = looked;
    const fields = { drift: found.slice(0, NAMED_DIFFERENCES), differences: found.length };
    if (change.kind === 'runtime') {
      try {
        await executor.execute(change);
        state.driftCorrected(fields.drift, fields.differences, 'runtime');
        return 'runtime';
      } catch (error) {
        // Refused, or read before a store change: what HAProxy holds is not known; the installed files are put back.
        view.apart(`drift the runtime API could not set right (${asOccsError(error).message})`);
      }
    }
    if (found.length > 0)
      this.parts.log.warn(`HAProxy drifted from the installed config (${describeDrift(found)}); reloading it with the installed files`, fields);
    await executor.resync();
    if (found.length > 0) state.driftCorrected(fields.drift, fields.differences, 'reload');
    return 'reload';
  }

  /** A look in the executor's one-at-a-time step; a failure is told once, and so is the first look that works again. */
  private async lookSafely(): Promise<Looked | undefined> {
    const { executor, log } = this.parts;
    try {
      const looked = await executor.exclusive(() => this.look());
      if (looked && this.failing) {
        this.failing = false;
        log.info('HAProxy answers again: compared with the installed config');
      }
      return looked;
    } catch (error) {
      const again = `looking again every ${this.parts.settings().watch.verifyIntervalMs / 1000} s`;
      const message = `could not compare HAProxy with the installed config: ${asOccsError(error).message}`;
      if (this.failing) log.debug(`${message}; ${again}`);
      else log.warn(`${message}; ${again} (told again when a look works)`);
      this.failing = true;
      return undefined;
    }
  }

  /**
   * Reads HAProxy, compares, and decides, all in one step (undefined: nothing to look at now).
   * A correction only a reload makes marks HAProxy apart from its files here, before any change
   * queued behind the look runs: such a change then goes by reload, never onto the HAProxy the
   * look found apart.
   */
  private async look(): Promise<Looked | undefined> {
    const { view, state } = this.parts;
    const settings = this.parts.settings();
    const { installed, channel, apart, version } = view.state;
    const config = installed.get(settings.haproxy.config);
    if (!channel || config === undefined || state.syncSince !== undefined) return undefined;
    // Known to differ already: no need to read HAProxy, the installed files are put back.
    if (apart) return { found: [], change: decideCorrection(settings, view.state, { kind: 'none' }, version) };
    // Stack mode's map files only: another resource's file the config reads (an ACL's patterns, an errorfile) is no map.
    const tlsMaps = settings.stack && settings.tls ? [settings.tls.maps.policy, settings.tls.maps.hsts] : [];
    const mapPaths = settings.stack ? [settings.stack.maps.hosts, settings.stack.maps.paths, ...tlsMaps] : [];
    const maps = new Map(mapPaths.flatMap((path) => (installed.get(path) === undefined ? [] : [[path, installed.get(path)!] as const])));
    const expected = this.expected(config, maps);
    const drift = driftOf(expected, await readLiveState(channel, expected));
    state.counters.driftVerifications += 1;
    const change = decideCorrection(settings, view.state, drift, version);
    if (change.kind === 'reload') view.apart(change.reason);
    return { found: drift.kind === 'none' ? [] : drift.found, change };
  }
}
