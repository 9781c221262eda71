import type { EtcdCluster } from '../support/etcd-cluster.js';

/** What an etcd member (or a cluster, summed) was asked, by method, and the watchers it holds. */
export interface EtcdCounts {
  calls: Map<string, number>;
  watchers: number;
}

/**
 * One member's own counts, from its /metrics: the gRPC calls it started, by method (each HTTP
 * request to the JSON gateway is one; a watch stream counts once, when opened, however long it
 * lasts), its /health answers (no gRPC call: etcd counts them apart, as '/health'), and the
 * watchers open on it (etcd_debugging_mvcc_watcher_total). Reading /metrics counts as neither.
 */
export async function memberCounts(endpoint: string): Promise<EtcdCounts> {
  const text = await (await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
  const calls = new Map<string, number>();
  for (const [, method, value] of text.matchAll(/^grpc_server_started_total\{grpc_method="(\w+)",grpc_service="etcdserverpb\.\w+"[^}]*\} (\S+)$/gm)) {
    calls.set(method!, (calls.get(method!) ?? 0) + Number(value));
  }
  const health = [...text.matchAll(/^etcd_server_health_(?:success|failures) (\S+)$/gm)].reduce((n, [, value]) => n + Number(value), 0);
  calls.set('/health', health);
  return { calls, watchers: Number(/^etcd_debugging_mvcc_watcher_total (\S+)$/m.exec(text)?.[1]) };
}

/**
 * What the whole cluster was asked, summed over its members. Nothing else calls a member in the
 * benchmarks: members talk to each other over the peer port.
 */
export async function clusterCounts(cluster: EtcdCluster): Promise<EtcdCounts> {
  const all = { calls: new Map<string, number>(), watchers: 0 };
  for (const endpoint of cluster.clientUrls) {
    const { calls, watchers } = await memberCounts(endpoint);
    for (const [method, n] of calls) all.calls.set(method, (all.calls.get(method) ?? 0) + n);
    all.watchers += watchers;
  }
  return all;
}

/** Calls a minute by method between two counts (those with none left out), most first, and in all. */
export function callRates(before: EtcdCounts, after: EtcdCounts, minutes: number): { total: number; byMethod: Array<[string, number]> } {
  const byMethod = [...after.calls]
    .map(([method, n]): [string, number] => [method, (n - (before.calls.get(method) ?? 0)) / minutes])
    .filter(([, rate]) => rate > 0)
    .sort(([, a], [, b]) => b - a);
  return { total: byMethod.reduce((n, [, rate]) => n + rate, 0), byMethod };
}
