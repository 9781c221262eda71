import { join } from 'node:path';
import { EtcdCluster } from '../support/etcd-cluster.js';
import { waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { WatchProcess } from '../support/watch-process.js';
import { callRates, clusterCounts } from './etcd-metrics.js';
import { consulIdle } from './idle-consul.js';
import { report } from './stats.js';

const MINUTES = Number(process.env.OCCS_LB_BENCH_STORE_IDLE_MINUTES ?? 2);

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
    const { total, byMethod } = callRates(before, after, (performance.now() - started) / 60_000);
    return [
      [`${what.join(' ')}: store requests a minute, all members (goal <= 6 per prefix)`, total.toFixed(1)],
      ['  by method', byMethod.map(([method, rate]) => `${method} ${rate.toFixed(1)}`).join(', ') || 'none'],
      ['  watch streams open at the end, all members', String(after.watchers)],
      ["  error lines in watch's log", String(watch.logs.filter((l) => l.level === 'error').length)],
    ];
  } finally {
    await watch.stop();
  }
}

/**
 * What one idle watcher costs a real three-member etcd cluster, for one prefix and in stack mode
 * (two prefixes: the apps and the control prefix), over MINUTES each: etcd's own counts
 * (etcd-metrics.ts), summed over members. First, a window with no watcher: what the cluster
 * asks of itself, if anything.
 */
async function etcdIdle(): Promise<void> {
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

/**
 * `npm run bench -- idle`: what one idle watcher costs the store, on etcd (above) and, at the same
 * time, on three Consul test servers (idle-consul.ts). OCCS_LB_BENCH_STORE_IDLE_MINUTES sets the
 * windows (2 min a mode on etcd, 6 on Consul by default). What happens less often than a window
 * (a stream silent for minutes made again with a read) is missed by a short one: lengthen it to
 * see it.
 */
export async function benchIdle(): Promise<void> {
  const ran = await Promise.allSettled([etcdIdle(), consulIdle()]);
  for (const r of ran) if (r.status === 'rejected') throw r.reason;
}
