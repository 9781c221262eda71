import { EtcdCluster } from '../support/etcd-cluster.js';
import { httpGet, waitFor } from '../support/haproxy-process.js';
import { median, ms, report } from './stats.js';
import { startRig, type Rig } from './watch.js';

const PREFIX = 'apps/bench/containers';
const TRIALS = Number(process.env.OCCS_LB_BENCH_FAILOVER_TRIALS ?? 10);
/** A change not served this long after the fault is counted as never served in that trial. */
const GIVE_UP_MS = Number(process.env.OCCS_LB_BENCH_FAILOVER_GIVE_UP_S ?? 90) * 1000;
/** The probe interval of the design: hangs are spread over it, a probe may be due at once or in 12 s. */
const PROBE_INTERVAL_MS = 12_000;

type Fault = 'kill' | 'hang';

/** Watch streams open on member `i`, from its own gauge. */
async function watchersOn(cluster: EtcdCluster, i: number): Promise<number> {
  const text = await (await fetch(`${cluster.endpoint(i)}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
  return Number(/^etcd_debugging_mvcc_watcher_total (\S+)$/m.exec(text)?.[1]);
}

/** Until a request through HAProxy is answered by `name`: the time from `since`, or Infinity after GIVE_UP_MS. */
async function servedAfter(rig: Rig, name: string, since: number): Promise<number> {
  while (performance.now() - since < GIVE_UP_MS) {
    const answer = await httpGet(rig.frontend, '/', 1000).catch(() => undefined);
    if (answer?.body === name) return performance.now() - since;
  }
  return Infinity;
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

const shown = (t: number) => (Number.isFinite(t) ? ms(t) : `> ${GIVE_UP_MS / 1000} s`);

/**
 * `npm run bench -- failover`: on a real three-member etcd cluster with watch and HAProxy, the time
 * from the death (kill -9) or the hang (SIGSTOP) of the member in use to a change written right
 * after it being served; TRIALS of each (OCCS_LB_BENCH_FAILOVER_TRIALS).
 */
export async function benchFailover(): Promise<void> {
  const cluster = await new EtcdCluster().start(3);
  try {
    for (const fault of ['kill', 'hang'] as const) {
      const times: number[] = [];
      for (let i = 0; i < TRIALS; i++) times.push(await trial(cluster, fault, (i * PROBE_INTERVAL_MS) / TRIALS));
      const lost = times.filter((t) => !Number.isFinite(t)).length;
      const what = fault === 'kill' ? 'killed (kill -9)' : 'hung (SIGSTOP)';
      const goal = fault === 'kill' ? 'goal p50 <= 2 s, max <= 5 s' : 'goal max <= 15 s: the probe interval plus its timeout';
      report(`failover: the member in use ${what}, a change written through a live member at once: fault → served (${TRIALS} trials, etcd 3.4 x 3)`, [
        [`p50 / max (${goal})`, `${shown(median(times))} / ${shown(Math.max(...times))}`],
        ['each', times.map(shown).join(', ')],
        [`not served within ${GIVE_UP_MS / 1000} s (goal 0)`, String(lost)],
      ]);
    }
  } finally {
    await cluster.stop();
  }
}
