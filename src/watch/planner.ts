import type { OccsError } from '../errors.js';
import type { KvSnapshot } from '../kv/source.js';
import { decideChange, refusalOf, renderSnapshot, type Change, type Rendering } from '../plan/plan.js';
import { everyServerGone } from '../plan/rules.js';
import type { Executor } from './executor.js';
import type { Reconfigurer } from './reconfigurer.js';

/** The latest snapshot, rendered once (or the failure its rendering was). */
export type Latest = { snapshot: KvSnapshot; rendering: Rendering } | { snapshot: KvSnapshot; failure: unknown };

/** What a plan depends on besides the rendering: whether HAProxy runs yet, and whether installs are failing. */
export interface PlanGates {
  started: boolean;
  installFailing: boolean;
}

/**
 * The watch's side of the planner: renders each snapshot once with the settings and templates
 * in use, says whether a rendering may be installed, and plans it against what HAProxy runs,
 * keeping the last plan (a snapshot is planned when it arrives and again when acted on, and
 * planning compares whole configs).
 */
export class Planner {
  latest?: Latest;
  private planned?: { inputs: unknown[]; change: Change };

  constructor(
    private readonly config: Reconfigurer,
    private readonly executor: Executor,
    private readonly counted: () => void,
  ) {}

  /** Renders `snapshot` (a template failure is kept, for the sync to report) and makes it the latest. */
  take(snapshot: KvSnapshot): Latest {
    this.counted();
    try {
      this.latest = { snapshot, rendering: renderSnapshot(this.config.settings, this.config.templates, snapshot) };
    } catch (failure) {
      this.latest = { snapshot, failure };
    }
    return this.latest;
  }

  /** Why a rendering must not be installed: `--strict`, `--min-servers`, or an answer that empties every backend. */
  refusal(rendering: Rendering): OccsError | undefined {
    return refusalOf(rendering) ?? everyServerGone(this.config.settings, rendering, this.executor.installedTexts);
  }

  /** What a rendering asks of HAProxy now, against what is installed (`forced`: SIGHUP). */
  changeFor(rendering: Rendering, forced: boolean, gates: PlanGates): Change {
    const settings = this.config.settings;
    const force = gates.started ? (forced ? 'a reload was asked for (SIGHUP)' : this.executor.mustReload) : undefined;
    const runtime = settings.watch.runtimeApi && gates.started && !gates.installFailing && this.executor.runtimeChannel() !== undefined;
    const installed = this.executor.installedTexts;
    const inputs = [rendering, settings, force, runtime, ...installed.keys(), ...installed.values()];
    const last = this.planned;
    if (last && last.inputs.length === inputs.length && last.inputs.every((x, i) => x === inputs[i])) return last.change;
    const change = decideChange(settings, rendering, installed, { force, runtime });
    this.planned = { inputs, change };
    return change;
  }
}
