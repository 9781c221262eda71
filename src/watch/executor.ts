import { basename } from 'node:path';
import type { Settings } from '../config/settings.js';
import { asOccsError } from '../errors.js';
import type { HaproxyControl } from '../haproxy/control.js';
import type { ReloadResult } from '../haproxy/reload.js';
import { describeDrift, NAMED_DIFFERENCES } from '../haproxy/drift.js';
import { applyAtRuntime } from '../haproxy/runtime.js';
import { warmUp } from '../haproxy/readback.js';
import { applyMaps } from '../haproxy/runtime-maps.js';
import { applyCerts, certsChanged } from '../haproxy/runtime-certs.js';
import { runtimeRefused } from '../haproxy/runtime-channel.js';
import type { Logger } from '../log.js';
import { decideChange, type Change, type Outcome } from '../plan/plan.js';
import type { RenderedResource } from '../plan/render.js';
import type { HaproxyView } from './haproxy-view.js';
import { FileFollower } from './file-follower.js';
import { Installer } from './installer.js';
import { sweepBundles } from '../install/sweep.js';

export interface ExecutorDeps {
  settings: Readonly<Settings>;
  control: HaproxyControl;
  log: Logger;
  /** What HAProxy runs: told of every step, read for the next. */
  view: HaproxyView;
  /** Told of every verified reload (to count and log it). */
  reloaded: (result: ReloadResult) => void;
  /** Told when the file of a runtime change is installed, in the background. */
  filed?: (destinations: string[]) => void;
  /** Told when the file of a runtime change could not be installed (HAProxy was set back to the installed file). */
  fileFailed?: (error: unknown) => void;
  /** Resolves once no store change waits to be carried out, nor is under way, nor came for `quietMs`: the file of a runtime change waits for it. */
  changesDone?: (quietMs: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Carries out a decided change, in a fixed order, and tells the view (haproxy-view.ts) of each
 * step; it keeps no state of HAProxy's own.
 *
 * - runtime: the runtime API at once (HAProxy serves the change, `haproxy -c` never in the way),
 *   read back. The file that records it follows in the background (file-follower.ts): staged,
 *   checked and renamed, after the burst it is part of; only the newest file is checked. A file that
 *   fails its check: HAProxy is reloaded with the installed one. HAProxy refuses a command: the
 *   error says so, and the view then has the next decision reload.
 * - reload: stage, `haproxy -c`, rename, reload and verify; a failed reload puts the previous
 *   files back.
 * - files (not read by HAProxy): stage and rename.
 *
 * HAProxy is changed by one step at a time.
 */
export class Executor {
  private readonly installer: Installer;
  /** Files of runtime changes, each with the epoch of HAProxy it was applied to. */
  private readonly files: FileFollower<{ file: RenderedResource; epoch: number }>;
  private lock: Promise<unknown> = Promise.resolve();
  private backends: Readonly<Record<string, number>> = {};

  constructor(private readonly deps: ExecutorDeps) {
    this.installer = new Installer(deps);
    this.files = new FileFollower({
      install: (f, urgent) => this.followed(f.file, f.epoch, urgent),
      failed: (error) => this.unfollowed(error),
      superseded: (error) => this.deps.log.warn(`the file of a runtime change was not installed (${asOccsError(error).message}); a newer one follows`),
      changesDone: deps.changesDone,
    });
    deps.view.whenRunning(() => this.warm());
  }

  /** Settings read again (SIGHUP); the files installed and how HAProxy is reached stay as they were (reconfigure.ts). */
  reconfigure(settings: Readonly<Settings>): void {
    this.deps.settings = settings;
  }

  /** HAProxy started, or a new worker took over: its runtime API warmed up in the background (readback.ts); a failure is left to the next change. */
  private warm(): void {
    const channel = this.deps.view.channel;
    if (channel && this.deps.settings.watch.runtimeApi) this.exclusive(() => warmUp(channel, this.deps.view.ids)).catch(() => {});
  }

  /** Resolves once no file is being installed and no step (a warm-up) is under way: HAProxy's master warns of a command it cannot pass on. */
  async settled(): Promise<void> {
    await this.files.settled();
    await this.exclusive(async () => {});
  }

  /**
   * Carries out `change`, decided against the view just now. `backends`: servers per backend,
   * for the log. Throws with the installed files as they were.
   */
  async execute(change: Change, backends: Readonly<Record<string, number>> = {}): Promise<Outcome> {
    this.backends = backends;
    switch (change.kind) {
      case 'none':
        return { installed: [], path: 'none' };
      case 'files':
        return { installed: await this.installer.install(change.files, backends), path: 'none' };
      case 'runtime':
        return this.viaRuntime(change);
      case 'reload':
        return this.viaReload(change.files);
    }
  }

  private async viaRuntime(change: Extract<Change, { kind: 'runtime' }>): Promise<Outcome> {
    const { view } = this.deps;
    await this.exclusive(async () => {
      // HAProxy was set back meanwhile, or found apart from its files (a look): the change was planned against what it no longer runs.
      if (view.state.epoch !== change.epoch) throw runtimeRefused('HAProxy was reloaded with the installed config meanwhile');
      if (view.state.apart) throw runtimeRefused(`HAProxy may run something else than the installed files now (${view.state.apart})`);
      // Drift read before the view changed (a store change came in between): it is looked for again, not corrected.
      if (change.drift && view.state.version !== change.drift.version) throw runtimeRefused('what HAProxy should run changed meanwhile');
      try {
        await this.applyAtRuntime(change);
      } catch (error) {
        view.ids.forget();
        throw error;
      }
      // Within the step: nothing that reads HAProxy (a drift check) may see it run this before the view says so.
      if (change.files[0]) view.runsAhead(change.files[0]);
    });
    if (change.files[0]) this.files.follow({ file: change.files[0], epoch: change.epoch });
    return { installed: [], path: 'runtime' };
  }

  private async applyAtRuntime(change: Extract<Change, { kind: 'runtime' }>): Promise<void> {
    const channel = this.deps.view.channel;
    if (!channel) throw runtimeRefused('the runtime API went away');
    const started = performance.now();
    const { ids } = this.deps.view;
    // Certificates before the maps: a policy that sends an app to HTTPS finds its certificate served.
    await applyAtRuntime(channel, change.backends, this.deps.settings.watch.drainTimeoutMs, ids, async () => {
      await applyCerts(channel, change.certs);
      await applyMaps(channel, change.maps);
    });
    const count = (k: 'added' | 'removed' | 'moved' | 'shaped') => change.backends.reduce((n, b) => n + (b[k]?.length ?? 0), 0);
    const ms = Math.round(performance.now() - started);
    // Servers are counted when some changed, or when nothing else did (a plan of servers only).
    const servers = change.backends.length > 0 || (change.maps.length === 0 && !certsChanged(change.certs));
    const what = servers ? [`${count('added')} added`, `${count('removed')} removed`, `${count('moved')} moved`] : [];
    if (count('shaped') > 0) what.push(`${count('shaped')} with a new weight or state`);
    if (change.maps.length > 0) what.push(`maps swapped (${change.maps.map((m) => `${basename(m.path)}: ${m.entries.length}`).join(', ')})`);
    const { certs } = change;
    if (certsChanged(certs)) what.push(`certificates: ${certs.added.length} added, ${certs.rotated.length} rotated, ${certs.removed.length} removed`);
    if (change.drift) {
      const { found } = change.drift;
      const fields = { drift: found.slice(0, NAMED_DIFFERENCES), differences: found.length, ms };
      this.deps.log.warn(
        `HAProxy drifted from the installed config (${describeDrift(found)}); set right through the runtime API, no reload (${ms} ms)`,
        fields,
      );
      return;
    }
    this.deps.log.info(`applied through the runtime API, no reload: ${what.join(', ')} (${ms} ms)`, {
      path: 'runtime',
      backends: change.backends.map((b) => b.backend),
      maps: change.maps.map((m) => m.path),
      certificates: { added: certs.added.map((c) => c.path), rotated: certs.rotated.map((c) => c.path), removed: certs.removed },
      ms,
    });
  }

  /** The file of a runtime change, in the background (file-follower.ts); `urgent`: a reload waits for it. */
  private async followed(file: RenderedResource, epoch: number, urgent: boolean): Promise<void> {
    // HAProxy was set back to the installed files since (a file that failed before this one): it does not run this change.
    if (epoch !== this.deps.view.state.epoch) return;
    // Off the serving path: its haproxy -c yields the CPU to HAProxy and to the next change.
    const installed = await this.installer.install([file], this.backends, !urgent);
    await this.sweep([file]);
    this.deps.filed?.(installed);
  }

  private async unfollowed(error: unknown): Promise<void> {
    // HAProxy runs a change its file cannot record: set it back to the installed file.
    this.deps.view.record(asOccsError(error));
    this.deps.view.apart('a runtime change whose file could not be installed');
    this.deps.log.warn(`the file of a runtime change could not be installed; reloading HAProxy with the installed config, to undo a runtime change`);
    await this.resyncNow(); // within the follow: nothing else follows meanwhile
    this.deps.fileFailed?.(error);
  }

  private async viaReload(files: RenderedResource[]): Promise<Outcome> {
    // A file still following a runtime change is installed first: HAProxy runs that change, and
    // if this install fails, the reload that sets HAProxy back reads the installed file.
    await this.files.flush();
    const { view } = this.deps;
    const paths = files.flatMap((r) => [r.resource.destination!, ...(r.companions ?? []).map((c) => c.path)]);
    const previous = paths.map((path) => ({ path, content: view.onDisk.get(path) }));
    const installed = await this.installer.install(files, this.backends);
    if (!view.state.started) {
      await this.sweep(files);
      return { installed, path: 'none' };
    }
    return this.exclusive(async () => {
      try {
        const result = await this.deps.control.reload();
        if (!result) return { installed, path: 'none' };
        this.deps.reloaded(result);
        view.reloaded();
      } catch (error) {
        await this.installer.restore(previous);
        throw error;
      }
      await this.sweep(files);
      return { installed, path: 'reload' as const };
    });
  }

  /** Bundles no longer served leave the disk once HAProxy runs the files that name the others (a failure is logged: the next install tries again). */
  private async sweep(files: readonly RenderedResource[]): Promise<void> {
    try {
      for (const path of await sweepBundles(files)) this.deps.log.info(`removed ${path}: its certificate is no longer served`, { removed: path });
    } catch (error) {
      this.deps.log.warn(`could not remove the bundles no longer served: ${asOccsError(error).message}`);
    }
  }

  /**
   * When HAProxy may run something else than the installed files say (the view tells why):
   * reloads it with them, so the two agree again; on failure the next change reloads. A file
   * still following a runtime change is installed first: the reload reads it.
   */
  async resync(): Promise<void> {
    await this.files.flush();
    await this.resyncNow();
  }

  private async resyncNow(): Promise<void> {
    await this.exclusive(async () => {
      // Decided in the step: a resync asked for twice (a look, a failed change) reloads once.
      if (decideChange(this.deps.settings, this.deps.view.state, undefined).kind !== 'reload') return;
      try {
        const result = await this.deps.control.reload();
        if (result) this.deps.reloaded(result);
        this.deps.view.reloaded();
        this.deps.log.info('reloaded HAProxy with the installed config, to undo a change it could not keep');
      } catch (again) {
        this.deps.log.error(`could not reload HAProxy with the installed config either: ${asOccsError(again).message}; the next change reloads`);
      }
    });
  }

  /** Runs `step` once every step that changes HAProxy before it is done: one at a time. */
  exclusive<T>(step: () => Promise<T>): Promise<T> {
    const run = this.lock.then(step);
    this.lock = run.catch(() => {});
    return run;
  }
}
