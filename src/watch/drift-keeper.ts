import type { Settings } from '../config/settings.js';
import { asOccsError } from '../errors.js';
import { describeDrift, driftOf, type Drift } from '../haproxy/drift.js';
import { cachedExpectedState } from '../haproxy/expected-state.js';
import { readLiveState } from '../haproxy/live-state.js';
import type { Logger } from '../log.js';
import { decideCorrection } from '../plan/plan.js';
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
 * run; what an operator or another tool changed behind watch's back is decided on as a store
 * change is (`decideCorrection`) and carried out by the executor: through the runtime API, or
 * by a verified reload with the installed files. A look is one step of the executor (never
 * during a change) and is skipped while a sync is under way.
 */
export class DriftKeeper {
  private timer?: NodeJS.Timeout;
  private readonly expected = cachedExpectedState();

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
    const settings = this.parts.settings();
    if (!view.state.started || state.syncSince !== undefined) return 'skipped';
    let looked: { drift: Drift; version: number } | undefined;
    try {
      looked = await executor.exclusive(() => this.look());
    } catch (error) {
      log.warn(
        `could not compare HAProxy with the installed config: ${asOccsError(error).message}; looking again in ${settings.watch.verifyIntervalMs / 1000} s`,
      );
      return 'skipped';
    }
    if (!looked) return 'skipped';
    const change = decideCorrection(settings, view.state, looked.drift, looked.version);
    if (change.kind === 'none') return 'none';
    if (change.kind === 'reload' && looked.drift.kind !== 'none') {
      log.warn(`HAProxy drifted from the installed config (${describeDrift(looked.drift.found)}); reloading it with the installed files`, {
        drift: looked.drift.found,
      });
    }
    const how = change.kind === 'runtime' ? 'runtime' : 'reload';
    try {
      await executor.execute(change);
    } catch (error) {
      // Refused, or read before a store change: what HAProxy holds is not known; the installed files are put back.
      view.apart(`drift the runtime API could not set right (${asOccsError(error).message})`);
      await executor.resync();
    }
    if (looked.drift.kind !== 'none') state.driftCorrected(looked.drift.found, how);
    return how;
  }

  /** Reads HAProxy and compares, inside the executor's one-at-a-time step (undefined: nothing to look at now). */
  private async look(): Promise<{ drift: Drift; version: number } | undefined> {
    const { view, state } = this.parts;
    const settings = this.parts.settings();
    const { installed, channel, apart, version } = view.state;
    const config = installed.get(settings.haproxy.config);
    if (!channel || config === undefined || state.syncSince !== undefined) return undefined;
    if (apart) return { drift: { kind: 'none' }, version };
    const maps = new Map([...installed].filter((e): e is [string, string] => e[0] !== settings.haproxy.config && e[1] !== undefined));
    const expected = this.expected(config, maps);
    const drift = driftOf(expected, await readLiveState(channel, expected));
    state.counters.driftVerifications += 1;
    return { drift, version };
  }
}
