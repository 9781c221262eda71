import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Backend } from '../support/backends.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { continuousLoad, freePort, httpGet, waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { WatchProcess } from '../support/watch-process.js';
import { median, ms, percentile, report } from './stats.js';
import { changeToServing, metricOf, startRig } from './watch.js';
import { localHaproxyArgs } from '../support/watch-args.js';

/**
 * Backend connection reuse of a runtime-added server against a config server; the runtime API
 * path against the reload path, in one run; then 1,000 changes under load.
 */
export async function benchRuntime(): Promise<void> {
  await benchRuntimeReuse();
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
    [
      'runtime API, back-to-back changes (120 trials, ~10/s; the 100 ms query gap shows): p50 / p99',
      `${ms(median(backToBack))} / ${ms(percentile(backToBack, 99))}`,
    ],
  ]);

  const rig = await startRig({ wait: '0' });
  try {
    const reloadsBefore = await metricOf(rig, 'reloads_total');
    const load = continuousLoad(rig.frontend, 4);
    await changeToServing(rig, 1000, { isolated: false }).finally(() => load.stop());
    report('1,000 server changes through the runtime API under continuous new connections (4 clients)', [
      ['reloads (goal 0)', String((await metricOf(rig, 'reloads_total')) - reloadsBefore)],
      ['runtime updates', String(await metricOf(rig, 'runtime_updates_total'))],
      [
        'failed / answered requests (goal 0)',
        `${load.stats.failed} / ${load.stats.ok}${load.stats.errors.length ? ` (${[...new Set(load.stats.errors)].slice(0, 3).join('; ')})` : ''}`,
      ],
    ]);
  } finally {
    await rig.stop();
  }
}

const REUSE_PREFIX = 'apps/bench/reuse';
const WRK = ['-t2', '-c16', '-d2s'];
const ROUNDS = 4;

/**
 * Backend connection reuse of a server added through the runtime API against the same kind of
 * server as a config line, in one run: two HAProxies under watch, each with one keep-alive
 * backend as its only server (one there at start, one added to an empty backend), and wrk
 * through each in turn, ROUNDS times, so a change in the machine's load hits both alike.
 * HAProxy 2.6 keeps no idle connections for a server made by `add server` unless watch gives
 * it the pool settings of a config server.
 */
export async function benchRuntimeReuse(): Promise<void> {
  const config = await oneServer('config');
  let runtime: OneServer | undefined;
  try {
    runtime = await oneServer('runtime');
    for (let i = 0; i < ROUNDS; i++) for (const rig of [config, runtime]) await rig.load();
  } finally {
    await config.stop();
    await runtime?.stop();
  }
  const row = (r: OneServer): string =>
    `${Math.round(r.rps())} req/s, ${r.perConnection().toFixed(1)} requests per backend connection (${r.requests} / ${r.connections})`;
  report(`one keep-alive backend server added through the runtime API vs a config line (wrk ${WRK.join(' ')} through each HAProxy in turn, ${ROUNDS} rounds)`, [
    ['config server', row(config)],
    ['runtime-added server (empty backend at start, then add server)', row(runtime)],
    ['runtime / config, req/s (goal >= 95 %)', `${((100 * runtime.rps()) / config.rps()).toFixed(1)} %`],
    ['runtime / config, requests per backend connection', `${((100 * runtime.perConnection()) / config.perConnection()).toFixed(1)} %`],
  ]);
}

interface OneServer {
  requests: number;
  seconds: number;
  connections: number;
  rps(): number;
  perConnection(): number;
  /** One wrk run through this HAProxy. */
  load(): Promise<void>;
  stop(): Promise<void>;
}

/** `occs-lb watch --exec haproxy` whose only server, a keep-alive backend, is there at start or added at runtime. */
async function oneServer(how: 'config' | 'runtime'): Promise<OneServer> {
  const store = await new ConsulKvServer().start();
  const backend = await new Backend(how, 0, { keepAlive: true }).start();
  const [frontend, stats, status] = [await freePort(), await freePort(), await freePort()];
  const dir = makeTempDir();
  const config = join(dir, 'haproxy.cfg');
  const metric = async (name: string) => Number(new RegExp(`^occs_lb_${name} (\\S+)$`, 'm').exec((await httpGet(status, '/metrics')).body)?.[1]);
  if (how === 'config') store.put(`${REUSE_PREFIX}/only`, backend.address);
  const watch = new WatchProcess([
    '--kv',
    store.url,
    '--prefix',
    REUSE_PREFIX,
    '--out',
    config,
    '--exec',
    `haproxy -W -db -f ${config}`,
    ...localHaproxyArgs({ frontend, stats }, dir),
    '--listen',
    `127.0.0.1:${status}`,
    '--wait',
    '0',
  ]);
  const stop = async () => {
    await watch.stop();
    await store.stop();
    await backend.stop();
  };
  try {
    await watch.waitForLog(/^started haproxy/, 0, 30_000);
    if (how === 'runtime') {
      store.put(`${REUSE_PREFIX}/only`, backend.address);
      await waitFor('the runtime update', async () => (await metric('runtime_updates_total')) === 1);
    }
    await waitFor('HAProxy to serve', async () => (await httpGet(frontend)).body === backend.name);
    if ((await metric('reloads_total')) !== 0) throw new Error('HAProxy was reloaded: the runtime-added server would be a config server by now');
  } catch (error) {
    await stop();
    throw error;
  }
  const rig: OneServer = {
    requests: 0,
    seconds: 0,
    connections: 0,
    rps: () => rig.requests / rig.seconds,
    perConnection: () => rig.requests / Math.max(1, rig.connections),
    async load() {
      const before = { requests: backend.hits, connections: backend.servingConnections };
      const { stdout } = await promisify(execFile)('wrk', [...WRK, `http://127.0.0.1:${frontend}/`]);
      const run = /(\d+) requests in ([\d.]+)(m?s)/.exec(stdout);
      if (!run || /Non-2xx|Socket errors/.test(stdout)) throw new Error(`wrk: ${stdout}`);
      rig.requests += backend.hits - before.requests;
      rig.connections += backend.servingConnections - before.connections;
      rig.seconds += Number(run[2]) / (run[3] === 'ms' ? 1000 : 1);
    },
    stop,
  };
  return rig;
}
