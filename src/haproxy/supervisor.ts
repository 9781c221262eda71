import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { basename, delimiter, join, resolve } from 'node:path';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { reloadError, usageError } from '../errors.js';
import { masterSocketArgument } from './master-cli.js';
import { reloadMasterWorker, waitForMaster } from './reload-master.js';
import { pollUntil } from '../util/poll.js';
import { childPids } from './process.js';
import { leftByGoneProcess } from '../util/atomic-write.js';
import { splitShellWords } from '../util/shell-words.js';

/** The private dirs of the master sockets watch adds: `occs-lb-PID-XXXXXX` in the temp dir. */
const RUNTIME_DIR = /^occs-lb-(\d+)-[A-Za-z0-9]{6}$/;

export interface ChildExit {
  /** The status watch exits with: the exit code, or 128 + the signal's number. */
  status: number;
  description: string;
}

/**
 * Runs HAProxy (`--exec`) as a child in master-worker mode and reloads it with SIGUSR2. When the
 * command starts haproxy without a master socket, one is added at start (`-S` in a private temp
 * dir) so every reload can be verified, and a rejected one told apart from a slow one.
 */
export class Supervisor {
  private child?: ChildProcess;
  private exit?: ChildExit;
  private runtimeDir?: string;
  socket?: string;
  readonly exited: Promise<ChildExit>;
  private resolveExited!: (exit: ChildExit) => void;

  private constructor(
    readonly file: string,
    readonly args: string[],
  ) {
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
  }

  /** Parses `--exec` (shell quoting, no expansion); refuses an haproxy command not in master-worker mode. */
  static prepare(command: string): Supervisor {
    const words = splitShellWords(command);
    if (!words) throw usageError(`--exec has an unclosed quote: ${command}`);
    const [file, ...args] = words;
    if (!file) throw usageError('--exec is empty', { hint: 'e.g. --exec "haproxy -W -db -f /etc/haproxy/haproxy.cfg"' });
    const supervisor = new Supervisor(file, args);
    if (supervisor.isHaproxy && !args.includes('-W') && !args.includes('-Ws')) {
      throw usageError(`--exec must run HAProxy in master-worker mode (-W): ${command}`, {
        hint: 'e.g. --exec "haproxy -W -db -f /etc/haproxy/haproxy.cfg"; watch reloads it with SIGUSR2',
      });
    }
    return supervisor;
  }

  private get isHaproxy(): boolean {
    return basename(this.file).startsWith('haproxy');
  }

  /**
   * The master socket to verify reloads with: the command's own `-S` when it is a file (`unix@`
   * or a path), else one watch adds in a private temp dir. None for other programs.
   */
  private async masterSocket(): Promise<string | undefined> {
    if (!this.isHaproxy) return undefined;
    const given = masterSocketArgument(this.args);
    if (given !== undefined) return given === null ? undefined : resolve(given);
    this.runtimeDir = await mkdtemp(join(tmpdir(), `occs-lb-${process.pid}-`));
    const socket = join(this.runtimeDir, 'master.sock');
    this.args.push('-S', socket);
    return socket;
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

  /**
   * Starts HAProxy and waits until it serves (or says why it could not). `env` is the child's
   * whole environment; `spawned` learns its pid at once, before it serves. Where util-linux's setpriv is on its PATH, HAProxy is started through it
   * with a parent-death signal: if watch dies, even by SIGKILL, HAProxy gets SIGUSR1 (its soft
   * stop; another program gets SIGTERM) instead of running on unsupervised.
   */
  async start(timeoutMs: number, env: NodeJS.ProcessEnv, spawned?: (pid: number) => Promise<void>, output?: (line: string) => void): Promise<void> {
    this.socket = await this.masterSocket();
    const setpriv = parentDeathSignaller(env);
    const [file, args] = setpriv ? [setpriv, ['--pdeathsig', this.isHaproxy ? 'SIGUSR1' : 'SIGTERM', '--', this.file, ...this.args]] : [this.file, this.args];
    // With `output`, what HAProxy prints comes to it line by line; else it goes straight to ours.
    const child = spawn(file, args, { stdio: output ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'], env });
    if (output) for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream!, crlfDelay: Infinity }).on('line', output);
    this.child = child;
    // Should watch exit without stopping it (an uncaught error), HAProxy is not left behind.
    const cleanup = () => child.kill();
    process.once('exit', cleanup);
    const ended = (exit: ChildExit) => {
      process.removeListener('exit', cleanup);
      this.exit ??= exit;
      this.resolveExited(this.exit);
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      // Only a failed start ends it (a signal that could not be sent leaves it running).
      if (child.pid === undefined)
        ended({ status: error.code === 'ENOENT' ? 127 : 126, description: `it could not be started (${error.code ?? error.message})` });
    });
    child.once('exit', (code, signal) => {
      const status = code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1);
      ended({ status, description: signal ? `killed by ${signal}` : `exit code ${code}` });
    });
    const deadline = Date.now() + timeoutMs;
    if (this.child.pid !== undefined) await spawned?.(this.child.pid);
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

  /**
   * Stops HAProxy gracefully: SIGUSR1 (its soft stop: listeners close, requests in flight finish),
   * SIGTERM when `timeoutMs` has passed, SIGKILL 2 s later. Another program gets `signal` itself.
   * Returns how it ended.
   */
  async stop(signal: NodeJS.Signals, timeoutMs: number): Promise<ChildExit> {
    if (this.alive) {
      const steps: Array<[NodeJS.Signals, number]> = this.isHaproxy
        ? [
            ['SIGUSR1', timeoutMs],
            ['SIGTERM', 2000],
          ]
        : [[signal, timeoutMs]];
      for (const [step, wait] of [...steps, ['SIGKILL', 0] as [NodeJS.Signals, number]]) {
        if (!this.alive) break;
        this.child!.kill(step);
        await Promise.race([this.exited, new Promise((r) => setTimeout(r, wait).unref())]);
      }
      await this.exited;
    }
    if (this.runtimeDir) await rm(this.runtimeDir, { recursive: true, force: true });
    return this.exit ?? { status: 0, description: 'not started' };
  }
}

/**
 * util-linux's setpriv, when it is on the PATH of `env` and knows --pdeathsig (util-linux 2.33
 * and later; another setpriv, such as busybox's, would keep HAProxy from starting at all).
 */
function parentDeathSignaller(env: NodeJS.ProcessEnv): string | undefined {
  const setpriv = findOnPath('setpriv', env);
  if (!setpriv) return undefined;
  const help = spawnSync(setpriv, ['--help'], { encoding: 'utf8', timeout: 2000, env });
  return `${help.stdout ?? ''}${help.stderr ?? ''}`.includes('--pdeathsig') ? setpriv : undefined;
}

/** An executable on the PATH of `env`, or undefined. */
function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(dir, name), fsConstants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Removes the private master-socket dirs that watch runs killed before they could clean up left
 * in the temp dir: those of a process that is gone, or of this very pid but older than this
 * process (a container's PID 1 before a restart). Returns the dirs removed.
 */
export async function removeStaleRuntimeDirs(): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await readdir(tmpdir()).catch(() => [] as string[])) {
    const pid = RUNTIME_DIR.exec(entry)?.[1];
    if (!pid || !(await leftByGoneProcess(Number(pid), join(tmpdir(), entry)))) continue;
    // Seen from another pid namespace sharing this temp dir, a live watch's pid looks gone: its HAProxy still answers.
    if (await socketAnswers(join(tmpdir(), entry, 'master.sock'))) continue;
    await rm(join(tmpdir(), entry), { recursive: true, force: true }).then(
      () => removed.push(join(tmpdir(), entry)),
      () => {},
    );
  }
  return removed;
}

/** Whether something listens on a unix socket (a master CLI): it takes a connection within 2 s (a busy machine may be slow to say so). */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.createConnection({ path });
    const done = (answered: boolean) => {
      conn.destroy();
      resolve(answered);
    };
    conn.setTimeout(2_000, () => done(false));
    conn.once('connect', () => done(true));
    conn.once('error', () => done(false));
  });
}
