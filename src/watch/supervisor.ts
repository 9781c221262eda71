import { mkdtemp, rm } from 'node:fs/promises';
import { constants } from 'node:os';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { ResultPromise } from 'execa';
import { reloadError, usageError } from '../errors.js';
import { waitForMaster } from '../haproxy/reload-master.js';
import { reloadMasterWorker } from '../haproxy/reload-pid-file.js';
import { pollUntil } from '../util/poll.js';
import { childPids } from '../haproxy/process.js';

export interface ChildExit {
  /** The status watch exits with: the exit code, or 128 + the signal's number. */
  status: number;
  description: string;
}

/**
 * Runs HAProxy (`--exec`) as a child in master-worker mode and reloads it with SIGUSR2. When the
 * command starts haproxy without a master socket, one is added (`-S` in a private temp dir) so
 * every reload can be verified, and a rejected one told apart from a slow one.
 */
export class Supervisor {
  private child?: ResultPromise<{ stdio: ['ignore', 'inherit', 'inherit']; reject: false }>;
  private exit?: ChildExit;
  private runtimeDir?: string;
  socket?: string;
  readonly exited: Promise<ChildExit>;
  private settleExit!: (exit: ChildExit) => void;

  private constructor(
    readonly file: string,
    readonly args: string[],
  ) {
    this.exited = new Promise((resolve) => (this.settleExit = resolve));
  }

  /** Parses `--exec`; refuses an haproxy command that is not in master-worker mode. */
  static async prepare(command: string): Promise<Supervisor> {
    const { parseCommandString } = await import('execa');
    const [file, ...args] = parseCommandString(command);
    if (!file) throw usageError('--exec is empty', { hint: 'e.g. --exec "haproxy -W -db -f /etc/haproxy/haproxy.cfg"' });
    const supervisor = new Supervisor(file, args);
    if (basename(file).startsWith('haproxy')) {
      if (!args.includes('-W') && !args.includes('-Ws')) {
        throw usageError(`--exec must run HAProxy in master-worker mode (-W): ${command}`, {
          hint: 'e.g. --exec "haproxy -W -db -f /etc/haproxy/haproxy.cfg"; watch reloads it with SIGUSR2',
        });
      }
      const s = args.indexOf('-S');
      if (s >= 0 && args[s + 1]) supervisor.socket = args[s + 1]!.split(',')[0]!.replace(/^unix@/, '');
      else {
        supervisor.runtimeDir = await mkdtemp(join(tmpdir(), 'occs-lb-'));
        supervisor.socket = join(supervisor.runtimeDir, 'master.sock');
        args.push('-S', supervisor.socket);
      }
    }
    return supervisor;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return this.child !== undefined && this.exit === undefined;
  }

  get commandLine(): string {
    return [this.file, ...this.args].join(' ');
  }

  /** Starts HAProxy and waits until it serves (or says why it could not). */
  async start(timeoutMs: number): Promise<void> {
    const { execa } = await import('execa');
    this.child = execa(this.file, this.args, { stdio: ['ignore', 'inherit', 'inherit'], reject: false, cleanup: true });
    void this.child.then((result) => {
      const signal = result.signal;
      const status = result.exitCode ?? (signal ? 128 + (constants.signals[signal as keyof typeof constants.signals] ?? 0) : 1);
      this.exit = { status, description: signal ? `killed by ${signal}` : `exit code ${result.exitCode}` };
      this.settleExit(this.exit);
    });
    const deadline = Date.now() + timeoutMs;
    const gone = () => this.exit?.description;
    if (this.socket) {
      await waitForMaster(this.socket, deadline, gone);
      return;
    }
    const up = await pollUntil(() => gone() ?? (childPids(this.pid!).length > 0 ? 'up' : undefined), deadline);
    if (up !== 'up') throw reloadError('HAPROXY_EXITED', `the --exec command did not start a worker (${up ?? 'timed out'})`);
  }

  /** SIGUSR2, then proof that a new worker serves. */
  reload(timeoutMs: number): Promise<{ before: number[]; after: number[] }> {
    if (!this.alive) return Promise.reject(reloadError('HAPROXY_EXITED', 'HAProxy is not running'));
    return reloadMasterWorker(this.pid!, this.socket, timeoutMs);
  }

  /** Passes `signal` on, waits up to `timeoutMs`, then kills; returns how HAProxy ended. */
  async stop(signal: NodeJS.Signals, timeoutMs: number): Promise<ChildExit> {
    if (this.alive) {
      this.child!.kill(signal);
      const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    if (this.runtimeDir) await rm(this.runtimeDir, { recursive: true, force: true });
    return this.exit ?? { status: 0, description: 'not started' };
  }
}
