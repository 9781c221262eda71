import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { httpGet, waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

const rig = useWatchRig();
const { status, metric } = rig;

describe('a store answer that empties every backend is held by default: a store restored empty never takes every app down', () => {
  it('watch keeps serving the last servers, /readyz stays 200, /healthz and the log say why; refilled, it follows again', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    rig.store.put(`${PREFIX}/b`, rig.address(1));
    const w = rig.startWatch(rig.store.url);
    await w.waitForLog(/^started haproxy/);
    await rig.servedBy(['a', 'b']);

    const before = w.logs.length;
    rig.store.delete(PREFIX, true);
    const held = await w.waitForLog(/^held the store's answer: it leaves no server in any backend, where HAProxy serves 2 servers/, before);
    expect(held.level).toBe('error');
    expect(held.msg).toContain('--allow-empty');
    await rig.servedBy(['a', 'b']);
    expect(readFileSync(rig.config(), 'utf8')).toContain(`server a ${rig.address(0)} check`);
    expect(await status('/readyz')).toEqual({
      status: 200,
      body: expect.stringMatching(/^ready: HAProxy serves the last good config \(last sync failed: held /),
    });
    expect(await status('/healthz')).toEqual({ status: 503, body: expect.stringMatching(/^last sync failed: held the store's answer/) });
    expect(await metric('refused_total')).toBe(1);

    // One server back is a real answer again: followed at once, through the runtime API.
    rig.store.put(`${PREFIX}/c`, rig.address(2));
    await rig.servedBy(['c']);
    await waitFor('/healthz to be ok again', async () => (await status('/healthz')).body === 'ok\n');
    expect(await metric('reloads_total')).toBe(0);
  });

  it('a watch that starts on an empty store still installs its config (nothing is served yet to hold on to)', async () => {
    const w = rig.startWatch(rig.store.url);
    await w.waitForLog(/^started haproxy/);
    await waitFor('HAProxy to answer 503', async () => (await httpGet(rig.ports.frontend)).status === 503);
    expect(await status('/readyz')).toEqual({ status: 200, body: 'ready\n' });
  });
});

describe('a restarted watch (--exec) that finds its config on disk and an empty store', () => {
  it('starts HAProxy on the installed config (checked with haproxy -c), and holds the empty answer', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const first = rig.startWatch(rig.store.url);
    await first.waitForLog(/^started haproxy/);
    await rig.servedBy(['a']);
    await first.stop();
    expect(readFileSync(rig.config(), 'utf8')).toContain(`server a ${rig.address(0)} check`);

    // The store is emptied while watch is down (a container restart keeps its emptyDir, and with
    // it the installed haproxy.cfg); the restarted watch must not leave the pod without HAProxy.
    rig.store.delete(PREFIX, true);
    const second = rig.startWatch(rig.store.url);
    await second.waitForLog(/^watching /);
    await second.waitForLog(/^starting haproxy on the config an earlier run installed/);
    await second.waitForLog(/^started haproxy/, 0, 10_000);
    expect((await rig.status('/readyz')).status).toBe(200);
    // The last good servers serve, and the answer stays held until the store holds servers again.
    await rig.servedBy(['a']);
    expect((await rig.status('/healthz')).body).toMatch(/^last sync failed: held the store's answer/);
    rig.store.put(`${PREFIX}/b`, rig.address(1));
    await rig.servedBy(['b']);
  });
});

describe('a backend with no servers is visible, though it is installed (--allow-empty, --min-servers 0)', () => {
  it('watch: /healthz names it, a metric counts it, the log says so when it empties and refills', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const w = rig.startWatch(rig.store.url, ['--allow-empty']);
    await w.waitForLog(/^started haproxy/);
    await rig.servedBy(['a']);
    expect(await metric('empty_backends')).toBe(0);

    const before = w.logs.length;
    rig.store.delete(`${PREFIX}/a`);
    const warning = await w.waitForLog(/^no servers in backend nginx_80: HAProxy answers 503/, before);
    expect(warning.level).toBe('warn');
    await w.waitForLog(
      new RegExp(`^prefix "${PREFIX}" holds no keys at ${rig.store.url.replace(/[.]/g, '\\.')}: .*\\(a typo in --prefix or OCCS_BACKEND_KEY\\?\\)`),
      before,
    );
    await waitFor('HAProxy to answer 503', async () => (await httpGet(rig.ports.frontend)).status === 503);
    await waitFor('/healthz to name the empty backend', async () => (await status('/healthz')).body.includes('no servers in backend nginx_80'));
    expect((await status('/healthz')).status).toBe(200);
    expect(await metric('empty_backends')).toBe(1);
    expect(await metric('backend_servers\\{backend="nginx_80"\\}')).toBe(0);

    const refilled = w.logs.length;
    rig.store.put(`${PREFIX}/b`, rig.address(1));
    await rig.servedBy(['b']);
    await w.waitForLog(/^every backend has servers again/, refilled);
    await waitFor('/healthz to be plain ok', async () => (await status('/healthz')).body === 'ok\n');
    expect(await metric('empty_backends')).toBe(0);
  });
});

describe('a prefix that holds no keys at all (a typo, say) is warned about', () => {
  const kv = () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'kv.properties'), 'apps/myapp/containers/one=10.9.1.1:32001\n');
    return `file:${join(dir, 'kv.properties')}`;
  };

  it('render: a warning naming the prefix and the store, exit 0', async () => {
    const store = kv();
    const result = await runCli(['render', '--kv', store, '--prefix', 'apps/myapp/container']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      `warning: prefix "apps/myapp/container" holds no keys at ${store}: a backend it fills has no servers (did you mean "apps/myapp/containers"?)`,
    );
  });

  it('validate --format json: a warning in the report, and --min-servers 1 still fails it', async () => {
    const store = kv();
    const result = await runCli(['validate', '--format', 'json', '--no-haproxy', '--kv', store, '--prefix', 'apps/myapp/container'], {
      env: { OCCS_BACKEND_KEY: '' },
    });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { ok: boolean; warnings: Array<{ source: string; message: string }> };
    expect(report.ok).toBe(true);
    expect(report.warnings).toContainEqual({ source: 'kv', message: expect.stringContaining('prefix "apps/myapp/container" holds no keys') });

    const strict = await runCli(['validate', '--no-haproxy', '--min-servers', '1', '--kv', store, '--prefix', 'apps/myapp/container']);
    expect(strict.code).toBe(5);
  });

  it('a prefix that holds keys gets no such warning', async () => {
    const result = await runCli(['render', '--kv', kv(), '--prefix', 'apps/myapp/containers']);
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('holds no keys');
  });
});
