import { basename } from 'node:path';
import type { Settings } from '../config/settings.js';
import { asOccsError } from '../errors.js';
import type { HaproxyControl } from '../haproxy/control.js';
import type { ReloadResult } from '../haproxy/reload.js';
import { applyAtRuntime } from '../haproxy/runtime.js';
import { applyMaps } from '../haproxy/runtime-maps.js';
import { runtimeRefused, type RuntimeChannel } from '../haproxy/runtime-channel.js';
import { ServerIds } from '../haproxy/server-ids.js';
import type { Logger } from '../log.js';
import type { Change } from '../plan/plan.js';
import type { RenderedResource } from '../plan/render.js';
import { Installer } from './installer.js';

export interface ExecutorDeps {
  settings: Readonly<Settings>;
  control: HaproxyControl;
  log: Logger;
  /** Told of every verified reload (to count and log it). */
  reloaded: (result: ReloadResult) => void;
  /** Told when the file of a runtime change is installed, in the background. */
  filed?: (destinations: string[]) => void;
  /** Told when the file of a runtime change could not be installed (HAProxy was set back to the installed file). */
  fileFailed?: (error: unknown) => void;
}

/** What carrying out a change did. */
export interface Outcome {
  /** Destinations whose content changed and was installed now (a runtime change's file follows later). */
  installed: string[];
  /** How HAProxy got the change: its runtime API, a reload, or not at all (nothing to do, or files only). */
  path: 'runtime' | 'reload' | 'none';
  /** The runtime API was tried and refused (the change then went by reload). */
  runtimeFallback?: string;
}

/**
 * Carries out a planned change, in a fixed order, and keeps what is installed in memory.
 *
 * - runtime: the runtime API at once (HAProxy serves the change, `haproxy -c` never in the way),
 *   read back. The file that records it follows in the background: staged, checked and renamed;
 *   when changes come faster than checks, only the newest file is checked next. A file that
 *   fails its check: HAProxy is reloaded with the installed one. HAProxy refuses a command: the
 *   change goes by reload instead.
 * - reload: stage, `haproxy -c`, rename, reload and verify; a failed reload puts the previous
 *   files back.
 * - files (not read by HAProxy): stage and rename.
 *
 * Whatever fails, it fails here, in one place: when HAProxy may then run something else than the
 * installed files say, it is reloaded with them so the two agree again; if even that fails,
 * `mustReload` says so and the next change reloads. HAProxy is changed by one step at a time.
 */
export class Executor {
  private readonly installer: Installer;
  /** The config HAProxy runs, while its file is still being installed in the background. */
  private ahead?: RenderedResource;
  /** Why HAProxy may run something else than the files say (the next change reloads). */
  private unknown?: string;
  /** Counts the reloads that set HAProxy back: a plan made before one is stale. */
  private epoch = 0;
  private pending?: RenderedResource;
  private following?: Promise<void>;
  private lock: Promise<unknown> = Promise.resolve();
  private backends: Readonly<Record<string, number>> = {};
  /** Ids for servers added at runtime; a reload renumbers every server. */
  private readonly ids = new ServerIds();

  constructor(private readonly deps: ExecutorDeps) {
    this.installer = new Installer(deps);
  }

  async init(): Promise<void> {
    await this.installer.init();
  }

  /** Settings read again (SIGHUP); the files installed and how HAProxy is reached stay as they were (reconfigure.ts). */
  reconfigure(settings: Readonly<Settings>): void {
    this.deps.settings = settings;
  }

  /** What HAProxy runs (or will after a reload) at each destination: what a plan compares with. */
  get installedTexts(): ReadonlyMap<string, string | undefined> {
    if (!this.ahead) return this.installer.onDisk;
    const companions = (this.ahead.companions ?? []).map((c) => [c.path, c.text] as const);
    return new Map([...this.installer.onDisk, ...companions, [this.ahead.resource.destination!, this.ahead.text]]);
  }

  /** Why the next change must reload even if nothing changed (HAProxy may not run what the files say). */
  get mustReload(): string | undefined {
    return this.unknown;
  }

  /** The runtime API of the HAProxy that runs the config, if it offers one. */
  runtimeChannel(): RuntimeChannel | undefined {
    return this.deps.control.runtime(this.installedTexts.get(this.deps.settings.haproxy.config));
  }

  /** Resolves once no file is being installed in the background. */
  async settled(): Promise<void> {
    while (this.following) await this.following;
  }

  /**
   * Carries out `change`, planned against `installedTexts` just now. `canReload`: HAProxy runs
   * and may be reloaded (before a supervised HAProxy starts, files are only installed).
   * `backends`: servers per backend, for the log. Throws with the installed files as they were.
   */
  async execute(change: Change, canReload: boolean, backends: Readonly<Record<string, number>> = {}): Promise<Outcome> {
    this.backends = backends;
    const epoch = this.epoch;
    try {
      switch (change.kind) {
        case 'none':
          return { installed: [], path: 'none' };
        case 'files':
          return { installed: await this.installer.install(change.files, backends), path: 'none' };
        case 'runtime':
          return await this.viaRuntime(change, epoch);
        case 'reload':
          return await this.viaReload(change.files, canReload);
      }
    } catch (error) {
      if (this.unknown && canReload) await this.exclusive(() => this.resync());
      throw error;
    }
  }

  private async viaRuntime(change: Extract<Change, { kind: 'runtime' }>, epoch: number): Promise<Outcome> {
    try {
      await this.exclusive(async () => {
        // HAProxy was set back meanwhile: the change was planned against what it no longer runs.
        if (this.epoch !== epoch) throw runtimeRefused('HAProxy was reloaded with the installed config meanwhile');
        await this.applyAtRuntime(change);
      });
    } catch (error) {
      const why = asOccsError(error).message;
      this.ids.forget();
      this.deps.log.warn(`the runtime API did not take the change (${why}); reloading instead`);
      this.unknown ??= 'the runtime API may have taken part of a change';
      return { ...(await this.viaReload(change.files, true)), runtimeFallback: why };
    }
    this.ahead = change.files[0];
    this.follow(change.files[0]!);
    return { installed: [], path: 'runtime' };
  }

  private async applyAtRuntime(change: Extract<Change, { kind: 'runtime' }>): Promise<void> {
    const channel = this.runtimeChannel();
    if (!channel) throw runtimeRefused('the runtime API went away');
    const started = performance.now();
    await applyAtRuntime(channel, change.backends, this.deps.settings.watch.drainTimeoutMs, this.ids, () => applyMaps(channel, change.maps));
    const count = (k: 'added' | 'removed' | 'moved' | 'shaped') => change.backends.reduce((n, b) => n + (b[k]?.length ?? 0), 0);
    const ms = Math.round(performance.now() - started);
    const what = [`${count('added')} added`, `${count('removed')} removed`, `${count('moved')} moved`];
    if (count('shaped') > 0) what.push(`${count('shaped')} with a new weight or state`);
    if (change.maps.length > 0) what.push(`routes swapped (${change.maps.map((m) => `${basename(m.path)}: ${m.entries.length}`).join(', ')})`);
    this.deps.log.info(`applied through the runtime API, no reload: ${what.join(', ')} (${ms} ms)`, {
      path: 'runtime',
      backends: change.backends.map((b) => b.backend),
      maps: change.maps.map((m) => m.path),
      ms,
    });
  }

  /** The file of a runtime change, installed in the background; a newer one replaces one not started yet. */
  private follow(file: RenderedResource): void {
    this.pending = file;
    this.following ??= this.followFiles().finally(() => (this.following = undefined));
  }

  private async followFiles(): Promise<void> {
    while (this.pending) {
      const file = this.pending;
      this.pending = undefined;
      try {
        const installed = await this.installer.install([file], this.backends);
        if (this.ahead === file) this.ahead = undefined;
        this.deps.filed?.(installed);
      } catch (error) {
        if (this.pending) continue; // a newer file is due, and may pass
        // HAProxy runs a change its file cannot record: set it back to the installed file.
        this.ahead = undefined;
        this.unknown ??= 'a runtime change whose file could not be installed';
        this.deps.log.warn(`the file of a runtime change could not be installed; reloading HAProxy with the installed config, to undo a runtime change`);
        await this.exclusive(() => this.resync());
        this.deps.fileFailed?.(error);
      }
    }
  }

  private async viaReload(files: RenderedResource[], canReload: boolean): Promise<Outcome> {
    // A file still following a runtime change is made obsolete by this one: let it finish first.
    this.pending = undefined;
    await this.settled();
    this.ahead = undefined;
    const paths = files.flatMap((r) => [r.resource.destination!, ...(r.companions ?? []).map((c) => c.path)]);
    const previous = paths.map((path) => ({ path, content: this.installer.onDisk.get(path) }));
    const installed = await this.installer.install(files, this.backends);
    if (!canReload) return { installed, path: 'none' };
    return this.exclusive(async () => {
      try {
        const result = await this.deps.control.reload();
        if (!result) return { installed, path: 'none' };
        this.deps.reloaded(result);
        this.unknown = undefined;
        this.epoch += 1;
        this.ids.forget();
      } catch (error) {
        await this.installer.restore(previous);
        // A reload that timed out or left no worker: HAProxy's state is unknown. A plain
        // rejection leaves the old worker serving what the restored files say.
        if (asOccsError(error).policy.apart) this.unknown ??= 'the last reload failed half-way';
        throw error;
      }
      return { installed, path: 'reload' as const };
    });
  }

  /** Reloads HAProxy with the installed files, so the two agree again; on failure the next change reloads. */
  private async resync(): Promise<void> {
    this.epoch += 1;
    this.ids.forget();
    try {
      const result = await this.deps.control.reload();
      if (result) this.deps.reloaded(result);
      this.unknown = undefined;
      this.deps.log.info('reloaded HAProxy with the installed config, to undo a change it could not keep');
    } catch (again) {
      this.deps.log.error(`could not reload HAProxy with the installed config either: ${asOccsError(again).message}; the next change reloads`);
    }
  }

  /** Runs `step` once every step that changes HAProxy before it is done: one at a time. */
  private exclusive<T>(step: () => Promise<T>): Promise<T> {
    const run = this.lock.then(step);
    this.lock = run.catch(() => {});
    return run;
  }
}
