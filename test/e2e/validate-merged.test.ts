import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli } from '../support/cli.js';
import { makeTempDir } from '../support/temp.js';

const ARGS = ['validate', '--no-haproxy', '--kv', 'file:examples/kv.properties'];
const ERROR = 'no key prefix to read';
const HINT = 'set OCCS_BACKEND_KEY (e.g. apps/myapp/containers), or pass --prefix KEY';
const ENV = { ...process.env, OCCS_BACKEND_KEY: '', OCCS_LB_PREFIX: '' };

/** validate with stdout and stderr on one file (as `>log 2>&1` makes it): the log, and the exit code. */
async function merged(args: string[]): Promise<{ code: number | null; log: string }> {
  const path = join(makeTempDir(), 'log');
  const fd = openSync(path, 'w');
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: ENV, stdio: ['ignore', fd, fd] });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  closeSync(fd);
  return { code, log: readFileSync(path, 'utf8') };
}

/** The same through one pipe (`2>&1 |`, a CI log). */
async function piped(args: string[]): Promise<{ code: number | null; log: string }> {
  const child = spawn('/bin/sh', ['-c', 'exec "$@" 2>&1', 'sh', process.execPath, BIN, ...args], { cwd: ROOT, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (log += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, log };
}

const count = (text: string, what: string) => text.split(what).length - 1;

describe("validate's error is told once in a merged log (stdout and stderr one file), with its hint", () => {
  it('2>&1 into a file or a pipe: the report says it, hint and all, and stderr does not repeat it; the exit code stays 2', async () => {
    for (const run of [merged, piped]) {
      const { code, log } = await run(ARGS);
      expect(code).toBe(2);
      expect(count(log, ERROR)).toBe(1);
      expect(log).toContain(`error   [config] ${ERROR}; ${HINT}`);
      expect(log).toContain('result: rejected (1 error)');
    }
  });

  it('stdout and stderr apart: the report on stdout, the error on stderr too (the reader of stderr sees why it failed)', async () => {
    const result = await runCli(ARGS);
    expect(result.code).toBe(2);
    expect(result.stdout).toContain(`error   [config] ${ERROR}; ${HINT}`);
    expect(result.stderr).toContain(`error: ${ERROR}; ${HINT}`);
  });

  it('--format json: the document is as before, and stderr still tells the error, merged or not', async () => {
    const apart = await runCli([...ARGS, '--format', 'json']);
    expect(apart.code).toBe(2);
    expect(JSON.parse(apart.stdout)).toMatchObject({ ok: false, errors: [{ source: 'config', message: ERROR }] });
    expect(apart.stderr).toContain(`error: ${ERROR}; ${HINT}`);
    const { code, log } = await merged([...ARGS, '--format', 'json']);
    expect(code).toBe(2);
    expect(count(log, ERROR)).toBe(2);
  });
});
