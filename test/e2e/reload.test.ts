import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { answeringConfig, continuousLoad, freePort, HaproxyProcess, httpGet, waitFor } from '../support/haproxy-process.js';

let haproxy: HaproxyProcess | undefined;

afterEach(async () => {
  await haproxy?.stop();
  haproxy = undefined;
});

async function started(mode: HaproxyProcess['mode']): Promise<HaproxyProcess> {
  haproxy = new HaproxyProcess(await freePort(), mode);
  haproxy.writeConfig(answeringConfig(haproxy.port, 'v1'));
  await haproxy.start();
  return haproxy;
}

const served = async (h: HaproxyProcess) => (await httpGet(h.port)).body;
const BROKEN = (h: HaproxyProcess) => `${answeringConfig(h.port, 'v9')}    no_such_directive here\n`;

/** How each strategy is named on the command line for a running HAProxy. */
const strategies: Array<[string, HaproxyProcess['mode'], (h: HaproxyProcess) => string[]]> = [
  ['--master-socket', 'master-worker', (h) => ['--master-socket', h.socket]],
  ['--pid-file (master-worker with -S)', 'master-worker', (h) => ['--pid-file', h.pidFile]],
  ['--pid-file (master-worker without -S)', 'master-worker-no-socket', (h) => ['--pid-file', h.pidFile]],
  ['--pid-file (classic daemon, -sf)', 'classic', (h) => ['--pid-file', h.pidFile]],
];

describe.each(strategies)('occs-lb reload %s', (_, mode, how) => {
  const reload = (h: HaproxyProcess, ...extra: string[]) => runCli(['reload', ...how(h), '--haproxy-config', h.config, ...extra]);

  it('makes HAProxy serve the new config, and says which process took over', async () => {
    const h = await started(mode);
    expect(await served(h)).toBe('v1');
    h.writeConfig(answeringConfig(h.port, 'v2'));
    const result = await reload(h);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^reloaded: (worker|process) [\d,]+ → [\d,]+ \(\d+ ms\)\n$/);
    await waitFor('the new config to be served', async () => (await served(h)) === 'v2');
  });

  it('refuses a broken config (exit 5) and reloads nothing: requests still see the old config', async () => {
    const h = await started(mode);
    const pidsBefore = h.pids();
    h.writeConfig(BROKEN(h));
    const result = await reload(h);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain("unknown keyword 'no_such_directive'");
    expect(result.stderr).toContain('nothing was reloaded');
    expect(result.stdout).toBe('');
    expect(await served(h)).toBe('v1');
    expect(h.pids()).toEqual(pidsBefore);
  });

  it('exits 6 when HAProxy is not running any more', async () => {
    const h = await started(mode);
    await h.stop();
    const result = await reload(h);
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(/stale pid file|nothing listens|no master socket|does not exist/);
  });
});

describe('occs-lb reload over the master socket', () => {
  it('a reload HAProxy rejects (--no-check) is exit 6, and the old worker keeps serving', async () => {
    const h = await started('master-worker');
    h.writeConfig(BROKEN(h));
    const result = await runCli(['reload', '--master-socket', h.socket, '--haproxy-config', h.config, '--no-check']);
    expect(result.code).toBe(6);
    expect(result.stderr).toContain('HAProxy rejected the reload');
    expect(result.stderr).toContain('still serves the old config');
    expect(await served(h)).toBe('v1');
  });

  it('--format json prints the same facts', async () => {
    const h = await started('master-worker');
    h.writeConfig(answeringConfig(h.port, 'v2'));
    const result = await runCli(['reload', '--master-socket', h.socket, '--haproxy-config', h.config, '--format', 'json']);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc).toMatchObject({ ok: true, strategy: 'master-socket', mode: 'master-worker' });
    expect(Object.keys(doc).slice(0, 6)).toEqual(['version', 'ok', 'errors', 'warnings', 'steps', 'backends']);
    expect(doc.steps).toEqual([
      { step: 'haproxy -c', status: 'ok', note: h.config },
      { step: 'reload', status: 'ok', note: 'master-socket' },
    ]);
    expect(doc.after[0]).not.toBe(doc.before[0]);
    expect(typeof doc.ms).toBe('number');
  });

  it('a socket nobody answers on is exit 6 that says so', async () => {
    const h = await started('master-worker');
    const result = await runCli(['reload', '--master-socket', `${h.socket}.nope`, '--haproxy-config', h.config]);
    expect(result.code).toBe(6);
    expect(result.stderr).toContain('there is no master socket at');
  });

  it('20 reloads under continuous new connections: 0 failed requests', async () => {
    const h = await started('master-worker');
    const load = continuousLoad(h.port, 4);
    for (let i = 0; i < 20; i++) {
      h.writeConfig(answeringConfig(h.port, `r${i}`));
      const result = await runCli(['reload', '--master-socket', h.socket, '--haproxy-config', h.config]);
      expect(result.code, result.stderr).toBe(0);
    }
    await waitFor('the last config to be served', async () => (await served(h)) === 'r19');
    const stats = await load.stop();
    console.log(`reload under load: ${stats.ok} requests answered, ${stats.failed} failed during 20 master-worker reloads`);
    expect(stats.ok).toBeGreaterThan(100);
    expect(stats.errors).toEqual([]);
  });
});

describe('occs-lb reload: hard cases', () => {
  it('after a rejected reload, the next one names the worker that was serving', async () => {
    const h = await started('master-worker');
    h.writeConfig(BROKEN(h));
    expect((await runCli(['reload', '--master-socket', h.socket, '--haproxy-config', h.config, '--no-check'])).code).toBe(6);
    h.writeConfig(answeringConfig(h.port, 'v2'));
    const result = await runCli(['reload', '--master-socket', h.socket, '--haproxy-config', h.config]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^reloaded: worker \d+ → \d+ /);
  });

  it('a master started with -S unix@RELATIVE is found through its pid file', async () => {
    haproxy = new HaproxyProcess(await freePort(), 'master-worker', 'unix@master.sock');
    haproxy.writeConfig(answeringConfig(haproxy.port, 'v1'));
    await haproxy.start();
    haproxy.writeConfig(answeringConfig(haproxy.port, 'v2'));
    const result = await runCli(['reload', '--pid-file', haproxy.pidFile, '--haproxy-config', haproxy.config]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(await served(haproxy)).toBe('v2');
  });

  it('a new config that kills HAProxy while it starts (haproxy -c cannot see it) is exit 6 at once', async () => {
    const h = await started('master-worker');
    h.writeConfig(answeringConfig(h.port, 'v2', '    chroot /nonexistent-occs-lb-dir'));
    const result = await runCli(['reload', '--master-socket', h.socket, '--haproxy-config', h.config]);
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(/exited during the reload|exited while starting|rejected the reload/);
    expect(result.stderr).not.toContain('raise --reload-timeout');
  });

  it('--reload-timeout bounds a reload command, and everything it started', async () => {
    const h = await started('master-worker');
    const result = await runCli(['reload', '--no-check', '--reload-cmd', 'sleep 30 & sleep 30', '--reload-timeout', '1s', '--haproxy-config', h.config]);
    expect(result.code).toBe(6);
    expect(result.stderr).toContain('did not finish within 1000ms');
  });

  it('--format json still prints a JSON document when the settings are wrong', async () => {
    const h = await started('master-worker');
    const result = await runCli(['reload', '--master-socket', h.socket, '--reload-timeout', 'soon', '--format', 'json']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, errors: [{ source: 'config', message: expect.stringContaining('--reload-timeout') }] });
  });
});

describe('occs-lb reload --reload-cmd', () => {
  it('runs the command (here: SIGUSR2 to the master) and reports success', async () => {
    const h = await started('master-worker');
    h.writeConfig(answeringConfig(h.port, 'v2'));
    const result = await runCli(['reload', '--reload-cmd', `kill -USR2 $(cat ${h.pidFile})`, '--haproxy-config', h.config]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^reloaded: reload command succeeded \(\d+ ms\)\n$/);
    await waitFor('the new config to be served', async () => (await served(h)) === 'v2');
  });

  it('a failing command is exit 6 with its status and stderr', async () => {
    const h = await started('master-worker');
    const result = await runCli(['reload', '--reload-cmd', 'echo "cannot reach haproxy" >&2; exit 3', '--haproxy-config', h.config]);
    expect(result.code).toBe(6);
    expect(result.stderr).toContain('exited 3: cannot reach haproxy');
  });
});

describe('occs-lb reload usage', () => {
  it('without a strategy: exit 2 naming the three ways', async () => {
    const h = await started('master-worker');
    const result = await runCli(['reload', '--haproxy-config', h.config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--master-socket PATH.*--pid-file PATH.*--reload-cmd/);
    expect(readFileSync(h.config, 'utf8')).toContain('v1');
  });
});
