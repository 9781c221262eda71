import { readFile } from 'node:fs/promises';
import type { Settings } from '../config/settings.js';
import { asOccsError, OccsError, systemErrorCode } from '../errors.js';
import { configRejected } from '../haproxy/check.js';
import type { HaproxyControl } from '../haproxy/control.js';
import type { ReloadResult } from '../haproxy/reload.js';
import { applyAtRuntime, runtimeRefused, type RuntimeChannel } from '../haproxy/runtime.js';
import type { Logger } from '../log.js';
import type { Change } from '../plan/plan.js';
import type { RenderedResource } from '../plan/render.js';
import { installFiles, stageFile, type StagedFile } from '../util/atomic-write.js';
import { installError } from '../util/install-error.js';

export interface ExecutorDeps {
  settings: Readonly<Settings>;
  control: HaproxyControl;
  log: Logger;
  /** Told of every verified reload (to count and log it). */
  reloaded: (result: ReloadResult) => void;
}

/** What carrying out a change did. */
export interface Outcome {
  /** Destinations whose content changed (and was installed). */
  installed: string[];
  /** How HAProxy got the change: its runtime API, a reload, or not at all (nothing to do, or files only). */
  path: 'runtime' | 'reload' | 'none';
  /** The runtime API was tried and refused (the change then went by reload). */
  runtimeFallback?: string;
}

/**
 * Carries out a planned change, in a fixed order, and keeps what is installed in memory.
 *
 * - runtime: the runtime API first (HAProxy serves the change at once, no `haproxy -c` in the
 *   way), read back; then the file that records it is staged, checked and renamed into place.
 *   HAProxy refuses a command: the change goes by reload instead.
 * - reload: stage, `haproxy -c`, rename, reload and verify; a failed reload puts the previous
 *   files back.
 * - files (not read by HAProxy): stage and rename.
 *
 * Whatever fails, it fails here, in one place: when HAProxy may then run something else than
 * the installed files say, it is reloaded with them so the two agree again; if even that fails,
 * `mustReload` says so and the next change reloads.
 */
export class Executor {
  private readonly installed = new Map<string, string | undefined>();
  private outOfStep?: string;
  /** Servers per backend of what is being installed, for the log. */
  private backends: Readonly<Record<string, number>> = {};

  constructor(private readonly deps: ExecutorDeps) {}

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

  /** What is installed at each destination (undefined: no file). */
  get installedTexts(): ReadonlyMap<string, string | undefined> {
    return this.installed;
  }

  /** Why the next change must reload even if nothing changed (HAProxy may not run what the files say). */
  get mustReload(): string | undefined {
    return this.outOfStep;
  }

  /** The runtime API of the HAProxy that runs the installed config, if it offers one. */
  runtimeChannel(): RuntimeChannel | undefined {
    return this.deps.control.runtime(this.installed.get(this.deps.settings.haproxy.config));
  }

  /**
   * Carries out `change`. `canReload`: HAProxy runs and may be reloaded (before a supervised
   * HAProxy starts, files are only installed). `backends`: servers per backend of the rendering,
   * for the log. Throws with the installed files as they were.
   */
  async execute(change: Change, canReload: boolean, backends: Readonly<Record<string, number>> = {}): Promise<Outcome> {
    this.backends = backends;
    try {
      switch (change.kind) {
        case 'none':
          return { installed: [], path: 'none' };
        case 'files':
          return { installed: await this.install(change.files), path: 'none' };
        case 'runtime':
          return await this.viaRuntime(change);
        case 'reload':
          return await this.viaReload(change.files, canReload);
      }
    } catch (error) {
      if (this.outOfStep && canReload) await this.resync();
      throw error;
    }
  }

  private async viaRuntime(change: Extract<Change, { kind: 'runtime' }>): Promise<Outcome> {
    this.outOfStep = 'a change made through the runtime API is not in the installed file yet';
    try {
      await this.applyAtRuntime(change);
    } catch (error) {
      const why = asOccsError(error).message;
      this.deps.log.warn(`the runtime API did not take the change (${why}); reloading instead`);
      return { ...(await this.viaReload(change.files, true)), runtimeFallback: why };
    }
    const installed = await this.install(change.files);
    this.outOfStep = undefined;
    return { installed, path: 'runtime' };
  }

  private async applyAtRuntime(change: Extract<Change, { kind: 'runtime' }>): Promise<void> {
    const channel = this.runtimeChannel();
    if (!channel) throw runtimeRefused('the runtime API went away');
    const started = performance.now();
    await applyAtRuntime(channel, change.backends, this.deps.settings.watch.drainTimeoutMs);
    const count = (k: 'added' | 'removed' | 'moved') => change.backends.reduce((n, b) => n + b[k].length, 0);
    const ms = Math.round(performance.now() - started);
    this.deps.log.info(`applied through the runtime API, no reload: ${count('added')} added, ${count('removed')} removed, ${count('moved')} moved (${ms} ms)`, {
      path: 'runtime',
      backends: change.backends.map((b) => b.backend),
      ms,
    });
  }

  private async viaReload(files: RenderedResource[], canReload: boolean): Promise<Outcome> {
    const previous = files.map((r) => ({ path: r.resource.destination!, content: this.installed.get(r.resource.destination!) }));
    const installed = await this.install(files);
    if (!canReload) return { installed, path: 'none' };
    try {
      const result = await this.deps.control.reload();
      if (!result) return { installed, path: 'none' };
      this.deps.reloaded(result);
      this.outOfStep = undefined;
    } catch (error) {
      await this.restore(previous);
      // A reload that timed out or left no worker: HAProxy's state is unknown. A plain rejection
      // leaves the old worker serving what the restored files say.
      if (error instanceof OccsError && (error.code === 'RELOAD_TIMEOUT' || error.code === 'RELOAD_NO_WORKER'))
        this.outOfStep ??= 'the last reload failed half-way';
      throw error;
    }
    return { installed, path: 'reload' };
  }

  /** Reloads HAProxy with the installed files, so the two agree again; on failure the next change reloads. */
  private async resync(): Promise<void> {
    try {
      const result = await this.deps.control.reload();
      if (result) this.deps.reloaded(result);
      this.outOfStep = undefined;
      this.deps.log.info('reloaded HAProxy with the installed config, to undo a change it could not keep');
    } catch (again) {
      this.deps.log.error(`could not reload HAProxy with the installed config either: ${asOccsError(again).message}; the next change reloads`);
    }
  }

  /** Stages, checks (HAProxy configs) and renames the files; a failure leaves them as they were. */
  private async install(files: RenderedResource[]): Promise<string[]> {
    if (files.length === 0) return [];
    const started = performance.now();
    const staged: StagedFile[] = [];
    try {
      for (const r of files) staged.push(await stageFile(r.resource.destination!, r.text));
    } catch (error) {
      await Promise.all(staged.map((s) => s.discard()));
      throw installError(
        files.map((r) => r.resource.destination!),
        error,
      );
    }
    try {
      for (const [i, r] of files.entries()) if (r.resource.haproxy) await this.check(staged[i]!, r.text);
    } catch (error) {
      await Promise.all(staged.map((s) => s.discard()));
      throw error;
    }
    const checkMs = Math.round(performance.now() - started);
    for (const [i, s] of staged.entries()) {
      try {
        await s.commit();
      } catch (error) {
        await Promise.all(staged.slice(i).map((rest) => rest.discard()));
        throw installError([s.path], error);
      }
      this.installed.set(files[i]!.resource.destination!, files[i]!.text);
      this.deps.log.info(`installed ${s.path} (haproxy -c ${checkMs} ms)`, { destination: s.path, backends: this.backends, checkMs });
    }
    return files.map((r) => r.resource.destination!);
  }

  /** `haproxy -c` on the staged file; a rejection names the rendered line. */
  private async check(staged: StagedFile, text: string): Promise<void> {
    if (!staged.temp) return;
    const result = await this.deps.control.check(staged.temp);
    if (result.valid) return;
    throw configRejected(result, {
      file: staged.temp,
      shownAs: `the new config of ${staged.path}`,
      text,
      hint: 'the installed config stays; fix the template or the entries',
    });
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
}
