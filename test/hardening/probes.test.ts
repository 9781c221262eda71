import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { childPids } from '../../src/haproxy/process.js';
import { runCli } from '../support/cli.js';
import { EtcdServer } from '../support/etcd-server.js';
import { continuousLoad, HaproxyProcess, httpGet, waitFor } from '../support/haproxy-process.js';
import { localHaproxyArgs } from '../support/watch-args.js';
import { WatchProcess } from '../support/watch-process.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

const rig = useWatchRig();
const { status, metric } = rig;

/** The three probes at one moment. */
const probes = async () => ({ livez: await status('/livez'), readyz: await status('/readyz'), healthz: await status('/healthz') });

/** Samples the probes every `everyMs` (a kubelet's period) for `forMs`, while the caller's outage lasts. */
async function sample(forMs: number, everyMs = 500) {
  const seen: Array<Awaited<ReturnType<typeof probes>>> = [];
  const until = Date.now() + forMs;
  while (Date.now() < until) {
    seen.push(await probes());
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return seen;
}

/** A store that goes away for a while: the Consul/OCCS test server (errors, then refused connections) or a real etcd (stopped). */
const outages: Array<
  [
    string,
    () => Promise<{ kv: string; put: (k: string, v: string) => Promise<void>; down: () => Promise<void>; up: () => Promise<void>; stop: () => Promise<void> }>,
  ]
> = [
  [
    'the Consul/OCCS store',
    async () => ({
      kv: rig.store.url,
      put: async (k, v) => rig.store.put(k, v),
      down: async () => {
        rig.store.fail({ kind: 'status', status: 500, body: 'rpc error: No cluster leader' });
        await waitFor('a failed read', async () => (await metric('store_errors_total')) >= 1);
        await rig.store.stop();
      },
      up: async () => {
        rig.store.fail(undefined);
        await rig.store.start();
      },
      stop: async () => {},
    }),
  ],
  [
    'a real etcd',
    async () => {
      const etcd = await new EtcdServer().start();
      return { kv: etcd.url, put: (k, v) => etcd.put(k, v), down: () => etcd.stop(), up: async () => void (await etcd.start()), stop: () => etcd.stop() };
    },
  ],
];

describe.each(outages)('probes through a 30 s outage of %s', (_, makeStore) => {
  it('/readyz and /livez stay 200 all along while HAProxy serves; /healthz reports the store, then recovers', { timeout: 90_000 }, async () => {
    const store = await makeStore();
    try {
      await store.put(`${PREFIX}/a`, rig.address(0));
      const w = rig.startWatch(store.kv);
      await w.waitForLog(/^started haproxy/);
      await rig.servedBy(['a']);
      await waitFor('/readyz to be ready', async () => (await status('/readyz')).status === 200 || undefined);
      expect(await status('/readyz')).toEqual({ status: 200, body: 'ready\n' });
      const load = continuousLoad(rig.ports.frontend, 2);

      await store.down();
      await waitFor('/healthz to report the store', async () => (await status('/healthz')).status === 503 || undefined, 20_000);
      const seen = await sample(30_000);
      await store.up();
      await waitFor('/healthz to be ok again', async () => (await status('/healthz')).status === 200 || undefined, 30_000);
      const stats = await load.stop();

      expect(seen.length).toBeGreaterThan(40);
      expect(seen.filter((p) => p.readyz.status !== 200)).toEqual([]);
      expect(seen.filter((p) => p.livez.status !== 200)).toEqual([]);
      for (const p of seen) {
        expect(p.healthz.status).toBe(503);
        expect(p.healthz.body).toMatch(/^store (unreachable|answering errors|not answering) since /);
        expect(p.readyz.body).toMatch(/^ready: HAProxy serves the last good config \(store /);
      }
      expect(stats.errors).toEqual([]);
      expect(stats.ok).toBeGreaterThan(100);
    } finally {
      await store.stop();
    }
  });
});

describe('/readyz when HAProxy is gone', () => {
  it.each([
    ['--master-socket', (h: HaproxyProcess) => ['--master-socket', h.socket]],
    ['--pid-file', (h: HaproxyProcess) => ['--pid-file', h.pidFile]],
  ])('an HAProxy reloaded by %s and killed: the next /readyz answers 503, /livez stays 200', async (_, strategy) => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const h = new HaproxyProcess(rig.ports.frontend, 'master-worker');
    const args = ['--kv', rig.store.url, '--prefix', PREFIX, ...localHaproxyArgs(rig.ports, rig.dir)];
    expect((await runCli(['render', ...args, '--out', h.config])).code).toBe(0);
    await h.start();
    try {
      rig.watch = new WatchProcess([...args, '--out', h.config, ...strategy(h), '--listen', `127.0.0.1:${rig.ports.status}`, '--wait', '0']);
      await waitFor('/readyz to be ready', async () => (await status('/readyz')).status === 200 || undefined);

      const pids = [h.masterPid, ...childPids(h.masterPid)];
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      await waitFor('HAProxy to be gone', () => pids.every((pid) => !alive(pid)) || undefined);
      // No cache to wait out: the probe asks HAProxy itself.
      expect(await status('/readyz')).toEqual({ status: 503, body: 'haproxy is not running\n' });
      expect(await status('/livez')).toEqual({ status: 200, body: 'alive\n' });
    } finally {
      await h.stop();
    }
  });

  it('before the first install, /readyz is 503 and /livez 200', async () => {
    // A store that is not there: nothing can be rendered, so nothing is installed.
    const w = rig.startWatch('http://127.0.0.1:9');
    await w.waitForLog(/waiting for the first successful render/);
    expect(await status('/readyz')).toEqual({ status: 503, body: 'no checked config installed yet\n' });
    expect(await status('/livez')).toEqual({ status: 200, body: 'alive\n' });
  });
});

describe('/healthz in detail', () => {
  it('names entries skipped as invalid (200, "ok, but"), counts them by reason, and answers JSON to ?format=json or Accept', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    rig.store.put(`${PREFIX}/typo`, '10.0.0.1:80:80');
    rig.store.put(`${PREFIX}/empty`, '');
    const w = rig.startWatch(rig.store.url);
    await w.waitForLog(/^started haproxy/);
    await rig.servedBy(['a']);
    await waitFor('/healthz to name them', async () => (await status('/healthz')).body.includes('skipped') || undefined);
    expect(await status('/healthz')).toEqual({
      status: 200,
      body: `ok, but 2 invalid entries skipped: /${PREFIX}/empty, /${PREFIX}/typo\n`,
    });
    expect(await metric('entries_skipped\\{reason="invalid_server"\\}')).toBe(2);

    for (const [path, headers] of [
      ['/healthz?format=json', {}],
      ['/healthz', { accept: 'text/html;q=0.9, application/json' }],
    ] as const) {
      const answer = await httpGet(rig.ports.status, path, 3000, headers);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      const doc = JSON.parse(answer.body);
      expect(doc).toMatchObject({
        status: 'degraded',
        live: true,
        ready: true,
        haproxy: { running: true, servesCheckedConfig: true },
        store: { up: true, problems: [] },
        backends: { nginx_80: 1 },
        emptyBackends: [],
        shuttingDown: false,
      });
      expect(doc.skipped.map((s: { key: string; kind: string }) => [s.key, s.kind])).toEqual([
        [`/${PREFIX}/empty`, 'invalid_server'],
        [`/${PREFIX}/typo`, 'invalid_server'],
      ]);
    }
    rig.store.delete(`${PREFIX}/typo`);
    rig.store.delete(`${PREFIX}/empty`);
    await waitFor('/healthz to be plain ok', async () => (await status('/healthz')).body === 'ok\n' || undefined);
    expect((await status('/metrics')).body).not.toMatch(/^occs_lb_entries_skipped\{/m);
  });

  it('exports the process metrics by Prometheus convention', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const w = rig.startWatch(rig.store.url);
    await w.waitForLog(/^started haproxy/);
    const rss = Number(/^process_resident_memory_bytes (\S+)$/m.exec((await status('/metrics')).body)?.[1]);
    const statm = Number(readFileSync(`/proc/${w.child.pid}/statm`, 'utf8').split(' ')[1]) * 4096;
    expect(Math.abs(rss - statm) / statm).toBeLessThan(0.5);
    const body = (await status('/metrics')).body;
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1]);
    expect(value('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(Math.abs(value('process_start_time_seconds') - Date.now() / 1000)).toBeLessThan(120);
    // Give or take the connection that asks, and the directory read that counts.
    expect(Math.abs(value('process_open_fds') - readdirSync(`/proc/${w.child.pid}/fd`).length)).toBeLessThanOrEqual(3);
    expect(value('process_max_fds')).toBeGreaterThan(0);
  });
});

describe('--shutdown-delay', () => {
  it('after SIGTERM, HAProxy keeps serving while /readyz answers 503 and /livez 200; then it stops and watch exits 0', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const w = rig.startWatch(rig.store.url, ['--shutdown-delay', '3s']);
    await w.waitForLog(/^started haproxy/);
    await rig.servedBy(['a']);
    const before = w.logs.length;
    w.signal('SIGTERM');
    await w.waitForLog(/^SIGTERM: serving 3 s more before stopping/, before);
    expect(await status('/readyz')).toEqual({ status: 503, body: 'shutting down\n' });
    expect(await status('/livez')).toEqual({ status: 200, body: 'alive\n' });
    await rig.servedBy(['a']);
    expect(w.child.exitCode).toBe(null);
    expect(await w.exited).toBe(0);
    await expect(httpGet(rig.ports.frontend)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('a second SIGTERM ends the delay at once', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const w = rig.startWatch(rig.store.url, ['--shutdown-delay', '10m']);
    await w.waitForLog(/^started haproxy/);
    const before = w.logs.length;
    w.signal('SIGTERM');
    await w.waitForLog(/^SIGTERM: serving 600 s more/, before);
    w.signal('SIGTERM');
    expect(await w.exited).toBe(0);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
