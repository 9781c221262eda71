import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { EtcdCluster } from '../support/etcd-cluster.js';
import { EtcdServer } from '../support/etcd-server.js';
import { waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { WatchProcess, type LogLine } from '../support/watch-process.js';
import { consulStore, etcdClusterStore, etcdStore, type FleetStore } from './fleet-stores.js';
import { median, ms, percentile, report } from './stats.js';

const WATCHERS = 50;
const TRIALS = 20;
const IDLE_S = 60;
const CHURN = { perSecond: 10, seconds: 10 };
/** Watchers started at once: each costs a Node start-up and a first render, on a small machine too. */
const STARTING_AT_ONCE = 4;
const PREFIX = 'apps/fleet/containers';

/** One watcher of the fleet: file only, its own config file. */
type Member = { watch: WatchProcess; out: string };

const address = (net: number, n: number): string => `10.${net}.${(n >> 8) & 255}.${n & 255}:8080`;

const sleep = (msDelay: number) => new Promise((r) => setTimeout(r, Math.max(0, msDelay)));

/** How a fleet runs: its size, the writes timed, extra watch options, and whether the store's request rates are measured. */
type Setup = { watchers: number; trials: number; extra?: string[]; windows?: boolean; idleS?: number };

/** Starts the fleet, a few at a time, each until it has installed its first config (pushed to `members` at once, for the cleanup). */
async function startFleet(store: FleetStore, setup: Setup, members: Member[]): Promise<void> {
  for (let i = 0; i < setup.watchers; i += STARTING_AT_ONCE) {
    const batch = Array.from({ length: Math.min(STARTING_AT_ONCE, setup.watchers - i) }, () => {
      const out = join(makeTempDir(), 'haproxy.cfg');
      // File only: no --exec, `--reload-cmd true` stands for the reload. Every install still
      // passes `haproxy -c` of the staged file first (src/watch/installer.ts): what users get.
      const args = ['--kv', store.kv, '--prefix', PREFIX, '--out', out, '--reload-cmd', 'true', '--wait', '0', '--bind', '127.0.0.1'];
      // At nice 19 (and so their haproxy -c): the store keeps its CPU, as on a machine of its own
      // (the test server runs in this process). Left to share, 50 busy watchers starve it, and its
      // slow answers, not the watchers, set the figures. The watchers still share the cores.
      const watch = new WatchProcess([...args, ...(setup.extra ?? [])], {}, (argv) => ['nice', ['-n', '19', ...argv]]);
      members.push({ watch, out });
      return watch.waitForLog(/^installed /, 0, 60_000);
    });
    await Promise.all(batch);
  }
}

/** CPU seconds of the watchers: their own, and their children's (`haproxy -c`, the reload command) once reaped. */
function fleetCpu(members: Member[]): { own: number; children: number } {
  const total = { own: 0, children: 0 };
  for (const { watch } of members) {
    const stat = readFileSync(`/proc/${watch.child.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total.own += (Number(f[11]) + Number(f[12])) / 100;
    total.children += (Number(f[13]) + Number(f[14])) / 100;
  }
  return total;
}

/** Write → the last watcher installed it, each watcher installed it, the last reload command done; each stage + `haproxy -c`. */
type Trial = { all: number; each: number[]; allReloaded: number; checks: number[] };

const after = (m: Member, from: number, pattern: RegExp) => m.watch.logs.slice(from).find((l) => pattern.test(l.msg));

/** One write (even trials add a server, odd ones move it), timed to each watcher's "installed" log line. */
async function trial(store: FleetStore, members: Member[], i: number): Promise<Trial> {
  await waitFor('every watcher to wait on the store', () => store.parked(members.length), 30_000);
  const from = members.map((m) => m.watch.logs.length);
  const value = address(1, i);
  const written = Date.now();
  await store.put(`${PREFIX}/t${i - (i % 2)}`, value);
  // One poll for the whole fleet: fifty pollers would take CPU from the fleet itself.
  const lines = await waitFor(
    'every watcher to install the write and run the reload command',
    () => {
      const seen = members.map((m, w) => ({ installed: after(m, from[w]!, /^installed /), reloaded: after(m, from[w]!, /^reloaded: /) }));
      return seen.every((s) => s.installed && s.reloaded) ? seen : undefined;
    },
    60_000,
  );
  for (const m of members) if (!readFileSync(m.out, 'utf8').includes(` ${value} `)) throw new Error(`${m.out} was installed without ${value}`);
  const since = (line: LogLine | undefined) => Date.parse(String(line!.time)) - written;
  const each = lines.map((l) => since(l.installed));
  const checks = lines.map((l) => Number(l.installed!.checkMs));
  return { all: Math.max(...each), each, allReloaded: Math.max(...lines.map((l) => since(l.reloaded))), checks };
}

/** Requests per second of each kind over a window, and in all. */
function rates(before: Record<string, number>, now: Record<string, number>, seconds: number): { text: string; total: number } {
  const per = Object.keys(now).map((kind) => [kind, (now[kind]! - (before[kind] ?? 0)) / seconds] as const);
  const total = per.reduce((n, [, r]) => n + r, 0);
  return { text: `${total.toFixed(1)} req/s (${per.map(([kind, r]) => `${kind} ${r.toFixed(1)}`).join(', ')})`, total };
}

/** The fleet idle for `seconds`: request rates, the same per watcher a minute, and where the watchers wait (a cluster). */
async function idleWindow(store: FleetStore, members: Member[], seconds: number): Promise<Idle> {
  await waitFor('every watcher to wait on the store', () => store.parked(members.length), 30_000);
  const before = await store.requests();
  await sleep(seconds * 1000); // the measuring window
  const { text, total } = rates(before, await store.requests(), seconds);
  return { seconds, text, perWatcherMinute: (total * 60) / members.length, where: await store.where?.() };
}

/** CHURN.perSecond writes a second for CHURN.seconds (one server moving); then every watcher catches up. */
async function churnWindow(store: FleetStore, members: Member[]): Promise<string> {
  const before = await store.requests();
  const started = performance.now();
  let last = '';
  for (let j = 0; j < CHURN.perSecond * CHURN.seconds; j++) {
    last = address(2, j);
    await store.put(`${PREFIX}/churn`, last);
    await sleep(started + ((j + 1) * 1000) / CHURN.perSecond - performance.now());
  }
  const seconds = (performance.now() - started) / 1000;
  const counted = `${rates(before, await store.requests(), seconds).text}; ${CHURN.perSecond * CHURN.seconds} writes in ${seconds.toFixed(1)} s`;
  await waitFor('every watcher to install the last write', () => members.every((m) => readFileSync(m.out, 'utf8').includes(` ${last} `)), 120_000);
  return counted;
}

/** What a fleet measured: CPU seconds per write (all watchers), request rates, error lines logged (a store error, a failed install). */
type Figures = { startup: number; trials: Trial[]; cpu: { own: number; children: number }; idle?: Idle; churn?: string; errors: number };
type Idle = { seconds: number; text: string; perWatcherMinute: number; where?: string };

/** One fleet on one store, measured; the watchers and the store are stopped whatever happens. */
async function measure(store: FleetStore, setup: Setup): Promise<Figures> {
  const members: Member[] = [];
  try {
    for (let s = 0; s < 3; s++) await store.put(`${PREFIX}/seed${s}`, address(0, s + 1));
    const started = performance.now();
    await startFleet(store, setup, members);
    const startup = performance.now() - started;
    const idle = setup.windows ? await idleWindow(store, members, setup.idleS ?? IDLE_S) : undefined;
    const before = fleetCpu(members);
    const trials: Trial[] = [];
    for (let i = 0; i < setup.trials; i++) trials.push(await trial(store, members, i));
    const end = fleetCpu(members);
    const cpu = { own: (end.own - before.own) / setup.trials, children: (end.children - before.children) / setup.trials };
    const churn = setup.windows ? await churnWindow(store, members) : undefined;
    const errors = members.reduce((n, m) => n + m.watch.logs.filter((l) => l.level === 'error').length, 0);
    return { startup, trials, cpu, idle, churn, errors };
  } finally {
    await Promise.all(members.map((m) => m.watch.stop()));
    await store.stop();
  }
}

const p50p99 = (samples: number[]) => `${ms(median(samples))} / ${ms(percentile(samples, 99))}`;
const allInstalled = (f: Figures) => p50p99(f.trials.map((t) => t.all));
const cpuPerWrite = (f: Figures) => `${f.cpu.own.toFixed(2)} s / ${f.cpu.children.toFixed(2)} s`;

function reportStore(name: string, f: Figures): void {
  report(`fleet: ${WATCHERS} watchers (file only, --reload-cmd true, --wait 0) on one ${name} (${TRIALS} writes, one at a time)`, [
    [`one write → all ${WATCHERS} installed it: p50 / p99 (goal p99 <= 100 ms)`, allInstalled(f)],
    ['one write → one watcher installed it: p50 / p99', p50p99(f.trials.flatMap((t) => t.each))],
    ['  of which stage + haproxy -c (its log line): p50 / p99', p50p99(f.trials.flatMap((t) => t.checks))],
    [`one write → all ${WATCHERS} ran the reload command: p50 / p99`, p50p99(f.trials.map((t) => t.allReloaded))],
    [`CPU per write, all watchers: node / haproxy -c + reload command (${availableParallelism()} cores)`, cpuPerWrite(f)],
    [`store requests idle (${f.idle!.seconds} s, all parked; the watchers' only)`, f.idle!.text],
    ['  per watcher a minute (one prefix; goal <= 6)', f.idle!.perWatcherMinute.toFixed(1)],
    ...(f.idle!.where ? [['  where the watchers wait', f.idle!.where] as [string, string]] : []),
    [`store requests during ${CHURN.perSecond} writes/s (${CHURN.seconds} s; the writes not counted)`, f.churn!],
    ["error lines in the watchers' logs (goal 0)", String(f.errors)],
    [`start-up of the ${WATCHERS} (${STARTING_AT_ONCE} at a time, each to its first install)`, ms(f.startup)],
  ]);
}

/** A fleet on one store: users who outgrow one balancer run several watchers against the same Consul or etcd. */
export async function benchFleet(): Promise<void> {
  const fleet: Setup = { watchers: WATCHERS, trials: TRIALS, windows: true };
  reportStore('Consul/OCCS test server', await measure(consulStore(await new ConsulKvServer().start()), fleet));
  reportStore('etcd 3.4', await measure(etcdStore(await new EtcdServer().start()), fleet));
  // Where the time goes: the same pipeline with no neighbours, and the fleet with `haproxy -c`
  // replaced by `true` (a process started and waited for, checking nothing).
  const alone = await measure(consulStore(await new ConsulKvServer().start()), { watchers: 1, trials: TRIALS });
  const unchecked = await measure(consulStore(await new ConsulKvServer().start()), { watchers: WATCHERS, trials: 10, extra: ['--haproxy', 'true'] });
  report(`fleet: where the time goes (Consul/OCCS test server; ${TRIALS} writes alone, 10 without the check)`, [
    ['1 watcher alone: write → installed: p50 / p99', allInstalled(alone)],
    ['  of which stage + haproxy -c: p50 / p99', p50p99(alone.trials.flatMap((t) => t.checks))],
    ['  CPU per write: node / haproxy -c + reload command', cpuPerWrite(alone)],
    [`${WATCHERS} watchers, haproxy -c replaced by true (--haproxy true): all installed: p50 / p99`, allInstalled(unchecked)],
    ['  CPU per write, all watchers: node / true + reload command', cpuPerWrite(unchecked)],
  ]);
}

/**
 * `npm run bench -- fleet-cluster`: the fleet on a real three-member etcd cluster, each watcher
 * given every member (`etcd://m0,m1,m2`); its calls are summed over the members. Idle for 3
 * minutes: each watcher asks another member's /health every 90 s, and a 60 s window that follows
 * the fleet's start-up catches none of them.
 */
export async function benchFleetCluster(): Promise<void> {
  const cluster = await new EtcdCluster().start(3);
  const setup: Setup = { watchers: WATCHERS, trials: TRIALS, windows: true, idleS: 180 };
  reportStore('three-member etcd 3.4 cluster (etcd://m0,m1,m2)', await measure(etcdClusterStore(cluster), setup));
}
