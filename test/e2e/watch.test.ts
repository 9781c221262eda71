import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { packageVersion } from '../../src/paths.js';
import { namesServed } from '../support/backends.js';
import { ROOT } from '../support/cli.js';
import { EtcdServer } from '../support/etcd-server.js';
import { continuousLoad, httpGet, waitFor } from '../support/haproxy-process.js';
import { WatchProcess } from '../support/watch-process.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';
import { localHaproxyArgs } from '../support/watch-args.js';

const rig = useWatchRig();
const VERSION = packageVersion();
const { servedBy, status, metric, config } = rig;
const backend = (i: number) => () => rig.backends[i]!;
const [a, b, c, d] = [backend(0), backend(1), backend(2), backend(3)];
const startWatch = (kv: string, extra: string[] = []) => rig.startWatch(kv, extra);
const workersOf = (w: WatchProcess) => rig.workers(w);

/** A store the main watch tests run against: the Consul/OCCS test server, or a real etcd. */
interface TestStore {
  kv: string;
  put(key: string, value: string): Promise<void>;
  delete(key: string, recurse?: boolean): Promise<void>;
  /** The store fails (Consul: answers 500, then refuses connections; etcd: stopped). */
  outage(): Promise<void>;
  heal(): Promise<void>;
  /** Writes while the store is out, where the store can take them (the Consul test server). */
  putDuringOutage?(key: string, value: string): Promise<void>;
  stop(): Promise<void>;
}

const stores: Array<[string, () => Promise<TestStore>]> = [
  [
    'the Consul/OCCS store',
    async () => ({
      kv: rig.store.url,
      put: async (k, v) => rig.store.put(k, v),
      delete: async (k, r) => rig.store.delete(k, r),
      async outage() {
        rig.store.fail({ kind: 'status', status: 500, body: 'rpc error: No cluster leader' });
        await waitFor('a few failed reads', async () => (await metric('store_errors_total')) >= 2);
        await rig.store.stop();
      },
      async heal() {
        rig.store.fail(undefined);
        await rig.store.start();
      },
      putDuringOutage: async (k, v) => rig.store.put(k, v),
      stop: async () => {},
    }),
  ],
  [
    'a real etcd',
    async () => {
      const etcd = await new EtcdServer().start();
      return {
        kv: etcd.url,
        put: (k, v) => etcd.put(k, v),
        delete: (k, r) => etcd.delete(k, r),
        outage: () => etcd.stop(),
        heal: async () => void (await etcd.start()),
        stop: () => etcd.stop(),
      };
    },
  ],
];

describe.each(stores)('occs-lb watch --exec haproxy, from %s', (_, makeStore) => {
  let kv: TestStore;
  beforeEach(async () => {
    kv = await makeStore();
  });
  afterEach(async () => {
    await kv.stop();
  });

  it('serves the backends in the store, and follows a PUT and a DELETE through the runtime API: no reload', async () => {
    await kv.put(`${PREFIX}/a`, a().address);
    await kv.put(`${PREFIX}/b`, b().address);
    const w = startWatch(kv.kv);
    await w.waitForLog(/^started haproxy/);
    await servedBy(['a', 'b']);
    const workers = await workersOf(w);

    await kv.put(`${PREFIX}/c`, c().address);
    await servedBy(['a', 'b', 'c']);

    await kv.delete(`${PREFIX}/a`);
    await servedBy(['b', 'c']);
    const hits = a().hits;
    await namesServed(rig.ports.frontend, 20);
    expect(a().hits).toBe(hits);

    await waitFor('both changes to be counted', async () => (await metric('runtime_updates_total')) >= 2);
    expect(await metric('reloads_total')).toBe(0);
    expect(w.count(/^reloaded: /)).toBe(0);
    expect(await workersOf(w)).toEqual(workers);
    expect(await status('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await metric('backend_servers\\{backend="nginx_80"\\}')).toBe(2);
    // When the store last confirmed the config, as a timestamp (not an ever-changing "seconds since"), and which occs-lb runs.
    expect(Math.abs((await metric('last_sync_timestamp_seconds')) - Date.now() / 1000)).toBeLessThan(60);
    expect(await metric(`build_info\\{version="${VERSION}"\\}`)).toBe(1);
    // Prometheus's own linter accepts the exposition.
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: (await status('/metrics')).body, encoding: 'utf8' });
    expect(lint.status, `${lint.stdout}${lint.stderr}`).toBe(0);
    expect(`${lint.stdout}${lint.stderr}`.trim()).toBe('');
    // The file follows, so a later reload keeps the same servers.
    await waitFor('the file to follow', () => !readFileSync(config(), 'utf8').includes(`server a `));
    expect(readFileSync(config(), 'utf8')).toContain(`server c ${c().address} check`);
  });

  it('with --no-runtime-api, follows the same changes by verified reloads, and counts them', async () => {
    await kv.put(`${PREFIX}/a`, a().address);
    const w = startWatch(kv.kv, ['--no-runtime-api']);
    await w.waitForLog(/^started haproxy/);
    await servedBy(['a']);
    await kv.put(`${PREFIX}/b`, b().address);
    await servedBy(['a', 'b']);
    await kv.delete(`${PREFIX}/a`);
    await servedBy(['b']);
    // HAProxy serves the new worker a moment before watch has verified it and counted the reload.
    await waitFor('both reloads to be counted', async () => (await metric('reloads_total')) >= 2);
    expect(await metric('reloads_total')).toBe(w.count(/^reloaded: /));
    expect(await metric('runtime_updates_total')).toBe(0);
  });

  it('a store outage costs no request, and loses no change: made during it, or just after it ends', async () => {
    await kv.put(`${PREFIX}/a`, a().address);
    await kv.put(`${PREFIX}/b`, b().address);
    const w = startWatch(kv.kv);
    await w.waitForLog(/^started haproxy/);
    await servedBy(['a', 'b']);
    const load = continuousLoad(rig.ports.frontend, 2);

    const before = w.logs.length;
    await kv.outage();
    await w.waitForLog(/keeping the installed config/, before);
    await waitFor('/healthz to report the outage', async () => (await status('/healthz')).status === 503);
    expect((await status('/healthz')).body).toMatch(/^store (unreachable|answering errors) since /);
    await waitFor('a few failed reads', async () => (await metric('store_errors_total')) >= 3);
    await kv.putDuringOutage?.(`${PREFIX}/c`, c().address);

    await kv.heal();
    // Written before watch has reconnected (it is still backing off): it must not be lost.
    if (!kv.putDuringOutage) await kv.put(`${PREFIX}/c`, c().address);
    await w.waitForLog(/^store reachable again/, before, 30_000);
    await servedBy(['a', 'b', 'c']);
    const stats = await load.stop();
    expect(stats.errors).toEqual([]);
    expect(stats.ok).toBeGreaterThan(50);
    expect(w.count(/keeping the installed config/)).toBe(1);
    expect((await status('/healthz')).status).toBe(200);
  });

  it('--min-servers 1 refuses an answer with no servers: the old backends stay served', async () => {
    await kv.put(`${PREFIX}/a`, a().address);
    const w = startWatch(kv.kv, ['--min-servers', '1']);
    await w.waitForLog(/^started haproxy/);
    await servedBy(['a']);
    const before = w.logs.length;
    await kv.delete(PREFIX, true);
    await w.waitForLog(/refused the store's answer: backend nginx_80 would have 0 servers/, before);
    await servedBy(['a']);
    expect(await metric('refused_total')).toBe(1);
    expect(readFileSync(config(), 'utf8')).toContain(`server a ${a().address} check`);
  });

  it('SIGHUP re-reads the store, re-renders and reloads', async () => {
    await kv.put(`${PREFIX}/a`, a().address);
    const w = startWatch(kv.kv);
    await w.waitForLog(/^started haproxy/);
    await servedBy(['a']);
    const reloads = await metric('reloads_total');
    const before = w.logs.length;
    w.signal('SIGHUP');
    await w.waitForLog(/^SIGHUP: re-reading the config file, the templates and the store/, before);
    await w.waitForLog(/^reloaded: /, before);
    expect(await metric('signals_total')).toBe(1);
    expect(await metric('reloads_total')).toBe(reloads + 1);
    await servedBy(['a']);
  });

  it('SIGTERM stops HAProxy and watch exits 0', async () => {
    await kv.put(`${PREFIX}/a`, a().address);
    const w = startWatch(kv.kv);
    await w.waitForLog(/^started haproxy/);
    await servedBy(['a']);
    w.signal('SIGTERM');
    expect(await w.exited).toBe(0);
    await expect(httpGet(rig.ports.frontend)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('HAProxy dying on its own makes watch exit non-zero (so the container restarts)', async () => {
    await kv.put(`${PREFIX}/a`, a().address);
    const w = startWatch(kv.kv);
    process.kill(await w.haproxyPid(), 'SIGKILL');
    expect(await w.exited).toBe(137);
    expect(w.count(/^haproxy exited on its own \(killed by SIGKILL\)/)).toBe(1);
  });
});

describe('occs-lb watch: recovery and stopping', () => {
  it("with JSON logs every line on stderr is JSON: HAProxy's own lines come wrapped, at their level, source haproxy", async () => {
    rig.store.put(`${PREFIX}/a`, a().address);
    const w = startWatch(rig.store.url, ['--no-runtime-api']);
    await w.waitForLog(/^started haproxy/);
    const before = w.logs.length;
    rig.store.put(`${PREFIX}/b`, b().address); // a reload: HAProxy says so itself
    await w.waitForLog(/^reloaded: /, before);
    await waitFor("HAProxy's own lines", () => w.logs.some((l) => l.source === 'haproxy' && /New worker/.test(l.msg)) || undefined);
    const lines = w.raw.split('\n').filter(Boolean);
    expect(lines.filter((l) => !l.startsWith('{'))).toEqual([]);
    for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    const notice = w.logs.find((l) => l.source === 'haproxy' && /\[NOTICE\]/.test(l.msg));
    expect(notice?.level).toBe('info');
  });

  it('notices the store is back even when nothing changed during the outage', async () => {
    rig.store.put(`${PREFIX}/a`, a().address);
    const w = startWatch(rig.store.url);
    await w.waitForLog(/^started haproxy/);
    rig.store.fail({ kind: 'status', status: 500 });
    await waitFor('/healthz to report the outage', async () => (await status('/healthz')).status === 503);
    const before = w.logs.length;
    rig.store.fail(undefined);
    await w.waitForLog(/^store reachable again/, before);
    await waitFor('/healthz to be ok again', async () => (await status('/healthz')).status === 200);
    expect(await metric('store_up')).toBe(1);
  });

  it("SIGTERM lets a request in flight finish (HAProxy's soft stop), then exits 0", async () => {
    const slow = await new (await import('../support/backends.js')).Backend('slow', 1500).start();
    try {
      rig.store.put(`${PREFIX}/slow`, slow.address);
      const w = startWatch(rig.store.url);
      await w.waitForLog(/^started haproxy/);
      const inFlight = httpGet(rig.ports.frontend, '/', 10_000);
      await waitFor('the request to reach the backend', () => slow.pending > 0);
      w.signal('SIGTERM');
      expect((await inFlight).body).toBe('slow');
      expect(await w.exited).toBe(0);
    } finally {
      await slow.stop();
    }
  });

  it('runs an --exec command whose path is quoted, and refuses no prefix (exit 2)', async () => {
    const { mkdirSync } = await import('node:fs');
    const { runCli } = await import('../support/cli.js');
    const spaced = join(rig.dir, 'conf dir');
    mkdirSync(spaced);
    const cfg = join(spaced, 'haproxy.cfg');
    rig.store.put(`${PREFIX}/a`, a().address);
    rig.watch = new WatchProcess([
      '--kv',
      rig.store.url,
      '--prefix',
      PREFIX,
      '--out',
      cfg,
      '--exec',
      `haproxy -W -db -f "${cfg}"`,
      ...localHaproxyArgs(rig.ports, rig.dir),
      '--wait',
      '0',
    ]);
    await rig.watch.waitForLog(/^started haproxy/);
    await servedBy(['a']);

    const none = await runCli(['watch', '--kv', rig.store.url, '--out', join(rig.dir, 'x.cfg'), '--once']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no key prefix');
  });
});

describe('occs-lb watch from a file: source', () => {
  it('follows a Kubernetes ConfigMap-style update (a symlink swapped in the directory)', async () => {
    const { mkdirSync, symlinkSync } = await import('node:fs');
    const mount = join(rig.dir, 'mount');
    mkdirSync(join(mount, 'v1'), { recursive: true });
    writeFileSync(join(mount, 'v1', 'kv.properties'), `${PREFIX}/a=${a().address}\n`);
    symlinkSync('v1', join(mount, '..data'));
    symlinkSync('..data/kv.properties', join(mount, 'kv.properties'));
    const w = startWatch(`file:${join(mount, 'kv.properties')}`);
    await w.waitForLog(/^started haproxy/);
    await servedBy(['a']);
    mkdirSync(join(mount, 'v2'));
    writeFileSync(join(mount, 'v2', 'kv.properties'), `${PREFIX}/b=${b().address}\n${PREFIX}/c=${c().address}\n`);
    symlinkSync('v2', join(mount, '..data_tmp'));
    renameSync(join(mount, '..data_tmp'), join(mount, '..data'));
    await servedBy(['b', 'c']);
  });

  it('follows the file as it is edited in place and replaced by rename', async () => {
    const kv = join(rig.dir, 'kv.properties');
    writeFileSync(kv, `${PREFIX}/a=${a().address}\n${PREFIX}/b=${b().address}\n`);
    const w = startWatch(`file:${kv}`);
    await w.waitForLog(/^started haproxy/);
    await servedBy(['a', 'b']);

    writeFileSync(kv, `${PREFIX}/a=${a().address}\n${PREFIX}/b=${b().address}\n${PREFIX}/c=${c().address}\n`);
    await servedBy(['a', 'b', 'c']);

    writeFileSync(join(rig.dir, 'kv.new'), `${PREFIX}/b=${b().address}\n${PREFIX}/c=${c().address}\n${PREFIX}/d=${d().address}\n`);
    renameSync(join(rig.dir, 'kv.new'), kv);
    await servedBy(['b', 'c', 'd']);
  });

  it('a file that becomes malformed: /healthz says so (not "unreachable"), HAProxy keeps serving, and a fixed file is followed', async () => {
    const kv = join(rig.dir, 'kv.json');
    writeFileSync(kv, JSON.stringify({ [`${PREFIX}/a`]: a().address }));
    const w = startWatch(`file:${kv}`);
    await w.waitForLog(/^started haproxy/);
    await servedBy(['a']);
    writeFileSync(kv, `{"${PREFIX}/a": "${a().address}", `);
    await waitFor('/healthz to say the file is malformed', async () => (await status('/healthz')).status === 503 || undefined);
    expect((await status('/healthz')).body).toMatch(/^store file malformed since \S+: /);
    await servedBy(['a']);
    writeFileSync(kv, JSON.stringify({ [`${PREFIX}/a`]: a().address, [`${PREFIX}/b`]: b().address }));
    await servedBy(['a', 'b']);
    await waitFor('/healthz to be ok again', async () => (await status('/healthz')).status === 200 || undefined);
  });
});

describe('occs-lb watch without --exec, reloading an HAProxy that runs already', () => {
  it('--once renders, checks, installs and reloads once, then exits 0', async () => {
    const { HaproxyProcess } = await import('../support/haproxy-process.js');
    const { runCli } = await import('../support/cli.js');
    rig.store.put(`${PREFIX}/a`, a().address);
    const h = new HaproxyProcess(rig.ports.frontend, 'master-worker');
    const args = ['--kv', rig.store.url, '--prefix', PREFIX, '--out', h.config, ...localHaproxyArgs(rig.ports, rig.dir)];
    expect((await runCli(['render', ...args.filter((x) => x !== '--out' && x !== h.config), '--out', h.config])).code).toBe(0);
    await h.start();
    try {
      rig.store.put(`${PREFIX}/b`, b().address);
      const result = await runCli(['watch', ...args, '--master-socket', h.socket, '--once']);
      expect(result.stderr).toMatch(/reloaded|installed/);
      expect(result.code).toBe(0);
      await servedBy(['a', 'b']);
    } finally {
      await h.stop();
    }
  });

  it('follows the store with --master-socket, and a config haproxy -c rejects is never installed', async () => {
    const { HaproxyProcess } = await import('../support/haproxy-process.js');
    const template = join(rig.dir, 'haproxy.cfg.ejs');
    writeFileSync(
      template,
      readFileSync(join(ROOT, 'templates/haproxy.cfg.ejs'), 'utf8') + '<% if (exists("/apps/web/broken")) { %>    not_a_directive\n<% } %>',
    );
    const h = new HaproxyProcess(rig.ports.frontend, 'master-worker');
    rig.store.put(`${PREFIX}/a`, a().address);
    rig.watch = new WatchProcess([
      '--kv',
      rig.store.url,
      '--prefix',
      PREFIX,
      '--prefix',
      'apps/web/broken',
      '--out',
      h.config,
      '--template',
      template,
      '--master-socket',
      h.socket,
      ...localHaproxyArgs(rig.ports, rig.dir),
      '--wait',
      '0',
    ]);
    await rig.watch.waitForLog(/^installed /);
    await h.start();
    rig.store.put(`${PREFIX}/b`, b().address);
    await servedBy(['a', 'b']);
    await waitFor('the file to follow the change', () => readFileSync(h.config, 'utf8').includes(`server b ${b().address}`));

    const good = readFileSync(h.config, 'utf8');
    const before = rig.watch.logs.length;
    rig.store.put('apps/web/broken', 'yes');
    await rig.watch.waitForLog(
      /haproxy -c rejected the new config .* at line \d+ \(from template haproxy\.cfg\.ejs:\d+\): unknown keyword 'not_a_directive'/,
      before,
    );
    expect(readFileSync(h.config, 'utf8')).toBe(good);
    rig.store.delete('apps/web/broken');
    rig.store.put(`${PREFIX}/c`, c().address);
    await servedBy(['a', 'b', 'c']);
    await rig.watch.stop();
    await h.stop();
  });

  it('--interval polls the store instead of following it', async () => {
    rig.store.put(`${PREFIX}/a`, a().address);
    const w = startWatch(rig.store.url, ['--interval', '300ms']);
    await w.waitForLog(/polled every 300ms/);
    await servedBy(['a']);
    rig.store.put(`${PREFIX}/b`, b().address);
    await servedBy(['a', 'b']);
    expect(rig.store.requests.filter((r) => r.query.has('index'))).toEqual([]);
  });
});

describe('watch when HAProxy stalls or its master socket goes', () => {
  it('a change that found the master stalled is tried again once it answers, with no other store change', async () => {
    rig.store.put(`${PREFIX}/a`, a().address);
    const w = startWatch(rig.store.url);
    const master = Number((await w.waitForLog(/^started haproxy/)).pid);
    await servedBy(['a']);
    process.kill(master, 'SIGSTOP');
    try {
      const before = w.logs.length;
      rig.store.put(`${PREFIX}/b`, b().address);
      await w.waitForLog(/does not answer/, before);
      await servedBy(['a']); // the worker serves on; the files are what it runs
      expect(readFileSync(config(), 'utf8')).not.toContain('server b ');
    } finally {
      process.kill(master, 'SIGCONT');
    }
    await servedBy(['a', 'b']);
    await waitFor('the file to record it', () => readFileSync(config(), 'utf8').includes('server b '));
  });

  it('its master socket deleted (a cleaner of /tmp, say): still reloads, by signal, which makes HAProxy bind the socket again; later changes take the runtime API again', async () => {
    rig.store.put(`${PREFIX}/a`, a().address);
    const w = startWatch(rig.store.url);
    const socket = /-S (\S+)/.exec((await w.waitForLog(/^started haproxy/)).msg)![1]!;
    await servedBy(['a']);
    rmSync(socket);

    // A server change needs the runtime API, which is gone with the socket: it goes by reload.
    const before = w.logs.length;
    rig.store.put(`${PREFIX}/b`, b().address);
    await w.waitForLog(/^reloaded: /, before);
    await servedBy(['a', 'b']);
    await waitFor('the master socket to be back', () => existsSync(socket));
    const reloads = await metric('reloads_total');
    rig.store.put(`${PREFIX}/c`, c().address);
    await servedBy(['a', 'b', 'c']);
    expect(await metric('reloads_total')).toBe(reloads);
    expect((await status('/healthz')).status).toBe(200);
  });
});
