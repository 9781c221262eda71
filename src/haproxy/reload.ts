import { reloadError } from '../errors.js';
import { pollUntil } from '../util/poll.js';
import { maskEcho } from '../util/redact.js';
import { runCommand } from '../util/run.js';
import { masterCommand, MasterSocketError } from './master-cli.js';
import { reloadViaMasterSocket, unreachable } from './reload-master.js';
import { reloadViaPidFile } from './reload-pid-file.js';

/** How to reach an HAProxy that runs already (the reload strategies of docs/watch.md). */
export type ReloadStrategy = { kind: 'master-socket'; socket: string } | { kind: 'pid-file'; pidFile: string } | { kind: 'command'; command: string };

export interface ReloadResult {
  /** How it was reloaded: a strategy, or SIGUSR2 to the child watch supervises. */
  strategy: ReloadStrategy['kind'] | 'supervised';
  mode?: 'master-worker' | 'classic';
  /** Worker (or classic process) pids before and after; empty for a reload command. */
  before: number[];
  after: number[];
  ms: number;
}

export interface ReloadOptions {
  /** The located haproxy binary (needed by classic pid-file reloads). */
  binary?: string;
  /** The installed config file. */
  config: string;
  timeoutMs: number;
}

/** Reloads the running HAProxy and proves it happened; every failure is exit 6 saying which. */
export async function reloadHaproxy(strategy: ReloadStrategy, options: ReloadOptions): Promise<ReloadResult> {
  const started = performance.now();
  const done = (r: Omit<ReloadResult, 'ms' | 'strategy'>): ReloadResult => ({
    strategy: strategy.kind,
    ...r,
    ms: Math.round(performance.now() - started),
  });
  switch (strategy.kind) {
    case 'master-socket': {
      const trigger = async () => {
        let refusal: unknown;
        const sent = await pollUntil(async () => {
          try {
            await masterCommand(strategy.socket, 'reload', 2000);
          } catch (error) {
            // Refused: the master is away (re-executing); try again. Anything else happened after
            // the command went out (the master drops connections while it re-executes): sent.
            const away = error instanceof MasterSocketError && (error.reason === 'absent' || error.reason === 'refused');
            if (away) return ((refusal = error), undefined);
          }
          return true;
        }, Date.now() + 2000);
        if (!sent) throw unreachable(strategy.socket, refusal);
      };
      return done({ mode: 'master-worker', ...(await reloadViaMasterSocket(strategy.socket, trigger, options.timeoutMs)) });
    }
    case 'pid-file':
      return done(await reloadViaPidFile(strategy.pidFile, options));
    case 'command':
      await runReloadCommand(strategy.command, options.timeoutMs);
      return done({ before: [], after: [] });
  }
}

/** confd's reload_cmd: any shell command; its exit status and stderr are the verdict. */
async function runReloadCommand(command: string, timeoutMs: number): Promise<void> {
  const result = await runCommand(command, [], { shell: true, timeoutMs });
  if (result.exitCode === 0) return;
  // The command may print the config it reloads, secrets and all.
  const output = maskEcho(result.output.trim().split('\n').slice(-3).join(' | '));
  const status = result.timedOut ? `did not finish within ${timeoutMs}ms` : `exited ${result.exitCode ?? result.signal}`;
  throw reloadError('RELOAD_COMMAND_FAILED', `reload command ${JSON.stringify(command)} ${status}${output ? `: ${output}` : ''}`, {
    hint: 'run the command by hand to see why',
  });
}

/** `reloaded: worker 1234 → 1240 (112 ms)`: the one line `occs-lb reload` prints. */
export function describeReload(result: ReloadResult): string {
  if (result.strategy === 'command') return `reloaded: reload command succeeded (${result.ms} ms)`;
  const noun = result.mode === 'classic' ? 'process' : 'worker';
  return `reloaded: ${noun} ${result.before.join(',') || '(none)'} → ${result.after.join(',')} (${result.ms} ms)`;
}
