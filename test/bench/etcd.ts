import { ConsulSource } from '../../src/kv/consul.js';
import { EtcdSource } from '../../src/kv/etcd.js';
import { parseKvLocation } from '../../src/kv/open.js';
import type { KvSource } from '../../src/kv/source.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { EtcdServer } from '../support/etcd-server.js';
import { median, ms, percentile, report } from './stats.js';
import { changeToServing, startRig } from './watch.js';

const KEYS = 10_000;

async function latency(kind: 'consul' | 'etcd', trials: number, extra: string[] = []): Promise<number[]> {
  const etcd = kind === 'etcd' ? await new EtcdServer().start() : undefined;
  const rig = await startRig({ wait: '0', extra, store: etcd && { store: etcd, kv: etcd.url, stop: () => etcd.stop() } });
  try {
    return await changeToServing(rig, trials);
  } finally {
    await rig.stop();
  }
}

async function timeReads(source: KvSource, prefix: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < 11; i++) {
    const started = performance.now();
    const { pairs } = await source.read([prefix]);
    times.push(performance.now() - started);
    if (pairs.length !== KEYS) throw new Error(`read ${pairs.length} keys, not ${KEYS}`);
  }
  return times.slice(1); // the first read warms the connection
}

/** Writes `count` keys through `put`, 64 at a time. */
async function fill(put: (key: string, value: string) => Promise<void> | void, prefix: string): Promise<void> {
  for (let i = 0; i < KEYS; i += 64) {
    await Promise.all(
      Array.from({ length: Math.min(64, KEYS - i) }, async (_, j) =>
        put(`${prefix}/c${String(i + j).padStart(5, '0')}`, `10.${((i + j) >> 8) & 255}.${(i + j) & 255}.1:8080`),
      ),
    );
  }
}

export async function benchEtcd(): Promise<void> {
  const rows: Array<[string, string]> = [];
  for (const [path, extra] of [
    ['runtime API', []],
    ['reload (--no-runtime-api)', ['--no-runtime-api']],
  ] as const) {
    for (const kind of ['consul', 'etcd'] as const) {
      const times = await latency(kind, 60, [...extra]);
      rows.push([`${path}, ${kind === 'consul' ? 'Consul/OCCS' : 'etcd'}: p50 / p99`, `${ms(median(times))} / ${ms(percentile(times, 99))}`]);
    }
  }
  report('change-to-serving latency, --wait 0: etcd vs Consul/OCCS (60 trials each, same run)', rows);

  const etcdServer = await new EtcdServer().start();
  const consulServer = await new ConsulKvServer().start();
  try {
    await fill((k, v) => etcdServer.put(k, v), 'apps/big');
    await fill((k, v) => consulServer.put(k, v), 'apps/big');
    const open = (url: string) => {
      const location = parseKvLocation(url, '/');
      if (location.kind === 'file') throw new Error('expected a store');
      const options = { timeoutMs: 30_000, insecure: false };
      return location.kind === 'etcd' ? new EtcdSource(location.endpoints, options) : new ConsulSource(location.endpoints, options);
    };
    const etcdSource = open(etcdServer.url);
    const consulSource = open(consulServer.url);
    const etcdTimes = await timeReads(etcdSource, 'apps/big');
    const consulTimes = await timeReads(consulSource, 'apps/big');
    await etcdSource.close();
    await consulSource.close();
    report(`read of a prefix holding ${KEYS} keys (median of 10)`, [
      ['etcd (range read; both key shapes)', ms(median(etcdTimes))],
      ['Consul/OCCS test server (recursive GET)', ms(median(consulTimes))],
    ]);
  } finally {
    await etcdServer.stop();
    await consulServer.stop();
  }
}
