import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Backend } from '../support/backends.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { continuousLoad, freePort, httpGet, waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { WatchProcess } from '../support/watch-process.js';
import { median, ms, percentile, report } from './stats.js';
import { localHaproxyArgs } from '../support/watch-args.js';

const PREFIX = 'apps/bench/containers';

/** A store, backends, and `occs-lb watch --exec haproxy` on free ports, for one benchmark. */
export interface Rig {
  store: { put(key: string, value: string): Promise<void> | void; delete(key: string): Promise<void> | void };
  kv: string;
  backends: Backend[];
  frontend: number;
  status: number;
  /** The haproxy.cfg watch installs. */
  config: string;
  watch: WatchProcess;
  /** True while watch is parked on the store, waiting for a change (undefined: always, e.g. etcd's stream). */
  parked?: () => boolean;
  stop(): Promise<void>;
}

/** Starts a rig on the Consul/OCCS test server (another store can be passed by `kv` + `store`). */
export async function startRig(
  options: { wait?: string; backends?: number; extra?: string[]; store?: Pick<Rig, 'store' | 'kv'> & { stop?: () => Promise<void> } } = {},
): Promise<Rig> {
  const consul = options.store ? undefined : await new ConsulKvServer().start();
  const store = options.store?.store ?? consul!;
  const kv = options.store?.kv ?? consul!.url;
  const backends = await Promise.all(Array.from({ length: options.backends ?? 3 }, (_, i) => new Backend(`b${i}`).start()));
  const [frontend, stats, status] = [await freePort(), await freePort(), await freePort()];
  const dir = makeTempDir();
  const config = join(dir, 'haproxy.cfg');
  await store.put(`${PREFIX}/base`, backends[0]!.address);
  const watch = new WatchProcess([
    '--kv',
    kv,
    '--prefix',
    PREFIX,
    '--out',
    config,
    '--exec',
    `haproxy -W -db -f ${config}`,
    ...localHaproxyArgs({ frontend, stats }, dir),
    '--listen',
    `127.0.0.1:${status}`,
    ...(options.wait ? ['--wait', options.wait] : []),
    ...(options.extra ?? []),
  ]);
  await watch.waitForLog(/^started haproxy/, 0, 30_000);
  await waitFor('HAProxy to serve', async () => (await httpGet(frontend)).status === 200);
  return {
    store,
    kv,
    backends,
    frontend,
    status,
    config,
    watch,
    parked: consul && (() => consul.blockedQueries > 0),
    async stop() {
      await watch.stop();
      await consul?.stop();
      await options.store?.stop?.();
      await Promise.all(backends.map((b) => b.stop()));
    },
  };
}

/**
 * PUT a server and time until a request through HAProxy is answered by it, `trials` times.
 * `isolated` (the default) measures changes that find watch waiting on the store, as a change
 * to a registry usually does: each PUT waits until watch's next blocking query is parked.
 * Without it, each PUT follows as soon as the last change is applied (about 10 a second), so a
 * PUT often lands in the ~100 ms gap watch keeps between two blocking queries of the store.
 */
export async function changeToServing(rig: Rig, trials: number, { isolated = true } = {}): Promise<number[]> {
  const latencies: number[] = [];
  const applied = async () => (await metricOf(rig, 'reloads_total')) + (await metricOf(rig, 'runtime_updates_total'));
  const appliedBefore = await applied();
  for (let i = 0; i < trials; i++) {
    const target = rig.backends[1 + (i % (rig.backends.length - 1))]!;
    if (isolated && rig.parked) await waitFor('watch to wait on the store', rig.parked);
    const started = performance.now();
    await rig.store.put(`${PREFIX}/moving`, target.address);
    for (;;) {
      const answer = await httpGet(rig.frontend).catch(() => undefined);
      if (answer?.body === target.name) break;
      if (performance.now() - started > 10_000) throw new Error(`${target.name} was never served`);
    }
    latencies.push(performance.now() - started);
    // Let watch finish this change (verify the reload, or install the file) before the next.
    await waitFor('the change to be counted', async () => (await applied()) >= appliedBefore + i + 1);
  }
  return latencies;
}

export async function metricOf(rig: Rig, name: string): Promise<number> {
  const body = (await httpGet(rig.status, '/metrics')).body;
  return Number(new RegExp(`^occs_lb_${name} (\\S+)$`, 'm').exec(body)?.[1]);
}

/** CPU seconds (user + system) and resident memory of a process, from /proc. */
function usage(pid: number): { cpuSeconds: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return { cpuSeconds: ticks / 100, rssMiB: rssKiB / 1024 };
}

export async function benchWatch(): Promise<void> {
  const rig = await startRig({ wait: '0', extra: ['--no-runtime-api'] });
  try {
    const latencies = await changeToServing(rig, 60);
    report('watch: change-to-serving latency, Consul/OCCS store, reload path, --wait 0 (60 trials)', [
      ['KV PUT → first request answered by the new server: p50', ms(median(latencies))],
      ['p99 (goal <= 300 ms)', ms(percentile(latencies, 99))],
      ['max', ms(Math.max(...latencies))],
    ]);

    const load = continuousLoad(rig.frontend, 4);
    await changeToServing(rig, 100, { isolated: false }).finally(() => load.stop());
    report('watch: 100 server changes by reload (--no-runtime-api) under continuous new connections (4 clients)', [
      [
        'failed / answered requests (goal 0)',
        `${load.stats.failed} / ${load.stats.ok}${load.stats.errors.length ? ` (${[...new Set(load.stats.errors)].slice(0, 3).join('; ')})` : ''}`,
      ],
    ]);
  } finally {
    await rig.stop();
  }

  const burst = await startRig({ extra: ['--no-runtime-api'] });
  try {
    const before = await metricOf(burst, 'reloads_total');
    const started = performance.now();
    for (let i = 0; i < 1000; i++) {
      // Every write changes the config: 50 keys, each flipping between two backends.
      void burst.store.put(`${PREFIX}/s${i % 50}`, burst.backends[1 + (Math.floor(i / 50) % 2)]!.address);
      const due = started + (i + 1) * 10;
      if (due > performance.now()) await new Promise((r) => setTimeout(r, due - performance.now()));
    }
    const writing = performance.now() - started;
    // Every key's last write put it on backend 2: wait until that config is installed and every
    // install but the first (which started HAProxy) has logged its reload.
    const final = burst.backends[2]!.address;
    await waitFor(
      'the last write to be installed and reloaded',
      () => {
        const installed = readFileSync(burst.config, 'utf8');
        const done = Array.from({ length: 50 }, (_, k) => `server s${k} ${final} `).every((line) => installed.includes(line));
        return done && burst.watch.count(/^installed /) === burst.watch.count(/^reloaded: /) + 1;
      },
      15_000,
    );
    report('watch: 1,000 KV writes within 10 s, default --wait (200ms:2s), reload path (--no-runtime-api)', [
      ['writes took', ms(writing)],
      ['reloads performed', String((await metricOf(burst, 'reloads_total')) - before)],
    ]);
  } finally {
    await burst.stop();
  }
}

/** Idle cost of watch (not HAProxy) following a store with blocking queries for `minutes`. */
export async function benchWatchIdle(minutes = Number(process.env.OCCS_LB_BENCH_IDLE_MINUTES ?? 10)): Promise<void> {
  const rig = await startRig();
  try {
    await new Promise((r) => setTimeout(r, 5000)); // start-up settles
    const pid = rig.watch.child.pid!;
    const start = usage(pid);
    await new Promise((r) => setTimeout(r, minutes * 60_000));
    const end = usage(pid);
    const cpu = end.cpuSeconds - start.cpuSeconds;
    report(`watch idle for ${minutes} min on blocking queries (the watch process, not HAProxy)`, [
      ['CPU time used', `${cpu.toFixed(2)} s (${((cpu / (minutes * 60)) * 100).toFixed(3)} % of one core)`],
      ['RSS at the start / after', `${start.rssMiB.toFixed(1)} MiB / ${end.rssMiB.toFixed(1)} MiB`],
      ['store queries in that time', String(rig.store instanceof ConsulKvServer ? rig.store.requests.length : 'n/a')],
    ]);
  } finally {
    await rig.stop();
  }
}
