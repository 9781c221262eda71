import { afterEach, describe, expect, it } from 'vitest';
import { EtcdServer } from '../support/etcd-server.js';
import { waitFor } from '../support/haproxy-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

const rig = useWatchRig();
const { servedBy, status, metric } = rig;
const at = (i: number) => rig.address(i);

let etcd: EtcdServer | undefined;
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.cut();
  await etcd?.stop();
  [etcd, proxy] = [undefined, undefined];
});

/** A real etcd that watch reaches through a proxy, so a test decides when watch may read again. */
async function etcdBehindProxy(): Promise<{ etcd: EtcdServer; proxy: TcpProxy }> {
  etcd = await new EtcdServer().start();
  proxy = await new TcpProxy(() => etcd!.clientPort).start();
  return { etcd, proxy };
}

/** etcd dies (kill -9) with watch cut off; `meanwhile` runs once etcd is back, before watch can read it. */
async function crashAndRestart(meanwhile: () => Promise<void>): Promise<void> {
  await proxy!.cut();
  await etcd!.kill();
  await waitFor('/healthz to report the outage', async () => (await status('/healthz')).status === 503, 20_000);
  await etcd!.start();
  await meanwhile();
  await proxy!.start();
}

describe('watch loses no change across an etcd crash (kill -9, restart on the same data dir)', () => {
  it('a delete made as soon as etcd is back, while watch still backs off: applied', async () => {
    const { etcd } = await etcdBehindProxy();
    await etcd.put(`${PREFIX}/a`, at(0));
    await etcd.put(`${PREFIX}/b`, at(1));
    const w = rig.startWatch(`etcd://${proxy!.url}`);
    await w.waitForLog(/^started haproxy/);
    await servedBy(['a', 'b']);
    await etcd.put(`${PREFIX}/c`, at(2)); // seen through the watch stream, not a read
    await servedBy(['a', 'b', 'c']);

    await crashAndRestart(() => etcd.delete(`${PREFIX}/c`));
    await servedBy(['a', 'b']);
    await waitFor('/healthz to be ok again', async () => (await status('/healthz')).status === 200);
    expect(await metric('store_up')).toBe(1);
  });

  it('a server moved by an event, then moved back while watch cannot read: applied', async () => {
    const { etcd } = await etcdBehindProxy();
    await etcd.put(`${PREFIX}/one`, at(0));
    const w = rig.startWatch(`etcd://${proxy!.url}`);
    await w.waitForLog(/^started haproxy/);
    await servedBy(['a']);
    await etcd.put(`${PREFIX}/one`, at(3));
    await servedBy(['d']);

    await crashAndRestart(() => etcd.put(`${PREFIX}/one`, at(0)));
    await servedBy(['a']);
    await waitFor('/healthz to be ok again', async () => (await status('/healthz')).status === 200);
  });
});

describe('a store that stalls (takes connections, answers nothing) is noticed, not mistaken for a quiet one', () => {
  const stores = [
    [
      'the Consul/OCCS store',
      async () => {
        proxy = await new TcpProxy(() => rig.store.port).start();
        return { kv: `http://${proxy.url}`, put: async (k: string, v: string) => rig.store.put(k, v) };
      },
    ],
    [
      'a real etcd',
      async () => {
        const { etcd } = await etcdBehindProxy();
        return { kv: `etcd://${proxy!.url}`, put: (k: string, v: string) => etcd.put(k, v) };
      },
    ],
  ] as const;

  it.each(stores)(
    '%s: /healthz says so while HAProxy keeps serving, and a change made meanwhile is applied once it answers',
    async (_, make) => {
      const store = await make();
      await store.put(`${PREFIX}/a`, at(0));
      // A short --kv-timeout keeps the test short; the benchmark measures the default (10 s).
      const w = rig.startWatch(store.kv, ['--kv-timeout', '2s']);
      await w.waitForLog(/^started haproxy/);
      await servedBy(['a']);
      await waitFor('/healthz to be ok', async () => (await status('/healthz')).status === 200);

      const before = w.logs.length;
      proxy!.stall();
      // Probes every 3 s, each allowed --kv-timeout: the stall is an error long before a 60 s wait ends.
      await waitFor('/healthz to report the stalled store', async () => (await status('/healthz')).status === 503, 30_000);
      expect((await status('/healthz')).body).toMatch(/store not answering since .*did not answer within 2s/);
      expect(await metric('store_up')).toBe(0);
      await w.waitForLog(/keeping the installed config/, before);
      await servedBy(['a']);

      await store.put(`${PREFIX}/b`, at(1));
      proxy!.unstall();
      await servedBy(['a', 'b']);
      await waitFor('/healthz to be ok again', async () => (await status('/healthz')).status === 200);
    },
    60_000,
  );
});
