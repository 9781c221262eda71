import type { Server } from 'node:http';
import type { Settings } from '../config/settings.js';
import { asOccsError, ExitCode, withHint } from '../errors.js';
import type { HaproxyControl } from '../haproxy/control.js';
import { describeReload, type ReloadResult } from '../haproxy/reload.js';
import type { KvSnapshot, KvSource } from '../kv/source.js';
import type { Rendering } from '../plan/plan.js';
import { allPrefixes } from '../plan/render.js';
import { skipKind } from '../plan/rules.js';
import { certInfo } from '../tls/certs.js';
import type { CompiledTemplate } from '../template/engine.js';
import { IdleCollector, keepSmall } from '../util/memory.js';
import { HaproxyChild, type ChildParts, type Stop } from './child.js';
import { Coalescer } from './coalescer.js';
import { DriftKeeper } from './drift-keeper.js';
import { releaseHangups } from './early-signals.js';
import { Executor } from './executor.js';
import { HaproxyView, installedPaths } from './haproxy-view.js';
import { RenderingNotes } from './notes.js';
import { checkPatches } from './patch-check.js';
import { Planner } from './planner.js';
import { Reconfigurer } from './reconfigurer.js';
import { observeEndpoints, StoreFollower } from './store-follower.js';
import { StoreHealth } from './store-health.js';
import { syncOnce } from './sync.js';

export interface WatcherParts extends ChildParts {
  source: KvSource;
  templates: ReadonlyMap<string, CompiledTemplate>;
  control: HaproxyControl;
  /** The store as logs name it. */
  store: string;
  status?: Server;
  /** Shown while waiting for the first render (a spinner on a TTY, a log line otherwise). */
  waiting: (text: string) => { stop(): void };
  /** SIGHUP: the settings read again (the config file may have changed), and the store they name opened. */
  reloadSettings?: () => Promise<Readonly<Settings>>;
  openSource: (settings: Readonly<Settings>) => Promise<KvSource>;
}

/**
 * The long-lived loop: store changes update the latest snapshot; the newest is rendered and
 * planned once per step (and once when a batch starts, to tell a cheap change that need not
 * wait); after the quiescence window the executor carries the plan out (one at a time, changes arriving meanwhile
 * coalesced). A failure anywhere leaves the installed config and the running HAProxy as they
 * were; the store is retried forever.
 */
export class Watcher {
  private readonly abort = new AbortController();
  /** Counts the watch's snapshots, so a slower SIGHUP read never replaces a newer one. */
  private generation = 0;
  private readonly coalescer: Coalescer;
  private readonly executor: Executor;
  private readonly notes: RenderingNotes;
  private readonly child: HaproxyChild;
  private readonly health: StoreHealth;
  private readonly follower: StoreFollower;
  private readonly reconfigurer: Reconfigurer;
  private readonly planner: Planner;
  private readonly drift: DriftKeeper;
  private stopRequested!: (stop: Stop) => void;
  private readonly stopped = new Promise<Stop>((resolve) => (this.stopRequested = resolve));
  private spinner?: { stop(): void };
  /** The retry of an install that failed (a full disk, say), while one is due. */
  private retry?: NodeJS.Timeout;
  private readonly view: HaproxyView;
  private readonly memory = new IdleCollector();
  /** Stops the timers started with the watch: the certificates' expiry, the patches' checks. */
  private readonly timers: Array<() => void> = [];

  constructor(private readonly parts: WatcherParts) {
    this.view = new HaproxyView(parts.control, parts.settings.haproxy.config, { installed: () => (parts.state.counters.installs += 1) });
    const { waitMinMs, waitMaxMs } = parts.settings.watch;
    this.coalescer = new Coalescer((forced) => this.sync(forced), { minMs: waitMinMs, maxMs: waitMaxMs }, this.abort.signal);
    this.executor = new Executor({
      settings: parts.settings,
      control: parts.control,
      log: parts.log,
      view: this.view,
      reloaded: (r) => this.reloaded(r),
      filed: () => this.memory.busy(),
      fileFailed: (error) => this.syncFailed(error),
      changesDone: (quietMs, signal) => this.coalescer.settled(quietMs, signal),
    });
    this.notes = new RenderingNotes(parts.log, parts.store);
    this.child = new HaproxyChild(parts);
    this.health = new StoreHealth(parts.state, parts.log);
    this.follower = new StoreFollower(
      {
        snapshot: (snapshot: KvSnapshot) => {
          this.generation += 1;
          this.storeAnswered(snapshot);
        },
        alive: (scope: string) => this.health.alive(scope),
        error: (error: unknown, scope: string) => this.health.failed(error, scope),
      },
      this.abort.signal,
      (source) => observeEndpoints(source, parts.state, parts.log),
    );
    this.reconfigurer = new Reconfigurer(parts, this.follower, this.executor, this.notes, this.health);
    this.planner = new Planner(this.reconfigurer, this.view, parts.state.counters);
    this.drift = new DriftKeeper({ settings: () => this.settings, view: this.view, executor: this.executor, state: parts.state, log: parts.log });
  }

  private get settings(): Readonly<Settings> {
    return this.reconfigurer.settings;
  }

  /** Runs until SIGTERM/SIGINT or HAProxy's exit; returns the exit status. */
  async run(): Promise<number> {
    const { source, log } = this.parts;
    await this.view.init(installedPaths(this.settings), this.settings.tls?.crtList);
    const prefixes = allPrefixes(this.settings.resources);
    const onSignal = (signal: NodeJS.Signals) => (signal === 'SIGHUP' ? void this.reread() : this.stopRequested({ kind: 'signal', signal }));
    const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
    for (const s of signals) process.on(s, onSignal);
    if (releaseHangups()) void this.reread();
    this.spinner = this.parts.waiting(`waiting for the first successful render of ${prefixes.join(', ')} from ${source.description}`);
    await this.follower.follow(source, prefixes);
    keepSmall();
    this.drift.start();
    // A certificate comes near its expiry with nothing changing: looked at every hour.
    const expiry = setInterval(() => this.notes.expiryOf(this.parts.state), 3_600_000).unref();
    this.timers.push(
      () => clearInterval(expiry),
      checkPatches(this.planner, log, () => this.coalescer.request(false, () => this.cheap())),
    );
    log.info(`watching ${prefixes.join(', ')} on ${source.description}`, { prefixes, store: source.description });

    const stop = await this.stopped;
    this.spinner?.stop();
    // Still serving (and still following the store) while endpoints are taken away from it.
    await this.child.delayShutdown(stop, this.settings.watch.shutdownDelayMs);
    for (const s of signals) process.off(s, onSignal);
    this.abort.abort();
    clearTimeout(this.retry);
    this.drift.stop();
    for (const stop of this.timers) stop();
    this.memory.stop();
    await Promise.all([this.follower.stop(), this.coalescer.idle()]);
    await this.executor.settled();
    this.parts.status?.close();
    return this.child.finish(stop);
  }

  /**
   * A new snapshot: kept as the latest, not rendered (a burst of store events must not cost a
   * render each). Whether its batch may skip the quiescence window is asked once per batch.
   */
  private storeAnswered(snapshot: KvSnapshot): void {
    this.planner.take(snapshot);
    this.coalescer.request(false, () => this.cheap());
  }

  /** Nothing to wait for before the first install, nor for a cheap runtime change (the newest snapshot rendered and decided, once). */
  private cheap(): boolean {
    if (!this.view.state.started) return true;
    const latest = this.planner.latest;
    const change = latest && 'rendering' in latest && !this.planner.refusal(latest.rendering) ? this.planner.changeFor(latest.rendering) : undefined;
    return change?.kind === 'runtime' && change.immediate;
  }

  /**
   * SIGHUP: read the config file, the templates and the store again, render and reload even if
   * nothing changed. A change the watch reports while this read is under way is newer: then
   * that one is used, not this read.
   */
  private async reread(): Promise<void> {
    const { state, log } = this.parts;
    state.counters.signals += 1;
    log.info('SIGHUP: re-reading the config file, the templates and the store, re-rendering and reloading');
    await this.reconfigurer.reconfigure();
    const generation = this.generation;
    try {
      const snapshot = await this.follower.source.read(allPrefixes(this.settings.resources), this.abort.signal);
      if (this.generation === generation) this.planner.take(snapshot);
      this.coalescer.request(true);
    } catch (error) {
      log.error(`SIGHUP: cannot read the store (${asOccsError(error).message}); the watch goes on`);
    }
  }

  /** One pass over the latest rendering: plan, carry out; failures are logged and counted, never thrown. */
  private async sync(forced: boolean): Promise<void> {
    const { state } = this.parts;
    const latest = this.planner.latest;
    if (!latest || this.abort.signal.aborted) return;
    state.syncSince = Date.now();
    try {
      if ('failure' in latest) throw latest.failure;
      await this.carryOut(latest.rendering, forced);
    } catch (error) {
      this.syncFailed(error);
    } finally {
      state.syncSince = undefined;
    }
    this.memory.busy();
  }

  private async carryOut(rendering: Rendering, forced: boolean): Promise<void> {
    const { state, control } = this.parts;
    state.skipped = rendering.skipped.map((s) => ({ ...s, kind: skipKind(s, this.settings.stack, this.settings.tls?.certDir) }));
    const parts = { planner: this.planner, executor: this.executor, view: this.view, notes: this.notes, log: this.parts.log };
    const outcome = await syncOnce(parts, rendering, forced).catch(async (error: unknown) => {
      const refused = asOccsError(error);
      const installed = this.view.state.installed.get(this.settings.haproxy.config);
      if (refused.policy.counter === 'refused' && !this.view.state.started) {
        if (await this.child.startOnInstalled(control, installed, refused, (stop) => this.stopRequested(stop))) this.view.startedNow();
      }
      throw error;
    });
    state.backends = rendering.backends;
    const tls = rendering.resources.find((r) => r.tls)?.tls;
    state.certs = tls ? tls.certs.map(certInfo) : [];
    state.certWarnMs = this.settings.tls?.warnMs ?? state.certWarnMs;
    this.notes.expiryOf(state);
    if (outcome.path === 'runtime') state.counters.runtimeUpdates += 1;
    if (outcome.runtimeFallback) state.counters.runtimeFallbacks += 1;
    this.spinner?.stop();
    if (!this.view.state.started && control.supervisor) await this.child.start(control.supervisor, (stop) => this.stopRequested(stop));
    this.view.startedNow();
    state.serving = true;
    state.syncSucceeded();
  }

  private reloaded(result: ReloadResult): void {
    this.parts.state.counters.reloads += 1;
    this.parts.log.info(describeReload(result), { before: result.before, after: result.after, ms: result.ms });
  }

  private syncFailed(error: unknown): void {
    const { state, log, control } = this.parts;
    const occs = asOccsError(error);
    state.counters[occs.policy.counter] += 1;
    state.syncProblem = occs.message;
    log.error(withHint(occs), { code: occs.code, detail: occs.detail });
    // A full disk or a directory made read-only gets fixed without the store changing, and so
    // does an HAProxy that did not answer (stalled, busy): try the same snapshot again, less and
    // less often, until HAProxy has it.
    if (occs.policy.retry && !this.retry && !this.abort.signal.aborted) {
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.coalescer.request();
      }, this.view.retryDelay());
    }
    if (occs.code === 'HAPROXY_EXITED' || (control.supervisor && !this.view.state.started && occs.exitCode === ExitCode.reload)) {
      this.stopRequested({ kind: 'child', status: ExitCode.reload, description: occs.message });
    }
  }
}
