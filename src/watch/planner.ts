import type { Settings } from '../config/settings.js';
import type { OccsError } from '../errors.js';
import type { KvSnapshot } from '../kv/source.js';
import { distrust } from '../plan/patch.js';
import { joinsTo } from '../plan/patch-lines.js';
import { decideChange, patchSnapshot, refusalOf, renderSnapshot, type Change, type Rendering } from '../plan/plan.js';
import { everyServerGone } from '../plan/rules.js';
import type { CompiledTemplate } from '../template/engine.js';
import type { HaproxyView } from './haproxy-view.js';

/** How long the store is quiet before a patched rendering is checked against a full render, and how old a patch is checked at the latest. */
const QUIET_MS = 1000;
const CHECK_WITHIN_MS = 30_000;
/**
 * A check after a quiet second also waits, from the last check, this many times as long as that
 * check's full render took: the checks of a stream of changes take about a third of a thousandth
 * of a core (less where one render takes over 10 ms: CHECK_WITHIN_MS comes first). At 100 servers
 * (a render of under a millisecond) that is every quiet second; at 10,000 (about 8 ms) one in
 * 25 s. At a thousandth, a stream of one change a second at 10,000 servers paid a millisecond
 * a change for its checks (measured), a tenth of what a change may cost; a patch that differs
 * from its full render is still found within CHECK_WITHIN_MS.
 */
const CHECK_SPACING = 3000;

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
  /** The newest rendering that was patched and not checked against a full render yet, and when the oldest such was made. */
  private patched?: { inputs: unknown[]; snapshot: KvSnapshot; rendering: Rendering; at: number };
  private takenAt = 0;
  /** When the last check was made (by the clock checkPatch is given) and how long its full render took (ms). */
  private checked = { at: -Infinity, took: 0 };

  constructor(
    private readonly inUse: InUse,
    private readonly view: HaproxyView,
    /** Counts the renderings made (`patchedRenders`: by changing the server lines a change touched, not by running the template in full). */
    private readonly counters: { renders: number; patchedRenders: number } = { renders: 0, patchedRenders: 0 },
    private readonly checkSpacing = CHECK_SPACING,
  ) {}

  get settings(): Readonly<Settings> {
    return this.inUse.settings;
  }

  /** Makes `snapshot` the latest; cheap: it is rendered when `latest` is asked for. */
  take(snapshot: KvSnapshot): void {
    this.newest = snapshot;
    this.takenAt = performance.now();
  }

  /**
   * The latest snapshot rendered (a template failure is kept, for the sync to report): once, and
   * again only if the settings or templates in use changed. A change of a few servers is patched
   * into the last rendering when it can be (src/plan/patch.ts), else the template runs in full.
   */
  get latest(): Latest | undefined {
    const snapshot = this.newest;
    if (!snapshot) return undefined;
    const inputs = [snapshot, this.inUse.settings, this.inUse.templates];
    const last = this.rendered;
    if (last && last.inputs.every((x, i) => x === inputs[i])) return last.latest;
    let latest: Latest;
    try {
      // The last rendering, of other keys under the same settings and templates, is where a patch starts from.
      const from = last && last.inputs[1] === inputs[1] && last.inputs[2] === inputs[2] && 'rendering' in last.latest ? last.latest : undefined;
      const patched = from && patchSnapshot(this.inUse.settings, this.inUse.templates, from, snapshot);
      this.counters.renders += 1;
      if (patched) this.counters.patchedRenders += 1;
      // A bundle that fails its checks leaves the one HAProxy serves under its name in place.
      const installed = (path: string) => this.view.state.installed.get(path);
      latest = { snapshot, rendering: patched ?? renderSnapshot(this.inUse.settings, this.inUse.templates, snapshot, { installed }) };
      // The newest patch is checked (it carries every patch before it), when the oldest unchecked one is due.
      if (patched) this.patched = { inputs, snapshot, rendering: patched, at: this.patched?.at ?? performance.now() };
    } catch (failure) {
      latest = { snapshot, failure };
    }
    this.rendered = { inputs, latest };
    return latest;
  }

  /**
   * Renders in full a patched rendering not checked yet, once the store has been quiet for
   * QUIET_MS and the last check is CHECK_SPACING times its own time ago, or once the patch is
   * CHECK_WITHIN_MS old (off the serving path): a template whose full render differs from its
   * patch is never patched again, and the latest is rendered in full when next asked for. Returns
   * the templates that differed (the caller then syncs again).
   */
  checkPatch(now = performance.now()): string[] {
    const patch = this.patched;
    const due = now - this.takenAt >= QUIET_MS && now - this.checked.at >= this.checked.took * this.checkSpacing;
    if (!patch || (!due && now - patch.at < CHECK_WITHIN_MS)) return [];
    this.patched = undefined;
    const { settings, templates } = this.inUse;
    if (patch.inputs[1] !== settings || patch.inputs[2] !== templates) return [];
    let full: Rendering;
    const started = performance.now();
    try {
      full = renderSnapshot(settings, templates, patch.snapshot, { installed: (path) => this.view.state.installed.get(path) });
    } catch {
      return []; // the template fails in full: the next full render tells why
    } finally {
      this.checked = { at: now, took: performance.now() - started };
    }
    // Everything a rendering says, not its text alone: counts, skipped entries, companions. The text is read from the patch's pieces.
    const said = (r: Rendering, i: number) => JSON.stringify([r.resources[i]!.diagnostics, r.resources[i]!.companions?.map((c) => c.text), r.backends]);
    const same = (i: number) => {
      const patched = patch.rendering.resources[i]!;
      return joinsTo(patched.sections ?? [patched.text], full.resources[i]!.text) && said(full, i) === said(patch.rendering, i);
    };
    const differing = full.resources.filter((_, i) => !same(i)).map((r) => r.resource.template);
    for (const path of differing) distrust(templates.get(path)!);
    if (differing.length > 0) this.rendered = undefined;
    return differing;
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
