import type { Server } from 'node:http';
import { asOccsError, ExitCode, INSTALL_CODES, withHint } from '../errors.js';
import type { HaproxyControl } from '../haproxy/control.js';
import { describeReload, type ReloadResult } from '../haproxy/reload.js';
import type { KvSnapshot, KvSource } from '../kv/source.js';
import { decideChange, refusalOf, renderSnapshot, type Change, type Rendering } from '../plan/plan.js';
import { allPrefixes } from '../plan/render.js';
import type { CompiledTemplate } from '../template/engine.js';
import { Backoff } from '../util/backoff.js';
import { IdleCollector, keepSmall } from '../util/memory.js';
import { HaproxyChild, type ChildParts, type Stop } from './child.js';
import { Coalescer } from './coalescer.js';
import { Executor } from './executor.js';
import { RenderingNotes } from './notes.js';
import { failureCounter } from './state.js';
import { StoreHealth } from './store-health.js';

/** Reload failures where HAProxy did not answer in time, not a config it refused: worth trying again. */
const TRANSIENT_RELOAD_CODES: ReadonlySet<string> = new Set(['MASTER_SOCKET', 'RELOAD_TIMEOUT', 'HAPROXY_NOT_RUNNING']);

export interface WatcherParts extends ChildParts {
  source: KvSource;
  templates: ReadonlyMap<string, CompiledTemplate>;
  control: HaproxyControl;
  /** The store as logs name it. */
  store: string;
  status?: Server;
  /** Shown while waiting for the first render (a spinner on a TTY, a log line otherwise). */
  waiting: (text: string) => { stop(): void };
}

/** The latest snapshot, rendered once (or the failure its rendering was). */
type Latest = { snapshot: KvSnapshot; rendering: Rendering } | { snapshot: KvSnapshot; failure: unknown };

/**
 * The long-lived loop: each store change is rendered once and planned; after the quiescence
 * window the executor carries the plan out (one at a time, changes arriving meanwhile
 * coalesced). A failure anywhere leaves the installed config and the running HAProxy as they
 * were; the store is retried forever.
 */
export class Watcher {
  private readonly abort = new AbortController();
  private latest?: Latest;
  /** The last plan made, and what it was made from (see changeFor). */
  private planned?: { inputs: unknown[]; change: Change };
  /** Counts the watch's snapshots, so a slower SIGHUP read never replaces a newer one. */
  private generation = 0;
  private started: boolean;
  private readonly coalescer: Coalescer;
  private readonly executor: Executor;
  private readonly notes: RenderingNotes;
  private readonly child: HaproxyChild;
  private readonly health: StoreHealth;
  private stopRequested!: (stop: Stop) => void;
  private readonly stopped = new Promise<Stop>((resolve) => (this.stopRequested = resolve));
  private spinner?: { stop(): void };
  /** The retry of an install that failed (a full disk, say), while one is due. */
  private retry?: NodeJS.Timeout;
  private readonly installBackoff = new Backoff(1000, 30_000);
  /**
   * An install failed (a full disk, say) and has not succeeded since: the next changes install
   * first and then reload, so HAProxy never takes through its runtime API a change that would be
   * undone again when its file fails.
   */
  private installFailing = false;
  private readonly memory = new IdleCollector();

  constructor(private readonly parts: WatcherParts) {
    this.started = !parts.control.supervisor;
    const { waitMinMs, waitMaxMs } = parts.settings.watch;
    this.coalescer = new Coalescer((forced) => this.sync(forced), { minMs: waitMinMs, maxMs: waitMaxMs }, this.abort.signal);
    this.executor = new Executor({
      settings: parts.settings,
      control: parts.control,
      log: parts.log,
      reloaded: (r) => this.reloaded(r),
      filed: () => {
        parts.state.counters.installs += 1;
        this.installBackoff.reset();
        this.memory.busy();
      },
      fileFailed: (error) => this.syncFailed(error),
    });
    this.notes = new RenderingNotes(parts.log, parts.store);
    this.child = new HaproxyChild(parts);
    this.health = new StoreHealth(parts.state, parts.log);
  }

  /** Runs until SIGTERM/SIGINT or HAProxy's exit; returns the exit status. */
  async run(): Promise<number> {
    const { settings, source, log } = this.parts;
    await this.executor.init();
    const prefixes = allPrefixes(settings.resources);
    const onSignal = (signal: NodeJS.Signals) => (signal === 'SIGHUP' ? void this.reread() : this.stopRequested({ kind: 'signal', signal }));
    const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
    for (const s of signals) process.on(s, onSignal);
    this.spinner = this.parts.waiting(`waiting for the first successful render of ${prefixes.join(', ')} from ${source.description}`);
    const listener = {
      snapshot: (snapshot: KvSnapshot) => {
        this.generation += 1;
        this.storeAnswered(snapshot);
      },
      alive: (scope: string) => this.health.alive(scope),
      error: (error: unknown, scope: string) => this.health.failed(error, scope),
    };
    const watching = source.watch(prefixes, listener, this.abort.signal);
    keepSmall();
    log.info(`watching ${prefixes.join(', ')} on ${source.description}`, { prefixes, store: source.description });

    const stop = await this.stopped;
    this.spinner?.stop();
    for (const s of signals) process.off(s, onSignal);
    this.abort.abort();
    clearTimeout(this.retry);
    this.memory.stop();
    await Promise.all([watching, this.coalescer.idle()]);
    await this.executor.settled();
    await source.close();
    this.parts.status?.close();
    return this.child.finish(stop);
  }

  /** A new snapshot: rendered now, once; nothing to wait for before the first install, nor for a cheap runtime change. */
  private storeAnswered(snapshot: KvSnapshot): void {
    this.latest = this.render(snapshot);
    const latest = this.latest;
    const immediate = 'rendering' in latest && !refusalOf(latest.rendering) && this.changeFor(latest.rendering, false);
    this.coalescer.request(false, !this.started || (immediate !== false && immediate.kind === 'runtime' && immediate.immediate));
  }

  private render(snapshot: KvSnapshot): Latest {
    this.parts.state.counters.renders += 1;
    try {
      return { snapshot, rendering: renderSnapshot(this.parts.settings, this.parts.templates, snapshot) };
    } catch (failure) {
      return { snapshot, failure }; // the sync reports it
    }
  }

  /**
   * What a rendering asks of HAProxy now, against what is installed. The answer is kept: a
   * snapshot is planned when it arrives (is it cheap enough to act on at once?) and again when
   * acted on, and planning compares whole configs.
   */
  private changeFor(rendering: Rendering, forced: boolean): Change {
    const { settings } = this.parts;
    const force = this.started ? (forced ? 'a reload was asked for (SIGHUP)' : this.executor.mustReload) : undefined;
    const runtime = settings.watch.runtimeApi && this.started && !this.installFailing && this.executor.runtimeChannel() !== undefined;
    const installed = this.executor.installedTexts;
    const inputs = [rendering, force, runtime, ...installed.keys(), ...installed.values()];
    const last = this.planned;
    if (last && last.inputs.length === inputs.length && last.inputs.every((x, i) => x === inputs[i])) return last.change;
    const change = decideChange(settings, rendering, installed, { force, runtime });
    this.planned = { inputs, change };
    return change;
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
      if (this.generation === generation) this.latest = this.render(snapshot);
      this.coalescer.request(true);
    } catch (error) {
      log.error(`SIGHUP: cannot read the store (${asOccsError(error).message}); the watch goes on`);
    }
  }

  /** One pass over the latest rendering: plan, carry out; failures are logged and counted, never thrown. */
  private async sync(forced: boolean): Promise<void> {
    const { state, control } = this.parts;
    const latest = this.latest;
    if (!latest || this.abort.signal.aborted) return;
    try {
      if ('failure' in latest) throw latest.failure;
      const rendering = latest.rendering;
      this.notes.entriesOf(rendering);
      const refusal = refusalOf(rendering);
      if (refusal) throw refusal;
      const outcome = await this.executor.execute(this.changeFor(rendering, forced), this.started, rendering.backends);
      state.backends = rendering.backends;
      this.notes.emptinessOf(rendering);
      state.counters.installs += outcome.installed.length > 0 ? 1 : 0;
      if (outcome.path === 'runtime') state.counters.runtimeUpdates += 1;
      if (outcome.runtimeFallback) state.counters.runtimeFallbacks += 1;
      this.spinner?.stop();
      if (!this.started && control.supervisor) await this.child.start(control.supervisor, (stop) => this.stopRequested(stop));
      this.started = true;
      if (outcome.path !== 'runtime') {
        // A runtime change's file is still to be installed: its success is told by `filed`.
        this.installBackoff.reset();
        this.installFailing = false;
      }
      state.syncSucceeded();
    } catch (error) {
      this.syncFailed(error);
    }
    this.memory.busy();
  }

  private reloaded(result: ReloadResult): void {
    this.parts.state.counters.reloads += 1;
    this.parts.log.info(describeReload(result), { before: result.before, after: result.after, ms: result.ms });
  }

  private syncFailed(error: unknown): void {
    const { state, log, control } = this.parts;
    const occs = asOccsError(error);
    state.counters[failureCounter(occs)] += 1;
    state.syncProblem = occs.message;
    log.error(withHint(occs), { code: occs.code, detail: occs.detail });
    // A full disk or a directory made read-only gets fixed without the store changing, and so
    // does an HAProxy that did not answer (stalled, busy): try the same snapshot again, less and
    // less often, until HAProxy has it.
    if (INSTALL_CODES.has(occs.code)) this.installFailing = true;
    if ((INSTALL_CODES.has(occs.code) || TRANSIENT_RELOAD_CODES.has(occs.code)) && !this.retry && !this.abort.signal.aborted) {
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.coalescer.request();
      }, this.installBackoff.next());
    }
    if (occs.code === 'HAPROXY_EXITED' || (control.supervisor && !this.started && occs.exitCode === ExitCode.reload)) {
      this.stopRequested({ kind: 'child', status: ExitCode.reload, description: occs.message });
    }
  }
}
