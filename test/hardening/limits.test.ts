import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installError } from '../../src/install/install-error.js';
import { BIN, ROOT, runCli } from '../support/cli.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { masterCommand } from '../../src/haproxy/master-cli.js';
import { waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

describe('a store that answers too much is an error, not a memory blow-up', () => {
  let store: ConsulKvServer;
  beforeAll(async () => {
    store = await new ConsulKvServer().start();
    store.put(`${PREFIX}/a`, '10.0.0.1:80');
    store.put(`${PREFIX}/huge`, 'x'.repeat(20 * 1024 * 1024));
  });
  afterAll(() => store.stop());

  it('an answer over --kv-max-size (16 MiB by default) is exit 3 that says so; a larger limit takes it', async () => {
    const refused = await runCli(['render', '--kv', store.url, '--prefix', PREFIX]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(`answered more than 16 MiB when reading "${PREFIX}"`);
    expect(refused.stderr).toContain('raise --kv-max-size');
    expect(refused.stderr).not.toContain('could not be reached');

    const taken = await runCli(['render', '--kv', store.url, '--prefix', PREFIX, '--kv-max-size', '64MiB']);
    expect(taken.code).toBe(0);
    expect(taken.stdout).toContain('server a 10.0.0.1:80 check');
  });

  it('a file: source over the limit is refused before it is read', async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'kv.properties'), `${PREFIX}/a=10.0.0.1:80\n# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    const refused = await runCli(['render', '--kv', `file:${join(dir, 'kv.properties')}`, '--prefix', PREFIX, '--kv-max-size', '1MiB']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(`key/value file ${join(dir, 'kv.properties')} holds more than 1 MiB`);
  });

  it('a --kv-max-size that is not a size is exit 2', async () => {
    const result = await runCli(['render', '--kv', store.url, '--prefix', PREFIX, '--kv-max-size', 'lots']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('"lots" is not a size such as 16MiB');
  });
});

/**
 * Runs `argv` in a mount namespace of its own where `dir` is a small tmpfs (read-only, or with
 * `ballast` bytes already taking most of it), so a test gets a real full or read-only disk and
 * nothing is left mounted after. Needs root, as the CI runs.
 */
function inTmpfs(dir: string, options: { sizeKiB: number; readOnly?: boolean; ballast?: number }) {
  return (argv: string[]): [string, string[]] => {
    const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const mount = `mount -t tmpfs -o size=${options.sizeKiB}k${options.readOnly ? ',ro' : ''} tmpfs '${dir}'`;
    const ballast = options.ballast ? ` && head -c ${options.ballast} /dev/zero > '${dir}/ballast'` : '';
    return ['unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${mount}${ballast} && exec ${quoted}`]];
  };
}

function runInTmpfs(dir: string, options: Parameters<typeof inTmpfs>[1], args: string[]) {
  const [file, rest] = inTmpfs(dir, options)([process.execPath, BIN, ...args]);
  const result = spawnSync(file, rest, { encoding: 'utf8' });
  if (/mount: .*(permission denied|must be superuser)|unshare: .*Operation not permitted/i.test(result.stderr)) {
    throw new Error(`these tests mount a small tmpfs in a private mount namespace and need root: ${result.stderr}`);
  }
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('a destination that cannot be written: its own code, the destination named, nothing lost', () => {
  const kv = `file:${join(ROOT, 'examples/kv.properties')}`;

  it('read-only: exit 2, INSTALL_READ_ONLY', () => {
    const dir = join(makeTempDir(), 'ro');
    mkdirSync(dir);
    const result = runInTmpfs(dir, { sizeKiB: 64, readOnly: true }, [
      'render',
      '--kv',
      kv,
      '--prefix',
      'apps/myapp/containers',
      '--out',
      `${dir}/haproxy.cfg`,
      '--log-format',
      'json',
    ]);
    expect(result.code).toBe(2);
    const error = JSON.parse(result.stderr.trim().split('\n').at(-1)!) as { code: string; msg: string };
    expect(error.code).toBe('INSTALL_READ_ONLY');
    expect(error.msg).toContain(`cannot install ${dir}/haproxy.cfg: ${dir} is on a read-only file system (EROFS); no file was changed`);
    expect(error.msg).not.toContain('.tmp');
  });

  it('full: INSTALL_NO_SPACE, and the installed file stays as it was', () => {
    const dir = join(makeTempDir(), 'full');
    mkdirSync(dir);
    const out = `${dir}/haproxy.cfg`;
    // The old config is there; what is left of the tmpfs cannot hold the new one.
    const script = ['render', '--kv', kv, '--prefix', 'apps/myapp/containers', '--out', out, '--backend-name', 'second'];
    const [file, rest] = inTmpfs(dir, { sizeKiB: 16, ballast: 8192 })([
      'sh',
      '-c',
      `printf 'old\\n' > '${out}' && head -c 4096 /dev/zero > '${dir}/more' && "$@"; echo "exit=$?"; cat '${out}'`,
      'sh',
      process.execPath,
      BIN,
      ...script,
    ]);
    const result = spawnSync(file, rest, { encoding: 'utf8' });
    expect(result.stdout).toContain('exit=1');
    expect(result.stdout.split('exit=1\n')[1]).toBe('old\n');
    expect(result.stderr).toContain(`cannot install ${out}: the file system of ${dir} is full (ENOSPC); no file was changed (free some space there)`);
  });

  it('a destination under a file, not a directory: exit 2 that says so', async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'file'), 'not a directory');
    const result = await runCli(['render', '--kv', kv, '--prefix', 'apps/myapp/containers', '--out', join(dir, 'file', 'haproxy.cfg')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `cannot install ${join(dir, 'file', 'haproxy.cfg')}: ${join(dir, 'file')} is not a directory (ENOTDIR); no file was changed`,
    );
  });

  it('maps every errno to a code and a sentence, naming the destination and not the temp file', () => {
    const error = (code: string) =>
      Object.assign(new Error(`${code}: open '/etc/haproxy/.haproxy.cfg.1.abc.tmp'`), { code, path: '/etc/haproxy/.haproxy.cfg.1.abc.tmp' });
    const cases: Array<[string, string, number]> = [
      ['EACCES', 'INSTALL_DENIED', 2],
      ['EPERM', 'INSTALL_DENIED', 2],
      ['EROFS', 'INSTALL_READ_ONLY', 2],
      ['ENOSPC', 'INSTALL_NO_SPACE', 1],
      ['EDQUOT', 'INSTALL_NO_SPACE', 1],
      ['ENOENT', 'INSTALL_NO_DIRECTORY', 2],
      ['EIO', 'INSTALL_FAILED', 1],
    ];
    for (const [errno, code, exit] of cases) {
      const mapped = installError('/etc/haproxy/haproxy.cfg', error(errno));
      expect([mapped.code, mapped.exitCode]).toEqual([code, exit]);
      expect(mapped.message).toMatch(/^cannot install \/etc\/haproxy\/haproxy\.cfg/);
      expect(mapped.message).not.toContain('.tmp');
    }
  });
});

describe('watch on a full disk', () => {
  const rig = useWatchRig();

  it('keeps serving the installed config, says why, and installs the change once space is freed', async () => {
    const dir = join(rig.dir, 'conf');
    mkdirSync(dir);
    const config = join(dir, 'haproxy.cfg');
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    // 64 KiB, 52 KiB of it ballast: the first config and watch's record fit, a config of 200 servers does not.
    const w = rig.startWatch(rig.store.url, ['--out', config, '--exec', `haproxy -W -db -f ${config}`], {}, inTmpfs(dir, { sizeKiB: 64, ballast: 52 * 1024 }));
    await w.waitForLog(/^started haproxy/);
    await rig.servedBy(['a']);
    const seen = (path: string) => `/proc/${w.child.pid}/root${path}`; // the file as watch sees it, in its namespace

    const before = w.logs.length;
    for (let i = 0; i < 200; i++) rig.store.put(`${PREFIX}/s${String(i).padStart(3, '0')}`, rig.address(1));
    const failed = await w.waitForLog(/^cannot install /, before);
    expect(failed.code).toBe('INSTALL_NO_SPACE');
    expect(failed.msg).toContain(`cannot install ${config}: the file system of ${dir} is full (ENOSPC)`);
    // The file is the last config installed, whole: the failed one never replaced it.
    const last = w.logs.filter((l) => /^installed /.test(l.msg)).at(-1)!.backends as Record<string, number>;
    const servers = readFileSync(seen(config), 'utf8')
      .split('\n')
      .filter((l) => /^\s+server /.test(l));
    expect(servers).toHaveLength(last.nginx_80!);
    expect(servers.length).toBeLessThan(201);
    expect(await rig.metric('install_failures_total')).toBeGreaterThanOrEqual(1);
    expect((await rig.status('/healthz')).status).toBe(503);
    // HAProxy and the installed file agree: it runs the servers the file holds, no more.
    const socket = /-S (\S+)/.exec((await w.waitForLog(/^started haproxy/)).msg)![1]!;
    await waitFor('HAProxy to run what the file says', async () => {
      const state = await masterCommand(socket, '@1 show servers state nginx_80', 2000);
      return state.split('\n').filter((l) => / nginx_80 /.test(l)).length === servers.length;
    });

    // The retries install first, less and less often, and HAProxy is not flipped to the change and back each time.
    await waitFor('two retries', () => w.logs.slice(before).filter((l) => /^cannot install /.test(l.msg)).length >= 3, 20_000);
    const after = w.logs.slice(w.logs.indexOf(failed));
    expect(after.filter((l) => /^applied through the runtime API/.test(l.msg))).toEqual([]);
    const failures = after.filter((l) => /^cannot install /.test(l.msg)).map((l) => Date.parse(String(l.time)));
    expect(failures[2]! - failures[1]!).toBeGreaterThan(failures[1]! - failures[0]!);
    const reloads = await rig.metric('reloads_total');
    expect(reloads).toBeLessThanOrEqual(1); // the one that set HAProxy back to the installed file

    rmSync(seen(`${dir}/ballast`));
    await waitFor('the file to be installed', () => readFileSync(seen(config), 'utf8').includes('server s199 '), 40_000);
    await rig.servedBy(['a', 'b'], 250);
    await waitFor('/healthz to be ok again', async () => (await rig.status('/healthz')).status === 200);
  }, 60_000);
});
