import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ShellRunner } from '../../src/util/shell-runner.js';
import { waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';

describe('the shell that runs background commands', () => {
  const runners: ShellRunner[] = [];
  const runner = () => {
    const made = new ShellRunner({ PATH: process.env.PATH, SECRET_NOT_GIVEN: undefined }, 10);
    runners.push(made);
    return made;
  };
  afterEach(async () => {
    for (const r of runners.splice(0)) await r.close();
  });

  it('runs commands one at a time, with their output, exit status and arguments as given', async () => {
    const r = runner();
    const [one, two] = await Promise.all([
      r.run('sh', ['-c', 'echo "$1"; echo err >&2; exit 3', 'x', "it's a 'quoted' $word; `not run`"], 5000),
      r.run('true', [], 5000),
    ]);
    expect(one).toEqual({ exitCode: 3, timedOut: false, output: "it's a 'quoted' $word; `not run`\nerr\n" });
    expect(two).toEqual({ exitCode: 0, timedOut: false, output: '' });
  });

  it('runs them at its niceness', async () => {
    const { output } = await runner().run('sh', ['-c', 'cut -d" " -f19 /proc/self/stat'], 5000);
    expect(Number(output.trim())).toBe(10);
  });

  it('kills a command past its timeout, and runs the next', async () => {
    const r = runner();
    const slow = await r.run('sleep', ['30'], 200);
    expect(slow).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
    expect((await r.run('echo', ['next'], 5000)).output).toBe('next\n');
  });

  it("kills a command's own children with it past its timeout (a --haproxy wrapper that runs haproxy)", async () => {
    const pidFile = join(makeTempDir(), 'child.pid');
    const wrapped = await runner().run('sh', ['-c', `sleep 30 & echo $! > ${pidFile}; wait`], 500);
    expect(wrapped).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
    const child = Number(readFileSync(pidFile, 'utf8'));
    // Gone, or a zombie its new parent has not reaped yet.
    const running = () => {
      try {
        return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${child}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    await waitFor('the wrapped command to be killed too', () => !running(), 5000);
  });

  it('rejects a job when the shell is gone, and starts a new shell for the next', async () => {
    const r = runner();
    await r.run('true', [], 5000);
    const job = r.run('sh', ['-c', 'kill -9 $PPID; sleep 5'], 10_000);
    await expect(job).rejects.toThrow(/shell that runs background commands/);
    expect((await r.run('echo', ['again'], 5000)).output).toBe('again\n');
  });

  it('refuses what it cannot run as the caller needs to hear it: a command not found, a word with a line break', async () => {
    const r = runner();
    await expect(r.run('no-such-command-here', [], 5000)).rejects.toThrow(/could not run no-such-command-here/);
    await expect(r.run('echo', ['two\nlines'], 5000)).rejects.toThrow(/line break/);
    expect((await r.run('echo', ['still', 'in step'], 5000)).output).toBe('still in step\n');
  });
});
