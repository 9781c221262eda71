import type { Settings } from '../config/settings.js';
import type { OccsError } from '../errors.js';
import type { KvSnapshot } from '../kv/source.js';
import { decideChange, refusalOf, renderSnapshot, type Change, type Rendering } from '../plan/plan.js';
import { everyServerGone } from '../plan/rules.js';
import type { CompiledTemplate } from '../template/engine.js';
import type { HaproxyView } from './haproxy-view.js';

/** The latest snapshot, rendered once (or the failure its rendering was). */
export type Latest = { snapshot: KvSnapshot; rendering: Rendering } | { snapshot: KvSnapshot; failure: unknown };

/** The settings and templates in use (SIGHUP may replace both). */
export interface InUse {
  readonly settings: Readonly<Settings>;
  readonly templates: ReadonlyMap<string, CompiledTemplate>;
}

/**
 * The watch's side of the planner: keeps the newest snapshot, renders it when asked for and
 * only then (never per store event: a burst of events costs one render), once for the
 * settings and templates in use; says whether a rendering may be installed, and asks
 * `decideChange` what it takes against the view of what HAProxy runs, keeping the last answer
 * (a snapshot may be decided when its batch starts and again when acted on, and deciding
 * compares whole configs).
 */
export class Planner {
  private newest?: KvSnapshot;
  private rendered?: { inputs: unknown[]; latest: Latest };
  private decided?: { inputs: unknown[]; change: Change };

  constructor(
    private readonly inUse: InUse,
    private readonly view: HaproxyView,
    private readonly counted: () => void = () => {},
  ) {}

  get settings(): Readonly<Settings> {
    return this.inUse.settings;
  }

  /** Makes `snapshot` the latest; cheap: it is rendered when `latest` is asked for. */
  take(snapshot: KvSnapshot): void {
    this.newest = snapshot;
  }

  /** The latest snapshot rendered (a template failure is kept, for the sync to report): once, and again only if the settings or templates in use changed. */
  get latest(): Latest | undefined {
    const snapshot = this.newest;
    if (!snapshot) return undefined;
    const inputs = [snapshot, this.inUse.settings, this.inUse.templates];
    const last = this.rendered;
    if (last && last.inputs.every((x, i) => x === inputs[i])) return last.latest;
    this.counted();
    let latest: Latest;
    try {
      // A bundle that fails its checks leaves the one HAProxy serves under its name in place.
      const installed = (path: string) => this.view.state.installed.get(path);
      latest = { snapshot, rendering: renderSnapshot(this.inUse.settings, this.inUse.templates, snapshot, { installed }) };
    } catch (failure) {
      latest = { snapshot, failure };
    }
    this.rendered = { inputs, latest };
    return latest;
  }

  /** Why a rendering must not be installed: `--strict`, `--min-servers`, or an answer that empties every backend. */
  refusal(rendering: Rendering): OccsError | undefined {
    return refusalOf(rendering) ?? everyServerGone(this.inUse.settings, rendering, this.view.state.installed);
  }

  /** What a rendering asks of HAProxy now (`forced`: SIGHUP). */
  changeFor(rendering: Rendering, forced = false): Change {
    const inputs = [rendering, this.inUse.settings, this.view.state, forced];
    const last = this.decided;
    if (last && last.inputs.every((x, i) => x === inputs[i])) return last.change;
    const change = decideChange(this.inUse.settings, this.view.state, rendering, forced);
    this.decided = { inputs, change };
    return change;
  }
}
