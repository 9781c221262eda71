import { EtcdCluster } from '../support/etcd-cluster.js';
import { waitFor } from '../support/haproxy-process.js';
import { consulFailoverTimes } from './failover-consul.js';
import { PREFIX, PROBE_INTERVAL_MS, reportFailover, servedAfter, TRIALS, type Fault } from './failover-trials.js';
import { startRig } from './watch.js';

/** Watch streams open on member `i`, from its own gauge. */
async function watchersOn(cluster: EtcdCluster, i: number): Promise<number> {
  const text = await (await fetch(`${cluster.endpoint(i)}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
  return Number(/^etcd_debugging_mvcc_watcher_total (\S+)$/m.exec(text)?.[1]);
}

/**
 * One trial: a fresh watch on the cluster (member 0, the first endpoint, in use; member 1 leads, so
 * the fault is watch's to get over, not an election's), its streams open on member 0; then member 0
 * is killed (kill -9) or hung (SIGSTOP), a server is written through a live member at once, and the
 * time from the fault to HAProxy answering with the new server is taken. A hang comes `phase` ms
 * after the streams opened, so the trials fall at different points of the probe interval.
 */
async function trial(cluster: EtcdCluster, fault: Fault, phase: number): Promise<number> {
  await cluster.moveLeader(1);
  const streams = await watchersOn(cluster, 0);
  const rig = await startRig({ wait: '0', store: { store: { put: (k, v) => cluster.putSoon(k, v), delete: (k) => cluster.delete(k) }, kv: cluster.url } });
  try {
    await waitFor('watch to open its streams on member 0', async () => (await watchersOn(cluster, 0)) > streams, 30_000);
    if (fault === 'hang') await new Promise((r) => setTimeout(r, phase));
    const target = rig.backends[1]!;
    const started = performance.now();
    if (fault === 'kill') await cluster.kill(0);
    else cluster.pause(0);
    await cluster.putSoon(`${PREFIX}/moving`, target.address);
    return await servedAfter(rig, target.name, started);
  } finally {
    await rig.stop();
    await cluster.restore();
    await cluster.deletePrefix(PREFIX);
  }
}

/**
 * `npm run bench -- failover`: with watch and HAProxy, the time from the death or the hang of the
 * store endpoint in use to a change written right after it being served; TRIALS of each
 * (OCCS_LB_BENCH_FAILOVER_TRIALS). On a real three-member etcd cluster (kill -9, SIGSTOP), then
 * on three Consul test servers sharing one store (failover-consul.ts).
 */
export async function benchFailover(): Promise<void> {
  const cluster = await new EtcdCluster().start(3);
  try {
    for (const fault of ['kill', 'hang'] as const) {
      const times: number[] = [];
      for (let i = 0; i < TRIALS; i++) times.push(await trial(cluster, fault, (i * PROBE_INTERVAL_MS) / TRIALS));
      const what = fault === 'kill' ? 'the member in use killed (kill -9)' : 'the member in use hung (SIGSTOP)';
      reportFailover(fault, what, 'etcd 3.4 x 3', times);
    }
  } finally {
    await cluster.stop();
  }
  for (const fault of ['kill', 'hang'] as const) {
    const what =
      fault === 'kill'
        ? 'the Consul server in use stopped (its connections cut, new ones refused)'
        : 'the Consul server in use hung (connections taken, nothing answered)';
    reportFailover(fault, what, 'Consul test server x 3 on one store, each behind a TCP proxy', await consulFailoverTimes(fault));
  }
}
