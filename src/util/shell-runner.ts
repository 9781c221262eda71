import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { RunResult } from './run-result.js';

/**
 * Each job line is run by the shell as a job of its own (its pid told first, its exit status
 * after), its output into one file. `exec` makes the job's pid the command's own, and `setsid`
 * (util-linux, in every Debian) its process group's, so a timeout kills the command and what it
 * started (a `--haproxy` wrapper's haproxy). The job is no group leader, so setsid does not fork.
 * When its input closes (watch ended, even by kill -9) the shell finishes the job under way, then
 * removes its directory ($1) and exits; a closed pipe to watch does not kill it before that
 * (the job itself runs with SIGPIPE as usual).
 */
const SCRIPT = `trap '' PIPE
S=; command -v setsid >/dev/null 2>&1 && S=setsid
while IFS= read -r job; do
  (trap - PIPE; eval "exec $S $job") </dev/null >"$1/output" 2>&1 &
  echo "started $!"
  wait "$!"
  echo "exited $?"
done
rm -rf "$1"`;

/** A word as the shell reads it back: in single quotes, a quote written as '\\''. */
const quoted = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

/**
 * Runs short commands, one at a time, through one long-lived `/bin/sh` at a lower priority. A
 * child process costs Node a fork of its whole process (measured in watch at 10,000 servers:
 * 7–15 ms of CPU per `haproxy -c`); the shell is small, so a job costs watch a line on a pipe.
 * The shell exits when its input closes (watch ends, even by kill -9). A job the shell cannot
 * run (it died, it could not start) rejects: the caller then spawns the command itself.
 */
export class ShellRunner {
  private shell?: Promise<Shell>;
  private queue: Promise<unknown> = Promise.resolve();
  /** Counts the shells started. */
  private made = 0;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly nice: number,
  ) {}

  /** Runs `file args` to its end (or kills it after `timeoutMs`), after the jobs before it. */
  run(file: string, args: readonly string[], timeoutMs: number): Promise<RunResult> {
    // A job is one line: a word with a line break (a path may hold one) is spawned by the caller.
    if ([file, ...args].some((word) => /[\n\0]/.test(word))) return Promise.reject(new Error('a word of the command holds a line break'));
    const job = this.queue.then(() => this.runNow(file, args, timeoutMs));
    this.queue = job.catch(() => undefined);
    return job;
  }

  /** Ends the shell (it finishes a job under way on its own). */
  async close(): Promise<void> {
    const shell = await this.shell?.catch(() => undefined);
    this.shell = undefined;
    shell?.child.stdin.end();
    if (shell) await rm(shell.dir, { recursive: true, force: true });
  }

  private async runNow(file: string, args: readonly string[], timeoutMs: number): Promise<RunResult> {
    const shell = (this.shell ??= this.start());
    const { child, dir, lines } = await shell;
    const next = async (prefix: string): Promise<number> => {
      const { value, done } = await lines.next();
      if (done || typeof value !== 'string' || !value.startsWith(prefix)) {
        this.shell = undefined;
        child.kill('SIGKILL');
        throw new Error(`the shell that runs background commands ${done ? 'exited' : `said ${JSON.stringify(value)}`}`);
      }
      return Number(value.slice(prefix.length));
    };
    let pid: number | undefined;
    let timedOut = false;
    // A timer that is referenced: the process lives for the job (the shell's pipes do not hold it).
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid === undefined) child.kill('SIGKILL');
      else killJob(pid);
    }, timeoutMs);
    try {
      child.stdin.write(`${[file, ...args].map(quoted).join(' ')}\n`);
      pid = await next('started ');
      const status = await next('exited ').catch((error: unknown) => {
        // The shell died under it: the job dies too, as a spawned one would with its group.
        killJob(pid!);
        throw error;
      });
      // A few bytes the job just wrote to a local temp dir: read at once, not through the thread pool (four round trips).
      const output = readFileSync(join(dir, 'output'), 'utf8');
      // The command could not be run at all (not found, not executable): the caller spawns it, for that error.
      if ((status === 126 || status === 127) && /\bexec: |^setsid: failed to execute /m.test(output)) throw new Error(`the shell could not run ${file}`);
      // The shell says 128 + N for a job ended by signal N.
      if (status > 128) return { signal: status - 128 === 9 ? 'SIGKILL' : `signal ${status - 128}`, timedOut, output };
      return { exitCode: status, timedOut, output };
    } finally {
      clearTimeout(timer);
    }
  }

  private async start(): Promise<Shell> {
    const dir = await mkdtemp(join(tmpdir(), 'occs-lb-run-'));
    const child = spawn('/bin/sh', ['-c', SCRIPT, 'occs-lb-runner', dir], { env: this.env, stdio: ['pipe', 'pipe', 'ignore'] });
    // Never what keeps watch's process alive.
    child.unref();
    for (const stream of [child.stdin, child.stdout] as unknown as Array<{ unref?: () => void }>) stream.unref?.();
    // A shell that ends forgets itself (not a newer one), and its directory goes with it.
    const made = ++this.made;
    const gone = () => {
      if (this.made === made) this.shell = undefined;
      process.removeListener('exit', gone);
      rmSync(dir, { recursive: true, force: true });
    };
    child.on('error', gone);
    child.on('exit', gone);
    child.stdin.on('error', gone);
    try {
      if (child.pid !== undefined) setPriority(child.pid, this.nice);
    } catch {
      // Not ours to change: the jobs run at our priority.
    }
    // The output file goes with the process, however it ends but kill -9.
    process.once('exit', gone);
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity })[Symbol.asyncIterator]();
    return { child, dir, lines };
  }
}

/** Kills a job's process group (setsid made one), or the job alone where there is none. */
function killJob(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
      return;
    } catch {
      // No such group (no setsid), or ended meanwhile.
    }
  }
}

interface Shell {
  child: ChildProcessByStdio<Writable, Readable, null>;
  dir: string;
  lines: AsyncIterator<string, unknown>;
}
