import type { ConsulKvServer } from '../support/consul-kv-server.js';
import type { EtcdCluster } from '../support/etcd-cluster.js';
import type { EtcdServer } from '../support/etcd-server.js';
import { clusterCounts, memberCounts, type EtcdCounts } from './etcd-metrics.js';

/** One store under test: how watch reaches it, how the bench writes to it, what it was asked. */
export interface FleetStore {
  name: string;
  kv: string;
  put(key: string, value: string): Promise<void> | void;
  /** Requests the watchers made so far, by kind (the bench's own writes are left out). */
  requests(): Promise<Record<string, number>>;
  /** `count` watchers wait on the store: their blocking queries are parked, or their watch streams open. */
  parked(count: number): Promise<boolean> | boolean;
  /** Where the watchers wait, when the store has several endpoints. */
  where?(): Promise<string>;
  stop(): Promise<void>;
}

export function consulStore(server: ConsulKvServer): FleetStore {
  return {
    name: 'Consul/OCCS test server',
    kv: server.url,
    put: (key, value) => server.put(key, value),
    // The test server records every request; the bench writes in-process, so all of them are the watchers'.
    requests: async () => {
      const counts = { 'blocking queries': 0, 'full reads': 0, 'liveness probes': 0 };
      for (const r of server.requests) {
        counts[!r.query.has('recurse') ? 'liveness probes' : r.query.has('index') ? 'blocking queries' : 'full reads'] += 1;
      }
      return counts;
    },
    parked: (count) => server.blockedQueries >= count,
    stop: () => server.stop(),
  };
}

/**
 * The watchers' etcd calls by kind. Metrics cannot tell a read from a probe (both are Range calls),
 * but watch reads a range once before each stream it opens on it (src/kv/etcd-watch.ts): the rest
 * are probes. The bench's writes (Put) are left out.
 */
function etcdKinds({ calls }: EtcdCounts, cluster: boolean): Record<string, number> {
  const watches = calls.get('Watch') ?? 0;
  const ranges = calls.get('Range') ?? 0;
  const health = calls.get('/health') ?? 0;
  const named = new Set(['Range', 'Watch', 'Put', '/health']);
  const others = [...calls].reduce((n, [method, count]) => (named.has(method) ? n : n + count), 0);
  const kinds: Record<string, number> = { 'watch streams opened': watches, 'range reads': watches, 'count-only liveness probes': ranges - watches };
  // Only a cluster's members are asked whether they are up (by the watchers using another one).
  if (cluster) kinds['/health of the other members'] = health;
  return { ...kinds, other: others };
}

export function etcdStore(etcd: EtcdServer): FleetStore {
  return {
    name: 'etcd 3.4',
    kv: etcd.url,
    put: (key, value) => etcd.put(key, value),
    requests: async () => etcdKinds(await memberCounts(`http://127.0.0.1:${etcd.clientPort}`), false),
    // Two streams per watcher: the prefix is followed with and without a leading slash.
    parked: async (count) => (await memberCounts(`http://127.0.0.1:${etcd.clientPort}`)).watchers >= 2 * count,
    stop: () => etcd.stop(),
  };
}

/** A real three-member etcd cluster, every member given to each watcher (`etcd://m0,m1,m2`); calls summed over members. */
export function etcdClusterStore(cluster: EtcdCluster): FleetStore {
  return {
    name: 'three-member etcd 3.4 cluster',
    kv: cluster.url,
    // Through the first member that takes it (cluster.put): no status request first, as putSoon would send.
    put: (key, value) => cluster.put(key, value),
    requests: async () => etcdKinds(await clusterCounts(cluster), true),
    parked: async (count) => (await clusterCounts(cluster)).watchers >= 2 * count,
    where: async () => {
      const on = await Promise.all(cluster.clientUrls.map(async (endpoint) => (await memberCounts(endpoint)).watchers));
      return `watchers (two a watcher) on m0, m1, m2: ${on.join(', ')}`;
    },
    stop: () => cluster.stop(),
  };
}
