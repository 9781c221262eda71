import { readFile } from 'node:fs/promises';
import type { Settings } from '../config/settings.js';
import { OccsError, rejectedError, systemErrorCode } from '../errors.js';
import { checkConfigFile } from '../haproxy/check.js';
import type { RuntimeChannel } from '../haproxy/runtime.js';
import { parseSections, serverCounts } from '../haproxy/config-sections.js';
import { isSummary } from '../haproxy/messages.js';
import type { KvSnapshot } from '../kv/source.js';
import { printable, type Logger } from '../log.js';
import { configContext } from '../pipeline/check-config.js';
import { installError } from '../pipeline/install-error.js';
import { renderResources, type RenderedResource } from '../pipeline/render.js';
import type { CompiledTemplate } from '../template/engine.js';
import { installFiles, stageFile, type StagedFile } from '../util/atomic-write.js';
import { RuntimePath } from './runtime-path.js';

export interface ApplyDeps {
  settings: Readonly<Settings>;
  templates: ReadonlyMap<string, CompiledTemplate>;
  /** The haproxy binary that checks every staged config before it is installed. */
  haproxy: string;
  log: Logger;
  /** The running HAProxy's runtime API, when there is one to use (else every change reloads). */
  runtime?: () => RuntimeChannel | undefined;
}

export interface ApplyResult {
  /** Destinations whose content changed (and was installed). */
  installed: string[];
  /** Servers per backend in the HAProxy configs now installed. */
  backends: Record<string, number>;
  /** How HAProxy got the change: its runtime API, a reload, or not at all (nothing to do). */
  path: 'runtime' | 'reload' | 'none';
  /** The runtime API was tried and refused (the change then went by reload). */
  runtimeFallback?: string;
}

/**
 * The install half of the watch pipeline, in a fixed order: render → unchanged? stop →
 * --strict / --min-servers → stage beside the destination → `haproxy -c` on the staged file →
 * rename into place → reload (the caller's) → on a failed reload, put the previous files back.
 * Every failure leaves the installed config as it was and throws.
 */
export class Applier {
  /** What is installed at each destination, as far as we know (undefined: no file). */
  private readonly installed = new Map<string, string | undefined>();
  private lastNotes = '';
  /** HAProxy may hold runtime changes the installed files lack: the next run must reload. */
  private dirty = false;
  private readonly runtime?: RuntimePath;

  constructor(private readonly deps: ApplyDeps) {
    if (deps.runtime) this.runtime = new RuntimePath(deps.settings, deps.log, deps.runtime);
  }

  /** Reads what is already installed, so an identical render is not installed again. */
  async init(): Promise<void> {
    for (const { destination } of this.deps.settings.resources) {
      const content = await readFile(destination!, 'utf8').catch((error: unknown) => {
        if (systemErrorCode(error) === 'ENOENT') return undefined;
        throw error;
      });
      this.installed.set(destination!, content);
    }
  }

  /**
   * Renders `snapshot` and installs what changed; `reload` is called when an HAProxy config
   * changed (or `force`). Returns what was installed, or throws with the installed files intact.
   */
  async apply(snapshot: KvSnapshot, force: boolean, reload?: () => Promise<void>): Promise<ApplyResult> {
    const started = performance.now();
    const rendered = renderResources(this.deps.settings, this.deps.templates, snapshot);
    const renderMs = Math.round(performance.now() - started);
    this.noteSkipped(rendered);
    const backends = this.refuseThin(rendered);
    // After a runtime change that could not be completed or undone, the next run reloads anyway.
    const forced = force || this.dirty;
    const changed = rendered.filter((r) => r.text !== this.installed.get(r.resource.destination!));
    const needsReload = forced || changed.some((r) => r.resource.haproxy);
    if (changed.length === 0 && !forced) return { installed: [], backends, path: 'none' };

    let runtimeFallback: string | undefined;
    const runtimeChanges = !forced && reload ? this.runtime?.changes(changed, (d) => this.installed.get(d)) : undefined;
    if (runtimeChanges && reload) {
      try {
        await this.runtime!.apply(runtimeChanges);
      } catch (error) {
        runtimeFallback = error instanceof Error ? error.message : String(error);
        this.deps.log.warn(`the runtime API did not take the change (${runtimeFallback}); reloading instead`);
        this.dirty = true; // some commands may have been taken: only a reload sets HAProxy straight
      }
      if (!runtimeFallback) {
        await this.install(changed, renderMs, backends, reload, true);
        return { installed: changed.map((r) => r.resource.destination!), backends, path: 'runtime' };
      }
    }

    const previous = changed.map((r) => ({ path: r.resource.destination!, content: this.installed.get(r.resource.destination!) }));
    await this.install(changed, renderMs, backends, reload);
    if (needsReload && reload) {
      try {
        await reload();
        this.dirty = false;
      } catch (error) {
        await this.restore(previous);
        await this.recover(error, reload);
        throw error;
      }
    }
    return { installed: changed.map((r) => r.resource.destination!), backends, path: needsReload && reload ? 'reload' : 'none', runtimeFallback };
  }

  /**
   * Whether a render changes only what the runtime API can apply, without removing servers (a
   * removal cuts sessions after the drain: a key that flaps should wait out the quiescence
   * window). Used to skip that window for cheap changes.
   */
  runtimeOnly(snapshot: KvSnapshot): boolean {
    if (!this.runtime || this.dirty) return false;
    const rendered = renderResources(this.deps.settings, this.deps.templates, snapshot);
    const changed = rendered.filter((r) => r.text !== this.installed.get(r.resource.destination!));
    const changes = this.runtime.changes(changed, (d) => this.installed.get(d));
    return changes !== undefined && changes.every((b) => b.removed.length === 0);
  }

  /**
   * Stages, checks and renames the changed files. A check that fails leaves the files as they
   * were; if HAProxy may already hold runtime changes (`dirty`), it is reloaded with the files it
   * should run, so the two agree again.
   */
  private async install(
    changed: RenderedResource[],
    renderMs: number,
    backends: Record<string, number>,
    reload: (() => Promise<void>) | undefined,
    afterRuntime = false,
  ): Promise<void> {
    const checkStarted = performance.now();
    const staged: StagedFile[] = [];
    const abandon = async (error: unknown) => {
      await Promise.all(staged.map((s) => s.discard()));
      if (reload && (this.dirty || afterRuntime)) await this.resync(reload);
      return error;
    };
    try {
      for (const r of changed) staged.push(await stageFile(r.resource.destination!, r.text));
    } catch (error) {
      throw await abandon(
        installError(
          changed.map((r) => r.resource.destination!),
          error,
        ),
      );
    }
    try {
      for (const [i, r] of changed.entries()) if (r.resource.haproxy) await this.check(staged[i]!, r.text);
    } catch (error) {
      throw await abandon(error);
    }
    const checkMs = Math.round(performance.now() - checkStarted);
    for (const [i, s] of staged.entries()) {
      try {
        await s.commit();
      } catch (error) {
        await Promise.all(staged.slice(i).map((rest) => rest.discard()));
        throw installError([s.path], error);
      }
      this.installed.set(changed[i]!.resource.destination!, changed[i]!.text);
      this.deps.log.info(`installed ${s.path} (render ${renderMs} ms, haproxy -c ${checkMs} ms)`, { destination: s.path, backends, renderMs, checkMs });
    }
  }

  /** Reloads HAProxy with the installed files; on failure, the next run reloads again. */
  private async resync(reload: () => Promise<void>): Promise<void> {
    try {
      await reload();
      this.dirty = false;
      this.deps.log.info('reloaded HAProxy with the installed config, to undo a runtime change the file could not follow');
    } catch (again) {
      this.dirty = true;
      this.deps.log.error(`could not reload HAProxy to undo a runtime change: ${(again as Error).message}; the next change reloads`);
    }
  }

  /**
   * When a failed reload left HAProxy in an unknown state (it timed out, or no worker runs), reload
   * once more with the files just put back, so HAProxy and the files agree again. A plain
   * rejection needs none: the old worker still serves what the restored files say.
   */
  private async recover(error: unknown, reload: () => Promise<void>): Promise<void> {
    if (!(error instanceof OccsError) || (error.code !== 'RELOAD_TIMEOUT' && error.code !== 'RELOAD_NO_WORKER')) return;
    try {
      await reload();
      this.deps.log.info('reloaded the previous config after the failed reload');
    } catch (again) {
      this.deps.log.error(`could not reload the previous config either: ${(again as Error).message}`);
    }
  }

  /** After a failed reload: the files go back to what the running HAProxy still serves. */
  private async restore(previous: Array<{ path: string; content: string | undefined }>): Promise<void> {
    const known = previous.filter((p): p is { path: string; content: string } => p.content !== undefined);
    await installFiles(known).catch((error: unknown) => {
      throw installError(
        known.map((p) => p.path),
        error,
      );
    });
    for (const p of known) this.installed.set(p.path, p.content);
  }

  /** `haproxy -c` on the staged file; a rejection names the rendered line. */
  private async check(staged: StagedFile, text: string): Promise<void> {
    if (!staged.temp) return;
    const result = await checkConfigFile(this.deps.haproxy, staged.temp);
    if (result.valid) return;
    const alert = result.messages.find((m) => m.level === 'alert' && !isSummary(m));
    const line = alert?.file === staged.temp ? alert.line : undefined;
    throw rejectedError(
      'CONFIG_REJECTED',
      `haproxy -c rejected the new config of ${staged.path}${line ? ` at line ${line}` : ''}: ${alert?.message.split(staged.temp).join(staged.path) ?? "see HAProxy's output"}`,
      {
        hint: 'the installed config stays; fix the template or the entries',
        detail: line ? configContext(text, line) : undefined,
      },
    );
  }

  /** --min-servers: an answer that would leave a backend too thin is refused, not installed. */
  private refuseThin(rendered: RenderedResource[]): Record<string, number> {
    const backends: Record<string, number> = {};
    for (const r of rendered.filter((x) => x.resource.haproxy)) Object.assign(backends, serverCounts(parseSections(r.text)));
    const min = this.deps.settings.minServers;
    const thin = Object.entries(backends).filter(([, n]) => n < min);
    if (thin.length > 0) {
      throw rejectedError(
        'MIN_SERVERS',
        `refused the store's answer: ${thin.map(([b, n]) => `backend ${b} would have ${n} server${n === 1 ? '' : 's'}`).join(', ')}, fewer than --min-servers ${min}`,
        {
          hint: 'the installed config stays until the store holds enough servers again',
        },
      );
    }
    return backends;
  }

  /** Skipped entries are told once per change of the set, not on every render; --strict refuses. */
  private noteSkipped(rendered: RenderedResource[]): void {
    const skipped = rendered.flatMap((r) => r.diagnostics.skipped);
    if (this.deps.settings.strict && skipped.length > 0) {
      throw rejectedError(
        'ENTRIES_REJECTED',
        `refused the store's answer: ${skipped.length} invalid entr${skipped.length === 1 ? 'y' : 'ies'} (--strict): ${skipped.map((s) => `${printable(s.key)} (${s.reason})`).join(', ')}`,
      );
    }
    const notes = JSON.stringify(skipped);
    if (notes === this.lastNotes) return;
    this.lastNotes = notes;
    for (const s of skipped) this.deps.log.warn(`skipped ${s.key}: ${s.reason}`, { key: s.key, reason: s.reason });
  }
}
