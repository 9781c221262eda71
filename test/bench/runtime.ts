import { continuousLoad } from '../support/haproxy-process.js';
import { median, ms, percentile, report } from './stats.js';
import { changeToServing, metricOf, startRig } from './watch.js';

/** The runtime API path against the reload path, in one run; then 1,000 changes under load. */
export async function benchRuntime(): Promise<void> {
  const runtime = await startRig({ wait: '0' });
  let runtimeLatency: number[];
  let backToBack: number[];
  try {
    runtimeLatency = await changeToServing(runtime, 120);
    backToBack = await changeToServing(runtime, 120, { isolated: false });
  } finally {
    await runtime.stop();
  }
  const reload = await startRig({ wait: '0', extra: ['--no-runtime-api'] });
  let reloadLatency: number[];
  try {
    reloadLatency = await changeToServing(reload, 100);
  } finally {
    await reload.stop();
  }
  report('change-to-serving latency: runtime API vs reload (KV PUT → first request answered by the moved server, Consul/OCCS store, --wait 0)', [
    ['runtime API (120 trials): p50 (goal <= 20 ms)', ms(median(runtimeLatency))],
    ['runtime API: p99 (goal <= 60 ms)', ms(percentile(runtimeLatency, 99))],
    ['reload (100 trials, --no-runtime-api): p50', ms(median(reloadLatency))],
    ['reload: p99', ms(percentile(reloadLatency, 99))],
    ['runtime API, back-to-back changes (120 trials, ~10/s; the 100 ms query gap shows): p50 / p99', `${ms(median(backToBack))} / ${ms(percentile(backToBack, 99))}`],
  ]);

  const rig = await startRig({ wait: '0' });
  try {
    const reloadsBefore = await metricOf(rig, 'reloads_total');
    const load = continuousLoad(rig.frontend, 4);
    await changeToServing(rig, 1000, { isolated: false }).finally(() => load.stop());
    report('1,000 server changes through the runtime API under continuous new connections (4 clients)', [
      ['reloads (goal 0)', String((await metricOf(rig, 'reloads_total')) - reloadsBefore)],
      ['runtime updates', String(await metricOf(rig, 'runtime_updates_total'))],
      ['failed / answered requests (goal 0)', `${load.stats.failed} / ${load.stats.ok}${load.stats.errors.length ? ` (${[...new Set(load.stats.errors)].slice(0, 3).join('; ')})` : ''}`],
    ]);
  } finally {
    await rig.stop();
  }
}
