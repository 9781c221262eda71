import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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

  it('runs them with SIGPIPE as a command usually has it (the shell ignores it for itself)', async () => {
    // SigIgn is the mask of ignored signals; SIGPIPE is signal 13, bit 12.
    const { output } = await runner().run('sh', ['-c', 'grep SigIgn /proc/self/status'], 5000);
    expect(BigInt(`0x${output.trim().split(/\s+/)[1]}`) & (1n << 12n)).toBe(0n);
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

  it('leaves nothing behind when the process that runs it is killed with -9 during a job: the job ends, then the shell, and its directory goes', async () => {
    const dir = makeTempDir();
    const [pidFile, script] = [join(dir, 'job.pid'), join(dir, 'owner.mts')];
    const runner = join(import.meta.dirname, '../../src/util/shell-runner.ts');
    writeFileSync(
      script,
      `import { ShellRunner } from ${JSON.stringify(runner)};\n` +
        `await new ShellRunner(process.env, 10).run('sh', ['-c', 'echo $$ > ${pidFile}; sleep 1'], 30_000);\n`,
    );
    const owner = spawn(process.execPath, ['--import', 'tsx', script], { stdio: 'ignore' });
    const job = await waitFor('the job to start', () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : undefined), 20_000);
    // The shell is the job's parent; its last argument is the runner's directory.
    const shell = Number(readFileSync(`/proc/${job}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    const runnerDir = readFileSync(`/proc/${shell}/cmdline`, 'utf8').split('\0').filter(Boolean).at(-1)!;
    expect(existsSync(runnerDir)).toBe(true);
    owner.kill('SIGKILL');
    const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    await waitFor('the job, the shell and its directory to be gone', () => !alive(job) && !alive(shell) && !existsSync(runnerDir), 10_000);
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
