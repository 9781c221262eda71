import type { Settings } from '../config/settings.js';
import { NO_ROUTE_BACKEND } from '../config/stack-settings.js';
import { ExitCode, type OccsError } from '../errors.js';
import { countServers } from '../haproxy/config-sections.js';
import type { HaproxyControl } from '../haproxy/control.js';
import { haproxyLineLevel } from '../haproxy/messages.js';
import type { ChildExit, Supervisor } from '../haproxy/supervisor.js';
import type { Logger } from '../log.js';
import { maskEcho } from '../util/redact.js';
import type { WatchState } from './state.js';
import { StateLines } from './state-lines.js';
import type { WatchRecord } from './watch-record.js';

/** Why watch stops: a signal, or HAProxy exiting on its own. */
export type Stop = { kind: 'signal'; signal: NodeJS.Signals } | { kind: 'child'; status: number; description: string };

export interface ChildParts {
  settings: Readonly<Settings>;
  supervisor?: Supervisor;
  state: WatchState;
  log: Logger;
  /** The record beside the config of which watch runs which HAProxy. */
  record?: WatchRecord;
  /** The environment children get (none of our secrets). */
  childEnv: NodeJS.ProcessEnv;
}

/**
 * The HAProxy watch runs itself (--exec), from its start after the first install to its stop,
 * with the record that lets a later watch clean up after a killed one.
 */
export class HaproxyChild {
  /** The stop of HAProxy processes an earlier watch left, while under way. */
  private leftovers?: Promise<void>;
  /** HAProxy's lines as logged (JSON logs only), its state lines a few at a time. */
  private lines?: StateLines;

  constructor(private readonly parts: ChildParts) {}

  /** Starts the supervised HAProxy; `exited` learns when it exits on its own. */
  async start(supervisor: Supervisor, exited: (stop: Stop) => void): Promise<void> {
    const { state, log, settings, record } = this.parts;
    // Recorded as soon as it has a pid: a watch killed from then on leaves a record of it.
    // With JSON logs every line on stderr is JSON: HAProxy's own lines are wrapped, at their level.
    const lines = log.format === 'json' ? stateLines(log) : undefined;
    this.lines = lines;
    const output = lines && ((line: string) => lines.take(line));
    await supervisor.start(settings.haproxy.reloadTimeoutMs, this.parts.childEnv, async (pid) => record?.save(pid), output);
    state.childAlive = true;
    log.info(`started haproxy (pid ${supervisor.pid}): ${supervisor.commandLine}`, { pid: supervisor.pid });
    // Ours serves now: what an earlier, killed watch left running goes (in the background).
    if (record) this.leftovers = record.stopLeftovers(settings.watch.stopTimeoutMs, supervisor.pid);
    void supervisor.exited.then((exit: ChildExit) => {
      state.childAlive = false;
      exited({ kind: 'child', ...exit });
    });
  }

  /**
   * The store's first answer was refused or held (`why`), and an earlier run left a config
   * installed (a container restarted, its emptyDir kept): HAProxy starts on that file, once
   * `haproxy -c` passes it, rather than not at all, which would take this instance out of
   * service over an answer watch refuses. Returns whether HAProxy started.
   */
  async startOnInstalled(control: HaproxyControl, installed: string | undefined, why: OccsError, exited: (stop: Stop) => void): Promise<boolean> {
    const { supervisor } = control;
    const { settings, state, log } = this.parts;
    if (!supervisor || installed === undefined || !(await control.check(settings.haproxy.config)).valid) return false;
    log.warn(
      `starting haproxy on the config an earlier run installed (${settings.haproxy.config}, checked with haproxy -c): the store's first answer is refused (${why.code})`,
    );
    await this.start(supervisor, exited);
    state.serving = true;
    state.backends = countServers(installed);
    if (settings.stack) delete state.backends[NO_ROUTE_BACKEND]; // it answers 404 by design
    return true;
  }

  /**
   * `--shutdown-delay` after SIGTERM: HAProxy goes on serving, and /readyz answers 503, so that a
   * load balancer or Kubernetes takes this instance out before its listeners close. Another
   * SIGTERM or SIGINT, or HAProxy's exit, ends the wait at once.
   */
  async delayShutdown(stop: Stop, delayMs: number): Promise<void> {
    const { state, log, supervisor } = this.parts;
    // Nothing serves yet: no endpoint to take out first.
    if (stop.kind !== 'signal' || stop.signal !== 'SIGTERM' || delayMs <= 0 || !state.serving) return;
    state.shuttingDownSince = Date.now();
    log.info(`SIGTERM: serving ${delayMs / 1000} s more before stopping (--shutdown-delay); /readyz answers 503 meanwhile`, { ms: delayMs });
    let cut!: () => void;
    const again = new Promise<void>((resolve) => (cut = resolve));
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, cut);
    const timer = setTimeout(cut, delayMs);
    await Promise.race([again, supervisor?.exited ?? again]);
    clearTimeout(timer);
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.removeListener(signal, cut);
  }

  /** Stops HAProxy as `stop` asks and returns the status watch exits with; the record goes. */
  async finish(stop: Stop): Promise<number> {
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
    this.lines?.flush();
    log.info(`haproxy stopped (${exit.description})`, { status: exit.status });
    return exit.status;
  }
}

/**
 * One line HAProxy printed, logged at the level it says (its ordinary reload and stop lines at
 * info), source haproxy; masked as an echo, since HAProxy may quote its config and the secrets in it.
 */
function haproxyLine(log: Logger, line: string): void {
  if (!line.trim()) return;
  log[haproxyLineLevel(line)](maskEcho(line), { source: 'haproxy' });
}

/** HAProxy's lines logged, its server state lines a few a second (state-lines.ts). */
const stateLines = (log: Logger) =>
  new StateLines(
    (line) => haproxyLine(log, line),
    (message, fields, down) => log[down ? 'warn' : 'info'](message, fields),
  );
