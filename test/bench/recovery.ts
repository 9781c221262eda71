import { EtcdServer } from '../support/etcd-server.js';
import { httpGet, waitFor } from '../support/haproxy-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { median, ms, report } from './stats.js';
import { metricOf, startRig, type Rig } from './watch.js';

const PREFIX = 'apps/bench/containers';
/** The outage of the goal: a change made during a 60 s outage is served ≤ 3 s after the store is back. */
const OUTAGE_MS = Number(process.env.OCCS_LB_BENCH_OUTAGE_S ?? 60) * 1000;

/** Until a request through HAProxy is answered by `name`; the time it took from `since`. */
async function servedAfter(rig: Rig, name: string, since: number): Promise<number> {
  for (;;) {
    const answer = await httpGet(rig.frontend).catch(() => undefined);
    if (answer?.body === name) return performance.now() - since;
    if (performance.now() - since > 120_000) throw new Error(`${name} was never served`);
  }
}

/**
 * The store goes away for OUTAGE_MS; a server is added meanwhile (Consul: written while the store
 * is down, as a peer would; etcd: written the moment etcd is back, before watch can read it);
 * then the time from the store answering again to HAProxy serving the new server.
 */
async function recovery(kind: 'consul' | 'etcd', trials: number): Promise<number[]> {
  const consul = kind === 'consul' ? await new ConsulKvServer().start() : undefined;
  const etcd = kind === 'etcd' ? await new EtcdServer().start() : undefined;
  const proxy = await new TcpProxy(() => consul?.port ?? etcd!.clientPort).start();
  const store = consul ?? etcd!;
  const rig = await startRig({
    wait: '200ms:2s',
    store: { store, kv: `${kind === 'etcd' ? 'etcd' : 'http'}://${proxy.url}`, stop: async () => (await proxy.cut(), await store.stop()) },
  });
  const times: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      const target = rig.backends[1 + (i % (rig.backends.length - 1))]!;
      await proxy.cut();
      if (etcd) await etcd.kill();
      await waitFor('the outage to be seen', async () => (await metricOf(rig, 'store_up')) === 0, 30_000);
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      if (consul) consul.put(`${PREFIX}/moving`, target.address);
      if (etcd) {
        await etcd.start();
        await etcd.put(`${PREFIX}/moving`, target.address);
      }
      await proxy.start();
      times.push(await servedAfter(rig, target.name, performance.now()));
    }
  } finally {
    await rig.stop();
  }
  return times;
}

/**
 * A store that takes connections and answers nothing, while watch is parked on it: the time until
 * /healthz says so. A fresh watch each trial, stalled a different while into its blocking query.
 */
async function stallDetection(trials: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < trials; i++) {
    const consul = await new ConsulKvServer().start();
    const proxy = await new TcpProxy(() => consul.port).start();
    const rig = await startRig({ store: { store: consul, kv: `http://${proxy.url}`, stop: async () => (await proxy.cut(), await consul.stop()) } });
    try {
      await waitFor('/healthz to be ok', async () => (await httpGet(rig.status, '/healthz')).status === 200, 30_000);
      await waitFor('watch to be parked on the store', () => consul.blockedQueries > 0);
      await new Promise((r) => setTimeout(r, (i * 5000) / trials)); // into the probe interval
      const started = performance.now();
      proxy.stall();
      await waitFor('the stall to be noticed', async () => (await httpGet(rig.status, '/healthz')).status === 503, 120_000);
      times.push(performance.now() - started);
    } finally {
      await rig.stop();
    }
  }
  return times;
}

export async function benchRecovery(): Promise<void> {
  const seconds = OUTAGE_MS / 1000;
  for (const [kind, trials] of [
    ['consul', 3],
    ['etcd', 2],
  ] as const) {
    const times = await recovery(kind, trials);
    report(
      `recovery: a server added during a ${seconds} s outage of ${kind === 'etcd' ? 'a real etcd (kill -9, restart)' : 'the Consul/OCCS store'}, default --wait (${trials} trials)`,
      [
        ['store answers again → the new server serves: median (goal <= 3 s)', ms(median(times))],
        ['each', times.map(ms).join(', ')],
      ],
    );
  }
  await benchStall();
}

export async function benchStall(): Promise<void> {
  const stalls = await stallDetection(3);
  report('a stalled store (connections taken, nothing answered) while watch waits on it: time until /healthz is 503 (3 trials)', [
    ['median (goal <= 15 s; a probe every 12 s, each given 2.5 s)', ms(median(stalls))],
    ['each', stalls.map(ms).join(', ')],
  ]);
}
