import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, ROOT } from './cli.js';
import { waitFor } from './haproxy-process.js';

/** One JSON log line of `watch`. */
export type LogLine = { level: string; msg: string } & Record<string, unknown>;

/**
 * `occs-lb watch` as a long-lived process (JSON logs on stderr, as in a container), with its log
 * lines parsed as they come. Stopped by pid.
 */
export class WatchProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[] = [];
  raw = '';
  readonly exited: Promise<number | null>;

  /** `wrap` runs watch through another command (e.g. in its own mount namespace): it gets watch's argv and returns the command to spawn. */
  constructor(args: string[], env: Record<string, string> = {}, wrap?: (argv: string[]) => [string, string[]]) {
    const argv = [process.execPath, BIN, 'watch', ...args];
    const [file, rest] = wrap ? wrap(argv) : [argv[0]!, argv.slice(1)];
    this.child = spawn(file, rest, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let pending = '';
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.raw += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('{')) continue; // HAProxy's own lines pass through too
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          // not one of ours
        }
      }
    });
    this.child.stdout!.resume();
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  }

  /** Waits for a log line whose message matches, after `from` lines (so a later event is awaited). */
  waitForLog(pattern: RegExp, from = 0, timeoutMs = 15_000): Promise<LogLine> {
    return waitFor(`a watch log line matching ${pattern}`, () => this.logs.slice(from).find((l) => pattern.test(l.msg)), timeoutMs).catch((error) => {
      throw new Error(`${(error as Error).message}\n--- watch output ---\n${this.raw.slice(-4000)}`);
    });
  }

  count(pattern: RegExp): number {
    return this.logs.filter((l) => pattern.test(l.msg)).length;
  }

  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  /** The pid of the supervised HAProxy master, from the "started haproxy" log line. */
  async haproxyPid(): Promise<number> {
    return Number((await this.waitForLog(/^started haproxy/)).pid);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}
