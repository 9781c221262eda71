import { BACKGROUND_NICE, checkConfigFile, type CheckResult } from './check.js';
import { adminSocket, parseSections } from './config-sections.js';
import { showProc } from './master-cli.js';
import { childrenOf } from './process.js';
import { runningFromPidFile } from './reload-pid-file.js';
import { reloadHaproxy, type ReloadResult, type ReloadStrategy } from './reload.js';
import { runtimeChannel, type RuntimeChannel } from './runtime-channel.js';
import type { Supervisor } from './supervisor.js';

/**
 * The one way a command reaches HAProxy, chosen once at start-up: check a file with `haproxy -c`,
 * reload and verify, find the runtime API. One implementation per way HAProxy runs: a child
 * watch supervises (--exec), one reached by its master socket, its pid file or a reload command,
 * or none at all (files are only written). Nothing else decides how to reload.
 */
export interface HaproxyControl {
  /** How HAProxy is reached, for logs. */
  readonly description: string;
  /** The supervised child, when watch runs HAProxy itself (it is started after the first install). */
  readonly supervisor?: Supervisor;
  /** `haproxy -c` of a file; `background`: off the serving path, at a lower priority (BACKGROUND_NICE). */
  check(file: string, background?: boolean): Promise<CheckResult>;
  /** Reloads HAProxy and proves the reload happened (exit 6 otherwise); undefined: there is no HAProxy to reload. */
  reload(): Promise<ReloadResult | undefined>;
  /** The runtime API of the running HAProxy (`installed`: the config it runs, which may name an admin socket). */
  runtime(installed: string | undefined): RuntimeChannel | undefined;
  /** Whether HAProxy runs and has a worker, as cheaply as the way it is reached allows; undefined: this way cannot tell. */
  running(): Promise<boolean | undefined>;
}

/** How long a readiness probe waits on a master socket before HAProxy counts as not answering. */
const RUNNING_PROBE_MS = 1_000;

export interface ControlOptions {
  /** The haproxy executable that checks configs. */
  binary: string;
  /** The config HAProxy runs. */
  config: string;
  reloadTimeoutMs: number;
  /** --exec: the supervised child. */
  supervisor?: Supervisor;
  /** Without --exec: how to reload an HAProxy that runs already (none: only files are written). */
  strategy?: ReloadStrategy;
}

/** Picks the control for the settings: supervised child, a running HAProxy's strategy, or none. */
export function haproxyControl(options: ControlOptions): HaproxyControl {
  const check = (file: string, background = false) => checkConfigFile(options.binary, file, undefined, background ? BACKGROUND_NICE : 0);
  const { supervisor, strategy } = options;
  if (supervisor) {
    return {
      description: `the supervised ${supervisor.commandLine}`,
      supervisor,
      check,
      reload: async () => {
        const started = performance.now();
        const { before, after } = await supervisor.reload(options.reloadTimeoutMs);
        return { strategy: 'supervised', mode: 'master-worker', before, after, ms: Math.round(performance.now() - started) };
      },
      runtime: () => (supervisor.socket ? runtimeChannel('master', supervisor.socket) : undefined),
      // A live master with a live worker: /proc, no socket round trip (the master may be busy reloading).
      running: async () => supervisor.alive && (!supervisor.socket || childrenOf(supervisor.pid!).length > 0),
    };
  }
  if (strategy) {
    let known: { config: string | undefined; channel: RuntimeChannel | undefined } | undefined;
    return {
      description: strategy.kind === 'command' ? 'the reload command' : `HAProxy by its ${strategy.kind}`,
      check,
      reload: () => reloadHaproxy(strategy, { binary: options.binary, config: options.config, timeoutMs: options.reloadTimeoutMs }),
      runtime: (installed) => {
        if (strategy.kind === 'master-socket') return runtimeChannel('master', strategy.socket);
        // Asked on every change: the socket is looked up once per installed config, not per call.
        if (!known || installed !== known.config) {
          const admin = installed === undefined ? undefined : adminSocket(parseSections(installed));
          known = { config: installed, channel: admin ? runtimeChannel('admin', admin) : undefined };
        }
        return known.channel;
      },
      running: () => strategyRunning(strategy, options.binary),
    };
  }
  return { description: 'no HAProxy (files only)', check, reload: async () => undefined, runtime: () => undefined, running: async () => undefined };
}

/**
 * An HAProxy run elsewhere: its master answers `show proc` with a worker, or its pid file names a
 * live HAProxy (not whatever process got a pid it once had).
 */
async function strategyRunning(strategy: ReloadStrategy, binary: string): Promise<boolean | undefined> {
  try {
    if (strategy.kind === 'master-socket') return (await showProc(strategy.socket, RUNNING_PROBE_MS)).workers.length > 0;
    if (strategy.kind === 'pid-file') return (await runningFromPidFile(strategy.pidFile, binary)).length > 0;
  } catch {
    return false;
  }
  return undefined; // a reload command says nothing of what runs
}
