import type { Server } from 'node:http';
import type { Settings } from '../config/settings.js';
import { asOccsError, ExitCode, INSTALL_CODES, OccsError } from '../errors.js';
import { reloadHaproxy, type ReloadStrategy } from '../haproxy/reload.js';
import type { KvSnapshot, KvSource } from '../kv/source.js';
import type { Logger } from '../log.js';
import { allPrefixes, emptyPrefixes, emptyPrefixWarning } from '../pipeline/render.js';
import { Applier } from './apply.js';
import { Backoff } from '../util/backoff.js';
import { Coalescer } from './coalescer.js';
import { failureCounter, type WatchState } from './state.js';
import type { Supervisor } from './supervisor.js';
import type { WatchRecord } from './watch-record.js';

export interface WatcherParts {
  settings: Readonly<Settings>;
  source: KvSource;
  applier: Applier;
  state: WatchState;
  log: Logger;
  /** The supervised HAProxy (--exec), or none. */
  supervisor?: Supervisor;
  /** Without --exec: how to reload an HAProxy that runs already (none: only files are written). */
  strategy?: ReloadStrategy;
  haproxy: string;
  status?: Server;
  /** The record beside the config of which watch runs which HAProxy. */
  record?: WatchRecord;
  /** The environment children get (none of our secrets). */
  childEnv: NodeJS.ProcessEnv;
  /** Shown while waiting for the first render (a spinner on a TTY, a log line otherwise). */
  waiting: (text: string) => { stop(): void };
}

type Stop = { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'child'; status: number; description: string };

/**
 * The long-lived loop: the store's changes → quiescence → apply (render, check, install, reload,
 * verify), one at a time, changes arriving meanwhile coalesced. A failure anywhere leaves the
 * installed config and the running HAProxy as they were; the store is retried forever.
 */
export class Watcher {
  private readonly abort = new AbortController();
  private latest?: KvSnapshot;
  /** Counts the watch's snapshots, so a slower SIGHUP read never replaces a newer one. */
  private generation = 0;
  private started: boolean;
  private readonly coalescer: Coalescer;
  private stopRequested!: (stop: Stop) => void;
  private readonly stopped = new Promise<Stop>((resolve) => (this.stopRequested = resolve));
  private spinner?: { stop(): void };
  /** The retry of an install that failed (a full disk, say), while one is due. */
  private retry?: NodeJS.Timeout;
  private readonly installBackoff = new Backoff(1000, 30_000);
  /** The empty backends and prefixes last told (undefined: none told yet). */
  private emptyNote?: string;
  /** The stop of HAProxy processes an earlier watch left, while under way. */
  private leftovers?: Promise<void>;

  constructor(private readonly parts: WatcherParts) {
    this.started = !parts.supervisor;
    const { waitMinMs, waitMaxMs } = parts.settings.watch;
    this.coalescer = new Coalescer((forced) => this.sync(forced), { minMs: waitMinMs, maxMs: waitMaxMs }, this.abort.signal);
  }

  /** Runs until SIGTERM/SIGINT or HAProxy's exit; returns the exit status. */
  async run(): Promise<number> {
    const { settings, source, log } = this.parts;
    const prefixes = allPrefixes(settings.resources);
    const onSignal = (signal: NodeJS.Signals) => (signal === 'SIGHUP' ? void this.reread() : this.stopRequested({ kind: 'signal', signal }));
    const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
    for (const s of signals) process.on(s, onSignal);
    this.spinner = this.parts.waiting(`waiting for the first successful render of ${prefixes.join(', ')} from ${source.description}`);
    const watching = source.watch(
      prefixes,
      {
        snapshot: (snapshot) => {
          this.generation += 1;
          this.storeAnswered(snapshot);
        },
        alive: (scope) => this.storeAlive(scope),
        error: (error, scope) => this.storeFailed(error, scope),
      },
      this.abort.signal,
    );
    log.info(`watching ${prefixes.join(', ')} on ${source.description}`, { prefixes, store: source.description });

    const stop = await this.stopped;
    this.spinner?.stop();
    for (const s of signals) process.off(s, onSignal);
    this.abort.abort();
    clearTimeout(this.retry);
    await Promise.all([watching, this.coalescer.idle()]);
    await source.close();
    this.parts.status?.close();
    return this.finish(stop);
  }

  private async finish(stop: Stop): Promise<number> {
    const status = await this.stopHaproxy(stop);
    await this.leftovers;
    await this.parts.record?.remove();
    return status;
  }

  private async stopHaproxy(stop: Stop): Promise<number> {
    const { supervisor, log, settings } = this.parts;
    if (stop.kind === 'child') {
      // Non-zero even when HAProxy said 0: the service is gone, so the container must restart.
      log.error(`haproxy exited on its own (${stop.description}); stopping`, { status: stop.status });
      await supervisor?.stop('SIGTERM', settings.watch.stopTimeoutMs);
      return stop.status === 0 ? ExitCode.unexpected : stop.status;
    }
    log.info(`${stop.signal}: stopping${supervisor?.alive ? ' haproxy' : ''}`);
    if (!supervisor) return ExitCode.ok;
    const exit = await supervisor.stop(stop.signal, settings.watch.stopTimeoutMs);
    log.info(`haproxy stopped (${exit.description})`, { status: exit.status });
    return exit.status;
  }

  private storeAnswered(snapshot: KvSnapshot): void {
    this.latest = snapshot;
    // Nothing to wait for before the first install; and a change the runtime API can take is
    // cheap: both skip the quiescence window.
    this.coalescer.request(false, !this.started || this.runtimeOnly(snapshot));
  }

  private runtimeOnly(snapshot: KvSnapshot): boolean {
    try {
      return this.parts.applier.runtimeOnly(snapshot);
    } catch {
      return false; // the sync reports the render error
    }
  }

  /** A good read: the store is back (told once, when the last failing part recovers). */
  private storeAlive(scope: string): void {
    const { state, log } = this.parts;
    const problem = state.storeProblems.get(scope);
    if (problem) {
      state.storeProblems.delete(scope);
      if (state.storeProblems.size === 0) {
        const seconds = Math.round((Date.now() - problem.since) / 100) / 10;
        log.info(`store reachable again after ${seconds}s`, { seconds });
      }
    }
    // Nothing new and nothing failing: the installed config is still what the store says.
    if (state.storeProblems.size === 0 && !state.syncProblem && state.lastSyncAt !== undefined) state.syncSucceeded();
  }

  /** Logged once when the store starts failing, not on every retry; counted every time. */
  private storeFailed(error: unknown, scope: string): void {
    const { state, log } = this.parts;
    state.counters.storeErrors += 1;
    const message = error instanceof OccsError ? error.message : String(error);
    if (state.storeProblems.size === 0) {
      log.error(`${message}; keeping the installed config and HAProxy as they are, retrying with backoff`, { code: (error as OccsError).code });
    } else log.debug(message);
    state.storeProblems.set(scope, { message, since: state.storeProblems.get(scope)?.since ?? Date.now() });
  }

  /**
   * SIGHUP: read the store now, render and reload even if nothing changed. A change the watch
   * reports while this read is under way is newer: then that one is used, not this read.
   */
  private async reread(): Promise<void> {
    const { source, settings, state, log } = this.parts;
    state.counters.signals += 1;
    log.info('SIGHUP: re-reading the store, re-rendering and reloading');
    const generation = this.generation;
    try {
      const snapshot = await source.read(allPrefixes(settings.resources), this.abort.signal);
      if (this.generation === generation) this.latest = snapshot;
      this.coalescer.request(true);
    } catch (error) {
      log.error(`SIGHUP: cannot read the store (${error instanceof OccsError ? error.message : String(error)}); the watch goes on`);
    }
  }

  /** One pass of the pipeline over the latest snapshot; failures are logged and counted, never thrown. */
  private async sync(forced: boolean): Promise<void> {
    const { applier, state, supervisor } = this.parts;
    const snapshot = this.latest;
    if (!snapshot || this.abort.signal.aborted) return;
    state.counters.renders += 1;
    try {
      const result = await applier.apply(snapshot, forced && this.started, this.started ? () => this.reload() : undefined);
      state.backends = result.backends;
      this.noteEmpty(snapshot);
      state.counters.installs += result.installed.length > 0 ? 1 : 0;
      if (result.path === 'runtime') state.counters.runtimeUpdates += 1;
      if (result.runtimeFallback) state.counters.runtimeFallbacks += 1;
      this.spinner?.stop();
      if (!this.started && supervisor) await this.startHaproxy(supervisor);
      this.started = true;
      this.installBackoff.reset();
      state.syncSucceeded();
    } catch (error) {
      this.syncFailed(error);
    }
  }

  /**
   * Says, when it changes, which backends have no servers and which prefixes hold no keys: the
   * default (--min-servers 0) installs such an answer, and HAProxy then answers 503 there.
   */
  private noteEmpty(snapshot: KvSnapshot): void {
    const { state, log, settings } = this.parts;
    const empty = state.emptyBackends;
    const prefixes = emptyPrefixes(settings, snapshot);
    const note = JSON.stringify([empty, prefixes]);
    if (note === this.emptyNote) return;
    const wasEmpty = this.emptyNote !== undefined && (JSON.parse(this.emptyNote) as string[][])[0]!.length > 0;
    this.emptyNote = note;
    for (const prefix of prefixes) log.warn(emptyPrefixWarning(settings, prefix, snapshot), { prefix });
    if (empty.length > 0)
      log.warn(
        `no servers in backend ${empty.join(', ')}: HAProxy answers 503 to its requests until the store holds some (--min-servers refuses such answers)`,
        { backends: empty },
      );
    else if (wasEmpty) log.info('every backend has servers again');
  }

  private async startHaproxy(supervisor: Supervisor): Promise<void> {
    const { state, log, settings, record } = this.parts;
    // Recorded as soon as it has a pid: a watch killed from then on leaves a record of it.
    await supervisor.start(settings.haproxy.reloadTimeoutMs, this.parts.childEnv, async (pid) => record?.save({ pid, comm: supervisor.commandName }));
    state.childAlive = true;
    log.info(`started haproxy (pid ${supervisor.pid}): ${supervisor.commandLine}`, { pid: supervisor.pid });
    // Ours serves now: what an earlier, killed watch left running goes (in the background).
    if (record) this.leftovers = record.stopLeftovers(settings.watch.stopTimeoutMs, supervisor.pid);
    void supervisor.exited.then((exit) => {
      state.childAlive = false;
      this.stopRequested({ kind: 'child', ...exit });
    });
  }

  private async reload(): Promise<void> {
    const { supervisor, strategy, state, log, settings, haproxy } = this.parts;
    const started = performance.now();
    let result: { before: number[]; after: number[] } | undefined;
    if (supervisor) result = await supervisor.reload(settings.haproxy.reloadTimeoutMs);
    else if (strategy)
      result = await reloadHaproxy(strategy, { binary: haproxy, config: settings.haproxy.config, timeoutMs: settings.haproxy.reloadTimeoutMs });
    if (!result) return;
    state.counters.reloads += 1;
    const ms = Math.round(performance.now() - started);
    log.info(`reloaded: worker ${result.before.join(',') || '(none)'} → ${result.after.join(',')} (${ms} ms)`, {
      before: result.before,
      after: result.after,
      ms,
    });
  }

  private syncFailed(error: unknown): void {
    const { state, log, supervisor } = this.parts;
    const occs = asOccsError(error);
    state.counters[failureCounter(occs)] += 1;
    state.syncProblem = occs.message;
    log.error(`${occs.message}${occs.hint ? ` (${occs.hint})` : ''}`, { code: occs.code, detail: occs.detail });
    // A full disk or a directory made read-only gets fixed without the store changing: try the
    // same snapshot again, less and less often, until it is installed.
    if (INSTALL_CODES.has(occs.code) && !this.retry && !this.abort.signal.aborted) {
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.coalescer.request();
      }, this.installBackoff.next());
    }
    if (occs.code === 'HAPROXY_EXITED' || (supervisor && !this.started && occs.exitCode === ExitCode.reload)) {
      this.stopRequested({ kind: 'child', status: ExitCode.reload, description: occs.message });
    }
  }
}
