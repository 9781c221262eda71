import { ConsulKvServer } from '../support/consul-kv-server.js';
import { EtcdServer } from '../support/etcd-server.js';
import { httpGet, waitFor } from '../support/haproxy-process.js';
import { ScaleRig, type ScaleStore } from '../support/scale-rig.js';
import { ms, report } from './stats.js';

const SERVERS = Number(process.env.OCCS_LB_BENCH_SERVERS ?? 10_000);
const DELETES = 1000;

/** Asks /livez every 50 ms until stopped; returns the slowest answer and how many failed or took over 1 s. */
function probeLivez(port: number): { stop(): Promise<{ max: number; late: number; probes: number }> } {
  let probing = true;
  let max = 0;
  let late = 0;
  let probes = 0;
  const done = (async () => {
    while (probing) {
      const started = performance.now();
      const status = await httpGet(port, '/livez', 30_000).then(
        (a) => a.status,
        () => 0,
      );
      const took = performance.now() - started;
      probes += 1;
      max = Math.max(max, took);
      if (status !== 200 || took > 1000) late += 1;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      probing = false;
      await done;
      return { max, late, probes };
    },
  };
}

/** 1,000 keys deleted one request each (8 in flight), with the default --wait: until HAProxy runs none of them. */
async function burstFigures(store: ScaleStore): Promise<Array<[string, string]>> {
  const rig = await new ScaleRig({ backends: 1, servers: SERVERS }, [], undefined, { store, wait: '200ms:2s' }).start();
  try {
    await new Promise((r) => setTimeout(r, 3000)); // start-up settles
    const renders = await rig.metric('renders_total');
    const livez = probeLivez(rig.ports.status);
    const deleted = Array.from({ length: DELETES }, (_, i) => i * 7);
    const names = new Set(deleted.map((n) => `s${String(n).padStart(5, '0')}`));
    const started = performance.now();
    for (let i = 0; i < deleted.length; i += 8) await Promise.all(deleted.slice(i, i + 8).map(async (n) => rig.store.delete(rig.key(n))));
    const written = performance.now() - started;
    await waitFor(
      'the deleted servers to leave HAProxy',
      async () => {
        const running = await rig.servers();
        return running.size === SERVERS - DELETES && ![...names].some((name) => running.has(name));
      },
      300_000,
    );
    const gone = performance.now() - started;
    const { max, late, probes } = await livez.stop();
    return [
      ['deletes written (8 in flight)', ms(written)],
      ['first delete to the last deleted server gone from HAProxy', ms(gone)],
      ['renders done', String((await rig.metric('renders_total')) - renders)],
      ['/livez every 50 ms: slowest answer', ms(max)],
      ['/livez answers failed or over 1 s', `${late} of ${probes}`],
    ];
  } finally {
    await rig.stop();
  }
}

export async function benchBurst(): Promise<void> {
  report(`a burst: ${DELETES} deletes one request each at ${SERVERS} servers, etcd 3.4, --wait 200ms:2s`, await burstFigures(new EtcdServer()));
  report(
    `a burst: ${DELETES} deletes one change each at ${SERVERS} servers, Consul/OCCS test server, --wait 200ms:2s`,
    await burstFigures(new ConsulKvServer()),
  );
}
