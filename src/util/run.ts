import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import type { RunResult } from './run-result.js';
import { ShellRunner } from './shell-runner.js';

/**
 * The variables that hold occs-lb's secrets, or name the files that do. No child gets them:
 * HAProxy's master CLI shows its environment (`show env`), and /proc/PID/environ keeps it.
 */
export const SECRET_VARIABLES = [
  'OCCS_API_TOKEN',
  'OCCS_API_TOKEN_FILE',
  'KV_PASSWORD',
  'KV_PASSWORD_FILE',
  'OCCS_LB_STATS_PASSWORD',
  'OCCS_LB_STATS_PASSWORD_FILE',
  'OCCS_LB_TOKEN',
  'OCCS_LB_TOKEN_FILE',
  'OCCS_LB_KV_PASSWORD',
  'OCCS_LB_KV_PASSWORD_FILE',
];

/** `env` without our secrets: the environment every child process is given. */
export function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of SECRET_VARIABLES) delete copy[name];
  return copy;
}

export type { RunResult } from './run-result.js';

/**
 * Runs a short command to completion (`haproxy -c`, `haproxy -v`, a reload command) and
 * collects its output. node:child_process, not execa: loading execa costs a one-shot command
 * ~130 ms, and these runs need none of its features. Never rejects for a non-zero exit.
 *
 * The command gets its own process group, so the timeout kills everything it started; and the
 * result comes when the command itself exits, even if something it left in the background
 * (`haproxy -D`, `cmd &`) still holds its output open.
 */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { timeoutMs: number; shell?: boolean; cwd?: string; /** A niceness to run at (0: as we do; 19: only on a CPU nothing else wants). */ nice?: number },
): Promise<RunResult> {
  // Off the serving path (a niceness): through the long-lived shell, which costs no fork of watch; spawned if it cannot.
  if (options.nice && !options.shell && options.cwd === undefined) {
    runners.set(options.nice, runners.get(options.nice) ?? new ShellRunner(childEnv(process.env), options.nice));
    return runners
      .get(options.nice)!
      .run(file, args, options.timeoutMs)
      .catch(() => spawnCommand(file, args, options));
  }
  return spawnCommand(file, args, options);
}

/** The shells that run commands at a niceness, by niceness. */
const runners = new Map<number, ShellRunner>();

function spawnCommand(file: string, args: readonly string[], options: Parameters<typeof runCommand>[2]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { shell: options.shell, cwd: options.cwd, env: childEnv(process.env), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    if (options.nice && child.pid !== undefined) {
      try {
        setPriority(child.pid, options.nice);
      } catch {
        // Gone already, or not ours to change: it runs at our priority.
      }
    }
    let output = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // Let output already in the pipes arrive, then stop listening to whatever stays behind.
      setImmediate(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ exitCode: code ?? undefined, signal: signal ?? undefined, timedOut, output });
      });
    });
  });
}
