import { join } from 'node:path';
import { EtcdCluster } from '../support/etcd-cluster.js';
import { waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { WatchProcess } from '../support/watch-process.js';
import { report } from './stats.js';

const MINUTES = Number(process.env.OCCS_LB_BENCH_STORE_IDLE_MINUTES ?? 2);

/** gRPC calls started on one member, by method, its /health answers, and the watch streams it holds. */
async function memberCounts(cluster: EtcdCluster, i: number): Promise<{ calls: Map<string, number>; watchers: number }> {
  const text = await (await fetch(`${cluster.endpoint(i)}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
  const calls = new Map<string, number>();
  for (const [, method, value] of text.matchAll(/^grpc_server_started_total\{grpc_method="(\w+)",grpc_service="etcdserverpb\.\w+"[^}]*\} (\S+)$/gm)) {
    calls.set(method!, (calls.get(method!) ?? 0) + Number(value));
  }
  // GET /health is no gRPC call: etcd counts its answers apart.
  const health = [...text.matchAll(/^etcd_server_health_(?:success|failures) (\S+)$/gm)].reduce((n, [, value]) => n + Number(value), 0);
  calls.set('/health', health);
  return { calls, watchers: Number(/^etcd_debugging_mvcc_watcher_total (\S+)$/m.exec(text)?.[1]) };
}

/**
 * What the whole cluster was asked, summed over its members: etcd's own count of the gRPC calls
 * it started, by method, and of its /health answers. Each HTTP request to the JSON gateway (a
 * range, a probe, a login) is one call; a watch stream counts once, when it is opened, however
 * long it lasts. Nothing else calls a member here: members talk to each other over the peer port,
 * and reading /metrics is neither a gRPC call nor a /health request.
 */
async function clusterCounts(cluster: EtcdCluster): Promise<{ calls: Map<string, number>; watchers: number }> {
  const all = { calls: new Map<string, number>(), watchers: 0 };
  for (let i = 0; i < cluster.size; i++) {
    const { calls, watchers } = await memberCounts(cluster, i);
    for (const [method, n] of calls) all.calls.set(method, (all.calls.get(method) ?? 0) + n);
    all.watchers += watchers;
  }
  return all;
}

/** One idle watcher for MINUTES: the store requests a minute it made, in all and by method, and the streams it held. */
async function idleWatcher(cluster: EtcdCluster, what: string[]): Promise<Array<[string, string]>> {
  const out = join(makeTempDir(), 'haproxy.cfg');
  const watch = new WatchProcess(['--kv', cluster.url, ...what, '--out', out, '--reload-cmd', 'true', '--wait', '0', '--bind', '127.0.0.1']);
  try {
    await watch.waitForLog(/^installed /, 0, 30_000);
    await waitFor('watch to open its streams', async () => (await clusterCounts(cluster)).watchers > 0, 30_000);
    const before = await clusterCounts(cluster);
    const started = performance.now();
    await new Promise((r) => setTimeout(r, MINUTES * 60_000)); // the measuring window
    const after = await clusterCounts(cluster);
    const minutes = (performance.now() - started) / 60_000;
    const perMinute = [...after.calls]
      .map(([method, n]) => [method, (n - (before.calls.get(method) ?? 0)) / minutes] as const)
      .filter(([, rate]) => rate > 0)
      .sort(([, a], [, b]) => b - a);
    const total = perMinute.reduce((n, [, rate]) => n + rate, 0);
    return [
      [`${what.join(' ')}: store requests a minute, all members (goal <= 6 per prefix)`, total.toFixed(1)],
      ['  by method', perMinute.map(([method, rate]) => `${method} ${rate.toFixed(1)}`).join(', ') || 'none'],
      ['  watch streams open at the end, all members', String(after.watchers)],
      ["  error lines in watch's log", String(watch.logs.filter((l) => l.level === 'error').length)],
    ];
  } finally {
    await watch.stop();
  }
}

/**
 * `npm run bench -- idle`: what one idle watcher costs a real three-member etcd cluster, for one
 * prefix and in stack mode (two prefixes: the apps and the control prefix), over
 * OCCS_LB_BENCH_STORE_IDLE_MINUTES (2) each. First, a window with no watcher: what the cluster
 * asks of itself, if anything. What happens less often than the window (a stream silent for
 * minutes made again with a read) is missed by a short one: lengthen it to see it.
 */
export async function benchIdle(): Promise<void> {
  const cluster = await new EtcdCluster().start(3);
  try {
    await cluster.put('apps/web/containers/one', '10.0.0.1:8080');
    await cluster.put('lb/routes/web', 'web.example.com');
    const quiet = await clusterCounts(cluster);
    await new Promise((r) => setTimeout(r, 30_000));
    const noise = [...(await clusterCounts(cluster)).calls].reduce((n, [method, count]) => n + count - (quiet.calls.get(method) ?? 0), 0);
    const rows: Array<[string, string]> = [['no watcher, 30 s: calls the cluster started', String(noise)]];
    rows.push(...(await idleWatcher(cluster, ['--prefix', 'apps/web/containers'])));
    rows.push(...(await idleWatcher(cluster, ['--stack', 'apps'])));
    report(
      `idle: one watcher on a three-member etcd 3.4 cluster, ${MINUTES} min each (etcd's grpc_server_started_total and /health answers, summed over members)`,
      rows,
    );
  } finally {
    await cluster.stop();
  }
}
