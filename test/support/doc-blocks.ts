import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cleanEnv, ROOT, type CliResult } from './cli.js';
import { endChild } from './etcd-server.js';
import { makeTempDir } from './temp.js';

/** The pages whose command blocks run: the README, every page of docs/, every example's README. */
export function docPages(): string[] {
  const docs = readdirSync(join(ROOT, 'docs')).filter((n) => n.endsWith('.md'));
  const examples = readdirSync(join(ROOT, 'examples'), { withFileTypes: true }).filter((e) => e.isDirectory());
  const readmes = examples.map((e) => `examples/${e.name}/README.md`).filter((p) => readdirSync(join(ROOT, p, '..')).includes('README.md'));
  return ['README.md', ...docs.map((n) => `docs/${n}`), ...readmes];
}

/** One command of a page's ```sh/bash/console/shell block: its lines joined where they end in `\`. */
export interface DocCommand {
  page: string;
  text: string;
}

/** Every command of every command block of the pages, in order (comment and blank lines left out). */
export function docCommands(pages = docPages()): DocCommand[] {
  const out: DocCommand[] = [];
  for (const page of pages) {
    const blocks = readFileSync(join(ROOT, page), 'utf8').matchAll(/^```(?:sh|bash|console|shell)\n([\s\S]*?)^```/gm);
    for (const [, body] of blocks) {
      const lines = body!.replace(/\\\n/g, ' ').split('\n');
      for (const line of lines.map((l) => l.trim())) if (line && !line.startsWith('#')) out.push({ page, text: line.replace(/^\$ /, '') });
    }
  }
  return out;
}

/** An entry of a table of commands: the commands of `page` that `match`. */
export interface DocEntry {
  page: string;
  match: RegExp;
}

/** The commands an entry names, in the page's order; an entry naming none is an error (a stale entry). */
export function commandsOf(entry: DocEntry): string[] {
  const found = docCommands([entry.page])
    .map((c) => c.text)
    .filter((t) => entry.match.test(t));
  if (found.length === 0) throw new Error(`no command of ${entry.page} matches ${entry.match}`);
  return found;
}

/**
 * Rewrites the fixed addresses and paths of a doc command to the test's: each [from, to] in
 * order, on the text only (so a table of them is all that differs from the doc).
 */
export function localize(text: string, table: ReadonlyArray<readonly [string, string]>): string {
  return table.reduce((t, [from, to]) => t.replaceAll(from, to), text);
}

/**
 * A directory for PATH where `occs-lb` and `npx occs-lb` are this repo's built CLI (as after
 * `npm ci` in a checkout, or `npm install -g`); `npx` of anything else is refused.
 */
function shimDir(): string {
  const dir = makeTempDir();
  writeFileSync(join(dir, 'occs-lb'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  writeFileSync(join(dir, 'npx'), `#!/bin/sh\n[ "$1" = occs-lb ] || { echo "npx $1: not run by the doc tests" >&2; exit 127; }\nshift\nexec occs-lb "$@"\n`);
  for (const name of ['occs-lb', 'npx']) chmodSync(join(dir, name), 0o755);
  return dir;
}

/** The environment doc commands run in: ours without the developer's OCCS_LB_ and seed variables, `occs-lb` on PATH, plus `extra`. */
export function docEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = cleanEnv(extra);
  env.PATH = `${shimDir()}:${process.env.PATH ?? ''}`;
  return env;
}

/** Runs commands as a user would type them, in one `bash -e` (exports carry over); killed after `timeoutMs`. */
export function runShell(commands: string[], env: NodeJS.ProcessEnv, cwd = ROOT, timeoutMs = 20_000): Promise<CliResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-e', '-c', commands.join('\n')], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let [stdout, stderr] = ['', ''];
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/**
 * A command the doc runs in the background (`… &`) or that runs until stopped: `bash -c` in a
 * process group of its own, so that stop() ends it and what it started (HAProxy) by its pid.
 */
export class ShellProcess {
  readonly child: ChildProcess;
  output = '';

  constructor(command: string, env: NodeJS.ProcessEnv, cwd = ROOT) {
    this.child = spawn('bash', ['-c', command.replace(/\s*&$/, '')], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.child.stdout!, this.child.stderr!]) stream.setEncoding('utf8').on('data', (d: string) => (this.output += d));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM to the group (watch stops HAProxy), then SIGKILL to whatever is left of it. */
  async stop(): Promise<void> {
    const pid = this.child.pid!;
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(-pid, name);
      } catch {
        // the group is gone
      }
    };
    signal('SIGTERM');
    await endChild(this.child, 'SIGTERM');
    signal('SIGKILL');
  }
}
