import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { EtcdServer } from '../support/etcd-server.js';
import { waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { WatchProcess, type LogLine } from '../support/watch-process.js';
import { median, ms, percentile, report } from './stats.js';

const WATCHERS = 50;
const TRIALS = 20;
const IDLE_S = 60;
const CHURN = { perSecond: 10, seconds: 10 };
/** Watchers started at once: each costs a Node start-up and a first render, on a small machine too. */
const STARTING_AT_ONCE = 4;
const PREFIX = 'apps/fleet/containers';

/** One store under test: how watch reaches it, how the bench writes to it, what it was asked. */
interface FleetStore {
  name: string;
  kv: string;
  put(key: string, value: string): Promise<void> | void;
  /** Requests the watchers made so far, by kind (the bench's own writes are left out). */
  requests(): Promise<Record<string, number>>;
  /** `count` watchers wait on the store: their blocking queries are parked, or their watch streams open. */
  parked(count: number): Promise<boolean> | boolean;
  stop(): Promise<void>;
}

/** One watcher of the fleet: file only, its own config file. */
type Member = { watch: WatchProcess; out: string };

function consulStore(server: ConsulKvServer): FleetStore {
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

/** etcd's own Prometheus counters (its client URL's /metrics): gRPC calls started, by method; the JSON gateway's requests are among them. */
async function etcdMetrics(etcd: EtcdServer): Promise<{ calls: Map<string, number>; watchers: number }> {
  const text = await (await fetch(`http://127.0.0.1:${etcd.clientPort}/metrics`)).text();
  const calls = new Map<string, number>();
  for (const [, method, value] of text.matchAll(/^grpc_server_started_total\{grpc_method="(\w+)",grpc_service="etcdserverpb\.\w+"[^}]*\} (\S+)$/gm)) {
    calls.set(method!, (calls.get(method!) ?? 0) + Number(value));
  }
  return { calls, watchers: Number(/^etcd_debugging_mvcc_watcher_total (\S+)$/m.exec(text)?.[1]) };
}

function etcdStore(etcd: EtcdServer): FleetStore {
  return {
    name: 'etcd 3.4',
    kv: etcd.url,
    put: (key, value) => etcd.put(key, value),
    requests: async () => {
      const { calls } = await etcdMetrics(etcd);
      const watches = calls.get('Watch') ?? 0;
      const ranges = calls.get('Range') ?? 0;
      const others = [...calls].reduce((n, [method, count]) => (method === 'Range' || method === 'Watch' || method === 'Put' ? n : n + count), 0);
      // Metrics cannot tell a read from a probe (both are Range calls), but watch reads a range
      // once before each stream it opens on it (src/kv/etcd-watch.ts): the rest are probes.
      return { 'watch streams opened': watches, 'range reads': watches, 'count-only liveness probes': ranges - watches, other: others };
    },
    // Two streams per watcher: the prefix is followed with and without a leading slash.
    parked: async (count) => (await etcdMetrics(etcd)).watchers >= 2 * count,
    stop: () => etcd.stop(),
  };
}

const address = (net: number, n: number): string => `10.${net}.${(n >> 8) & 255}.${n & 255}:8080`;

const sleep = (msDelay: number) => new Promise((r) => setTimeout(r, Math.max(0, msDelay)));

/** How a fleet runs: its size, the writes timed, extra watch options, and whether the store's request rates are measured. */
type Setup = { watchers: number; trials: number; extra?: string[]; windows?: boolean };

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
function rates(before: Record<string, number>, now: Record<string, number>, seconds: number): string {
  const per = Object.keys(now).map((kind) => [kind, (now[kind]! - (before[kind] ?? 0)) / seconds] as const);
  const total = per.reduce((n, [, r]) => n + r, 0);
  return `${total.toFixed(1)} req/s (${per.map(([kind, r]) => `${kind} ${r.toFixed(1)}`).join(', ')})`;
}

async function idleWindow(store: FleetStore, members: Member[]): Promise<string> {
  await waitFor('every watcher to wait on the store', () => store.parked(members.length), 30_000);
  const before = await store.requests();
  await sleep(IDLE_S * 1000); // the measuring window
  return rates(before, await store.requests(), IDLE_S);
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
  const counted = `${rates(before, await store.requests(), seconds)}; ${CHURN.perSecond * CHURN.seconds} writes in ${seconds.toFixed(1)} s`;
  await waitFor('every watcher to install the last write', () => members.every((m) => readFileSync(m.out, 'utf8').includes(` ${last} `)), 120_000);
  return counted;
}

/** What a fleet measured: CPU seconds per write (all watchers), request rates, error lines logged (a store error, a failed install). */
type Figures = { startup: number; trials: Trial[]; cpu: { own: number; children: number }; idle?: string; churn?: string; errors: number };

/** One fleet on one store, measured; the watchers and the store are stopped whatever happens. */
async function measure(store: FleetStore, setup: Setup): Promise<Figures> {
  const members: Member[] = [];
  try {
    for (let s = 0; s < 3; s++) await store.put(`${PREFIX}/seed${s}`, address(0, s + 1));
    const started = performance.now();
    await startFleet(store, setup, members);
    const startup = performance.now() - started;
    const idle = setup.windows ? await idleWindow(store, members) : undefined;
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
    [`store requests idle (${IDLE_S} s, all parked; the watchers' only)`, f.idle!],
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
