import { readFile } from 'node:fs/promises';
import type { Settings } from '../config/settings.js';
import { systemErrorCode, type OccsError } from '../errors.js';
import type { HaproxyControl } from '../haproxy/control.js';
import type { RuntimeChannel } from '../haproxy/runtime-channel.js';
import { ServerIds } from '../haproxy/server-ids.js';
import type { HaproxyState, Outcome } from '../plan/plan.js';
import type { RenderedResource } from '../plan/render.js';
import { Backoff } from '../util/backoff.js';
import { crtListFiles } from '../tls/certs.js';

/** Every file watch installs whose name the settings give: each resource's destination, stack mode's map files, HTTPS's crt-list and maps (its bundles are the crt-list's). */
export function installedPaths(settings: Readonly<Settings>): string[] {
  const maps = settings.stack ? [settings.stack.maps.hosts, settings.stack.maps.paths] : [];
  const tls = settings.tls ? [settings.tls.crtList, settings.tls.maps.policy, settings.tls.maps.hsts] : [];
  return [...settings.resources.map((r) => r.destination!), ...maps, ...tls];
}

export interface ViewOptions {
  /** Told of every install (counted for metrics). */
  installed?: (paths: readonly string[]) => void;
  /** Whether HAProxy runs already; by default it does unless watch is to start it (--exec). */
  started?: boolean;
}

/**
 * The one owner of what HAProxy runs: the files installed, the change HAProxy took through its
 * runtime API while its file is still being installed, whether HAProxy may run something else
 * than the files say and why, whether it runs at all yet, failing installs and their backoff,
 * and the ids of the servers added at runtime. Everything else reads it as one versioned
 * snapshot (`state`) and tells it what happened; nothing else keeps a copy.
 */
export class HaproxyView {
  private readonly disk = new Map<string, string | undefined>();
  /** The config HAProxy runs, while its file is still being installed in the background. */
  private ahead?: RenderedResource;
  private apartWhy?: string;
  private started: boolean;
  private installFailing = false;
  private epoch = 0;
  private version = 0;
  private snapshot?: HaproxyState;
  private running?: () => void;
  /** The backoff of retries of a failed install or of an HAProxy that did not answer. */
  private readonly backoff = new Backoff(1000, 30_000);
  /** Ids for servers added at runtime; a reload renumbers every server. */
  readonly ids = new ServerIds();

  constructor(
    private readonly control: HaproxyControl,
    private readonly config: string,
    private readonly hooks: ViewOptions = {},
  ) {
    // Without a supervised child, HAProxy runs already (or there is none): it may be reloaded at once.
    this.started = hooks.started ?? !control.supervisor;
  }

  /** Reads what is installed now (undefined: no file), and the bundles a crt-list among them names. */
  async init(paths: readonly string[], crtList?: string): Promise<void> {
    const read = (path: string) =>
      readFile(path, 'utf8').catch((error: unknown) => {
        if (systemErrorCode(error) === 'ENOENT') return undefined;
        throw error;
      });
    for (const path of paths) this.disk.set(path, await read(path));
    const list = crtList === undefined ? undefined : this.disk.get(crtList);
    for (const path of list === undefined ? [] : crtListFiles(list)) this.disk.set(path, await read(path));
    this.changed();
    // An HAProxy watch does not start runs the installed config already: what waits on that (the runtime API's warm-up) goes now.
    if (!this.control.supervisor && this.started && this.disk.get(this.config) !== undefined) this.running?.();
  }

  /** What HAProxy runs and may be asked, as one snapshot (the same object until something changes). */
  get state(): HaproxyState {
    this.snapshot ??= this.take();
    return this.snapshot;
  }

  /** What is on disk at each destination (a runtime change's file may not be there yet). */
  get onDisk(): ReadonlyMap<string, string | undefined> {
    return this.disk;
  }

  /** The runtime API of the HAProxy that runs the installed config, if it offers one. */
  get channel(): RuntimeChannel | undefined {
    return this.state.channel;
  }

  /**
   * Files written (an install, or the previous files put back after a failed reload). An install
   * ends failing installs; the backoff starts over only when a change is done (`record`, or the
   * file of a runtime change followed): a reload that keeps failing installs its files every time.
   */
  filesInstalled(files: ReadonlyArray<{ path: string; content: string }>, restored = false): void {
    for (const f of files) this.disk.set(f.path, f.content);
    // HAProxy's runtime change is on disk once every file of it is: its config alone may be the same as an older change's (stack routes).
    const ahead = this.ahead;
    if (ahead && this.disk.get(ahead.resource.destination!) === ahead.text && (ahead.companions ?? []).every((c) => this.disk.get(c.path) === c.text)) {
      this.ahead = undefined;
      this.backoff.reset();
    }
    if (!restored && files.length > 0) {
      this.installFailing = false;
      this.hooks.installed?.(files.map((f) => f.path));
    }
    this.changed();
  }

  /** HAProxy took a change through its runtime API; its file follows. */
  runsAhead(file: RenderedResource): void {
    this.ahead = file;
    this.changed();
  }

  /** HAProxy may run something else than the files say (the next change reloads): why. */
  apart(why: string): void {
    this.apartWhy ??= why;
    this.ahead = undefined;
    this.changed();
  }

  /** HAProxy was reloaded with the installed files: the two agree, and every server is renumbered. */
  reloaded(): void {
    this.apartWhy = undefined;
    this.ahead = undefined;
    this.epoch += 1;
    this.ids.forget();
    this.changed();
    this.running?.();
  }

  /** The supervised HAProxy was started on the installed files. */
  startedNow(): void {
    if (this.started) return;
    this.started = true;
    this.changed();
    this.running?.();
  }

  /** Told whenever HAProxy starts to run a config: started, reloaded (a new worker), or found running (not supervised) once the installed files are read. */
  whenRunning(hook: () => void): void {
    this.running = hook;
  }

  /**
   * A sync ended. Its outcome: nothing else to do (a runtime change's file follows and tells of
   * itself). Its error: what the error table says of its code (errors.ts) — a failed install
   * holds the runtime API back until an install succeeds; an error that may leave HAProxy and
   * the files apart makes the next change reload.
   */
  record(result: Outcome | OccsError): void {
    if ('path' in result) {
      if (result.path === 'runtime') return;
      this.backoff.reset();
      if (!this.installFailing) return; // nothing a decision reads changed: the snapshot stays
      this.installFailing = false;
      this.changed();
      return;
    }
    if (result.policy.counter === 'installFailures') this.installFailing = true;
    if (result.policy.apart) this.apartWhy ??= result.message.split(';')[0];
    this.changed();
  }

  /** The delay before the next retry of a failed install or reload; each call lengthens the next. */
  retryDelay(): number {
    return this.backoff.next();
  }

  private changed(): void {
    this.version += 1;
    this.snapshot = undefined;
  }

  private take(): HaproxyState {
    const installed: Map<string, string | undefined> = new Map(this.disk);
    if (this.ahead) {
      for (const c of this.ahead.companions ?? []) installed.set(c.path, c.text);
      installed.set(this.ahead.resource.destination!, this.ahead.text);
    }
    const channel = this.control.runtime(installed.get(this.config));
    return { version: this.version, installed, apart: this.apartWhy, started: this.started, installFailing: this.installFailing, epoch: this.epoch, channel };
  }
}
