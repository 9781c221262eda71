import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Backend } from '../support/backends.js';
import { EtcdServer } from '../support/etcd-server.js';
import { waitFor } from '../support/haproxy-process.js';
import { useStackRig, type StackStore } from '../support/stack-rig.js';

const stack = useStackRig();
const { rig } = stack;
const at = (i: number) => rig.address(i);

const stores: Array<[string, () => Promise<StackStore & { stop(): Promise<void> }>]> = [
  [
    'the Consul/OCCS store',
    async () => ({ kv: rig.store.url, put: async (k, v) => rig.store.put(k, v), delete: async (k) => rig.store.delete(k), stop: async () => {} }),
  ],
  [
    'a real etcd',
    async () => {
      const etcd = await new EtcdServer().start();
      return { kv: etcd.url, put: (k, v) => etcd.put(k, v), delete: (k) => etcd.delete(k), stop: () => etcd.stop() };
    },
  ],
];

/** web (a) and api (b) by Host, admin (c) by a path prefix on web's host. */
async function threeApps(kv: StackStore): Promise<void> {
  await kv.put('apps/web/containers/w1', at(0));
  await kv.put('apps/api/containers/a1', at(1));
  await kv.put('apps/admin/containers/m1', at(2));
  await kv.put('lb/routes/web', 'www.example.test');
  await kv.put('lb/routes/api', 'api.example.test');
  await kv.put('lb/routes/admin', 'www.example.test/admin');
}

const fileOf = (kind: string) => readFileSync(join(rig.dir, `haproxy.${kind}.map`), 'utf8');

describe.each(stores)('occs-lb watch --stack, from %s', (_, makeStore) => {
  let kv: StackStore & { stop(): Promise<void> };
  beforeEach(async () => {
    kv = await makeStore();
  });
  afterEach(async () => {
    await kv.stop();
  });

  it('routes two apps by Host and one by path prefix, and adds, moves and removes a route with the same worker', async () => {
    await threeApps(kv);
    const w = await stack.start(kv.kv);
    await stack.servedAs('www.example.test', '/', ['a']);
    await stack.servedAs('api.example.test', '/', ['b']);
    await stack.servedAs('www.example.test', '/admin/users', ['c']);
    // Host is matched lower-cased, without its port; the longest path prefix wins.
    await stack.servedAs('WWW.Example.TEST:8080', '/admin', ['c']);
    await stack.servedAs('api.example.test', '/admin', ['b']);
    const missing = await stack.get('nowhere.example.test', '/');
    expect([missing.status, missing.body]).toEqual([404, 'no route for this host and path']);
    const before = await rig.workers(w);

    await kv.put('lb/routes/api', 'api.example.test new.example.test'); // added
    await stack.servedAs('new.example.test', '/', ['b']);
    await kv.put('lb/routes/api', 'api.example.test'); // moved: api lets it go, web takes it
    await kv.put('lb/routes/web', 'www.example.test new.example.test');
    await stack.servedAs('new.example.test', '/', ['a']);
    await kv.put('lb/routes/web', 'www.example.test'); // removed
    await stack.servedAs('new.example.test', '/', []);

    expect(await rig.workers(w)).toEqual(before);
    expect(await rig.metric('reloads_total')).toBe(0);
    expect(await rig.metric('runtime_updates_total')).toBeGreaterThanOrEqual(3);
    expect(await stack.map('hosts')).toEqual(['api.example.test/ api', 'www.example.test/ web', 'www.example.test/admin admin']);
    await waitFor('the map file to follow', () => !fileOf('hosts').includes('new.example.test') && fileOf('hosts').includes('www.example.test/admin admin'));
    execFileSync('haproxy', ['-c', '-q', '-f', rig.config()]);
  });

  it('gives a third app its backend by one verified reload', async () => {
    await threeApps(kv);
    const w = await stack.start(kv.kv);
    await stack.servedAs('www.example.test', '/', ['a']);
    const before = await rig.workers(w);

    await kv.put('apps/shop/containers/s1', at(3));
    await kv.put('lb/routes/shop', 'shop.example.test');
    await stack.servedAs('shop.example.test', '/', ['d']);
    await stack.servedAs('www.example.test', '/admin', ['c']);
    await waitFor('one reload', async () => (await rig.metric('reloads_total')) === 1);
    expect(await rig.workers(w)).not.toEqual(before);
    // Verified: watch names the worker that took over, the one HAProxy's master CLI now lists.
    const reload = await w.waitForLog(/^reloaded: worker/);
    expect(reload.after).toEqual(await rig.workers(w));
    // /metrics: servers per app, the 404 backend no app.
    const metrics = (await rig.status('/metrics')).body;
    for (const app of ['web', 'api', 'admin', 'shop']) expect(metrics).toContain(`occs_lb_backend_servers{backend="${app}"} 1\n`);
    expect(metrics).not.toContain('occs_lb_no_route');
  });

  it('splits traffic 1:3 by weight within 10 % over 400 requests, with no reload', async () => {
    await kv.put('apps/web/containers/w1', at(0));
    await kv.put('apps/web/containers/w2', at(1));
    await kv.put('lb/routes/web', 'www.example.test');
    const w = await stack.start(kv.kv);
    await stack.servedAs('www.example.test', '/', ['a', 'b']);
    const before = await rig.workers(w);

    await kv.put('lb/weights/web/w1', '10');
    await kv.put('lb/weights/web/w2', '30');
    await waitFor('weights 10 and 30 in HAProxy', async () => {
      const s = await stack.servers('web');
      return s.w1?.weight === 10 && s.w2?.weight === 30;
    });
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 400; i++) counts[(await stack.get('www.example.test')).body as 'a' | 'b'] += 1;
    expect(counts.a + counts.b).toBe(400);
    expect(counts.a).toBeGreaterThanOrEqual(90);
    expect(counts.a).toBeLessThanOrEqual(110);
    expect(await rig.workers(w)).toEqual(before);
    expect(await rig.metric('reloads_total')).toBe(0);

    await kv.delete('lb/weights/web/w1'); // back to the default, 100
    await waitFor('w1 back at weight 100', async () => (await stack.servers('web')).w1?.weight === 100);
    await waitFor('the file to keep the weights', () => /server w2 \S+ check weight 30\n/.test(readFileSync(rig.config(), 'utf8')));
  });
});

describe('occs-lb watch --stack: drain and maintenance', () => {
  it('drain lets the request in flight finish and takes no new ones; maint takes nothing, also for a server added in it; a state key removed puts the server back', async () => {
    const slow = await new Backend('slow', 1500).start();
    try {
      rig.store.putMany([
        ['apps/web/containers/w1', at(0)],
        ['apps/web/containers/w2', slow.address],
        ['lb/state/web/w1', 'maint'],
        ['lb/routes/web', 'www.example.test'],
      ]);
      const w = await stack.start(rig.store.url);
      await waitFor('w1 in maintenance', async () => (await stack.servers('web')).w1?.maint === true);
      const before = await rig.workers(w);
      const inFlight = stack.get('www.example.test');
      await waitFor('a request in flight on w2', () => slow.pending === 1);

      rig.store.put('lb/state/web/w2', 'drain');
      rig.store.delete('lb/state/web/w1');
      await waitFor('w2 draining, w1 back', async () => {
        const s = await stack.servers('web');
        return s.w2?.weight === 0 && s.w1?.maint === false && s.w1.weight === 100;
      });
      expect(await inFlight).toMatchObject({ status: 200, body: 'slow' });
      const answers = await Promise.all(Array.from({ length: 20 }, () => stack.get('www.example.test').then((a) => a.body)));
      expect(new Set(answers)).toEqual(new Set(['a']));
      expect(slow.hits).toBe(1);

      rig.store.put('lb/state/web/w2', 'maint');
      await waitFor('w2 in maintenance', async () => (await stack.servers('web')).w2?.maint === true);
      await waitFor('the file to keep it', () => /server w2 \S+ check weight 100 disabled\n/.test(readFileSync(rig.config(), 'utf8')));
      rig.store.delete('lb/state/web/w2');
      await stack.servedAs('www.example.test', '/', ['a', 'slow'], 4);

      // A server whose state is maint before it appears is added in maintenance, with no reload.
      rig.store.put('lb/state/web/w3', 'maint');
      rig.store.put('apps/web/containers/w3', at(1));
      await waitFor('w3 added in maintenance', async () => (await stack.servers('web')).w3?.maint === true);
      expect(new Set(await Promise.all(Array.from({ length: 12 }, () => stack.get('www.example.test').then((a) => a.body))))).not.toContain('b');
      rig.store.delete('lb/state/web/w3');
      await stack.servedAs('www.example.test', '/', ['a', 'b', 'slow'], 6);
      expect(await rig.workers(w)).toEqual(before);
      expect(await rig.metric('reloads_total')).toBe(0);
    } finally {
      await slow.stop();
    }
  });
});

describe('occs-lb watch --stack: SIGHUP', () => {
  it('writes the map files again, so one edited or deleted by hand never reaches HAProxy', async () => {
    rig.store.putMany([
      ['apps/web/containers/w1', at(0)],
      ['apps/api/containers/a1', at(1)],
      ['lb/routes/web', 'www.example.test'],
      ['lb/routes/api', '/api'],
    ]);
    const w = await stack.start(rig.store.url);
    await stack.servedAs('www.example.test', '/', ['a']);
    const [hosts, paths] = [fileOf('hosts'), fileOf('paths')];
    writeFileSync(join(rig.dir, 'haproxy.hosts.map'), hosts.replace('www.example.test/ web', 'www.example.test/ api'));
    rmSync(join(rig.dir, 'haproxy.paths.map'));

    const before = w.logs.length;
    w.signal('SIGHUP');
    await w.waitForLog(/^reloaded: worker/, before);
    expect([fileOf('hosts'), fileOf('paths')]).toEqual([hosts, paths]);
    await stack.servedAs('www.example.test', '/', ['a']);
    await stack.servedAs('other.example.test', '/api', ['b']);
    expect(await stack.map('hosts')).toEqual(['www.example.test/ web']);
  });
});
