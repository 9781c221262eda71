import { readFileSync } from 'node:fs';
import { cliCommands, masterCommand } from '../../src/haproxy/master-cli.js';
import { reloadViaMasterSocket } from '../../src/haproxy/reload-master.js';
import { checkConfigFile } from '../../src/haproxy/check.js';
import { waitFor } from '../support/haproxy-process.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { EtcdServer } from '../support/etcd-server.js';
import { SCALE_PREFIX, ScaleRig, type ScaleStore } from '../support/scale-rig.js';
import { receiveCpuMs } from './answer-cpu.js';
import { benchFleet } from './fleet.js';
import { benchScaleStack } from './scale-stack.js';
import { beyondRest, cpuAtRest, cpuMs, cpuOfTail, median, ms, report, spread, warmUpCpu, WARM_UP_ROUNDS } from './stats.js';

const SERVERS = Number(process.env.OCCS_LB_BENCH_SERVERS ?? 10_000);
/** Single changes timed per path (adds, then as many removes). */
const TRIALS = Number(process.env.OCCS_LB_BENCH_SCALE_TRIALS ?? 30);

/**
 * The store's own answer to the read watch makes of the prefix (Consul/OCCS: the whole prefix,
 * recursive), p50 of 10, and the CPU a bare Node process pays only to receive it (answer-cpu.ts).
 */
async function storeAnswerMs(rig: ScaleRig<ScaleStore>): Promise<{ answer: number; parsed: number; receiveCpu: number } | undefined> {
  if (!(rig.store instanceof ConsulKvServer)) return undefined;
  const answer: number[] = [];
  const parsed: number[] = [];
  for (let i = 0; i < 10; i++) {
    const started = performance.now();
    const body = await (await fetch(`${rig.store.url}/v1/kv/${SCALE_PREFIX}/containers/?recurse`)).arrayBuffer();
    answer.push(performance.now() - started);
    // What any reader of the listing pays besides: its text decoded and parsed as JSON.
    JSON.parse(Buffer.from(body).toString('utf8'));
    parsed.push(performance.now() - started);
  }
  const receiveCpu = await receiveCpuMs(`${rig.store.url}/v1/kv/${SCALE_PREFIX}/containers/?recurse`);
  return { answer: median(answer), parsed: median(parsed), receiveCpu };
}

/** Resident memory of a process, in MiB: all of it (VmRSS), and its private part (RssAnon, without the pages of the node binary it shares). */
export function rssMiB(pid: number): { rss: number; anon: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1]) / 1024;
  return { rss: field('VmRSS'), anon: field('RssAnon') };
}

export const mib = (m: { rss: number; anon: number }) => `${m.rss.toFixed(1)} MiB (private ${m.anon.toFixed(1)})`;

/**
 * PUT (or DELETE) → the log line that says HAProxy has the change (runtime read-back done, or
 * reload verified). Returns once the file behind a runtime change is installed too, so the CPU of
 * each change holds its file's write (the file follows once the store is quiet, FOLLOW_QUIET_MS).
 */
async function timeChange(rig: ScaleRig<ScaleStore>, change: () => void | Promise<void>): Promise<number> {
  const from = rig.watch!.logs.length;
  const started = Date.now();
  // From the write's start: etcd's own write time is part of it, as a store's answer is.
  const written = change();
  const line = await rig.applied(from);
  await written;
  if (!String(line.msg).startsWith('reloaded')) await rig.watch!.waitForLog(/^installed .*haproxy -c/, from, 60_000);
  return Date.parse(String(line.time)) - started;
}

/** Waits until HAProxy runs `count` servers up in the backend; returns when, by the clock. */
async function readyServers(rig: ScaleRig<ScaleStore>, count: number, backend = rig.backend()): Promise<number> {
  // The backend's up count: reading every server each poll would take HAProxy's time from the change timed.
  await waitFor(`${count} servers up`, async () => (await rig.upCount(backend)) >= count, 120_000);
  return Date.now();
}

/** 1,000 servers written at once (ms, medians of BULK_ROUNDS rounds). */
interface BulkFigures {
  /** The first write → all 1,000 up in HAProxy. */
  bulk: number;
  /** Each round's, in order. */
  rounds: number[];
  /** When the store had acknowledged the last of the 1,000 writes, from the first. */
  written: number;
  /** HAProxy's own time for the same 1,000 adds, sent by hand in the same rig right before each burst: alone, and while the store takes 1,000 other writes. */
  alone: number;
  loaded: number;
  /** Each round's burst against the adds by hand right before it: alone, and under writes. */
  ratios: Array<[number, number]>;
}

interface PathFigures extends BulkFigures {
  add: number[];
  remove: number[];
  /** CPU of watch per single change, ms (the adds and removes together), after the warm-up. */
  cpu: number;
  /** The same over the WARM_UP changes right after start-up, before the trials. */
  warmUp: number;
  /** The same with what the changes left to do over TAIL_MS after them, less watch's CPU at rest over that time (restPerS, ms per s, taken after them). */
  own: number;
  restPerS: number;
  /** The store's own answer time, where it sends the whole prefix (Consul/OCCS), with its JSON parsed, and the CPU of receiving it. */
  store?: { answer: number; parsed: number; receiveCpu: number };
  idle: { rss: number; anon: number };
  rss: { rss: number; anon: number };
}

/** HAProxy's own times for a burst's adds, and the burst's against each (the goal: ≤ 1.3). */
const floors = (p: BulkFigures) =>
  Number.isNaN(p.alone)
    ? '-'
    : `${ms(p.alone)} / ${ms(p.loaded)} (burst ${(p.bulk / p.alone).toFixed(2)}× / ${(p.bulk / p.loaded).toFixed(2)}× of them; ` +
      `each round against its own: ${p.ratios.map(([a, l]) => `${a.toFixed(2)}× / ${l.toFixed(2)}×`).join(', ')})`;

/** The median burst, and each round's. */
const burst = (p: BulkFigures) => `${ms(p.bulk)} (rounds: ${p.rounds.map(ms).join(', ')})`;

/** One server added, one removed (8 each), then 1,000 added at once, on one path. */
async function pathFigures(extra: string[], layout = { backends: 1, servers: SERVERS }, store?: ScaleStore): Promise<PathFigures> {
  const rig = await new ScaleRig<ScaleStore>(layout, extra, undefined, { store }).start();
  try {
    await rig.settled();
    const idle = rssMiB(rig.watch!.child.pid!);
    const add: number[] = [];
    const remove: number[] = [];
    // One change at a time, 200 ms apart: a change alone is measured, not a stream of them (watch
    // asks Consul at most every 100 ms, MIN_QUERY_GAP_MS, so back-to-back writes would wait for that).
    const apart = () => new Promise((r) => setTimeout(r, 200));
    const added = (n: number) => timeChange(rig, () => rig.store.put(rig.key(n, 0), rig.address)).finally(apart);
    const removed = (n: number) => timeChange(rig, () => rig.store.delete(rig.key(n, 0))).finally(apart);
    const warmUp = await warmUpCpu(rig.watch!.child.pid!, async (i) => {
      await added(95_000 + i);
      await removed(95_000 + i);
    });
    const [cpuBefore, trialsStarted] = [cpuMs(rig.watch!.child.pid!), performance.now()];
    for (let i = 0; i < TRIALS; i++) add.push(await added(90_000 + i));
    for (let i = 0; i < TRIALS; i++) remove.push(await removed(90_000 + i));
    const cpu = (cpuMs(rig.watch!.child.pid!) - cpuBefore) / (2 * TRIALS);
    const trialsMs = performance.now() - trialsStarted;
    // What the changes leave to do counts as theirs; what watch spends anyway does not.
    const tail = await cpuOfTail(rig.watch!.child.pid!);
    const restPerS = await cpuAtRest(rig.watch!.child.pid!);
    const own = beyondRest(cpu * 2 * TRIALS + tail.cpu, trialsMs + tail.elapsed, restPerS) / (2 * TRIALS);
    // Let the file of the last change settle before the bursts.
    await waitFor('the file to follow', () => !readFileSync(rig.config, 'utf8').includes(`s${90_000 + TRIALS - 1}`), 60_000);
    const { rss, ...bulk } = await bulkFigures(rig, layout.servers, !extra.includes('--no-runtime-api'));
    return { add, remove, cpu, warmUp, own, restPerS, store: await storeAnswerMs(rig), ...bulk, idle, rss };
  } finally {
    await rig.stop();
  }
}

/** Changes made right after start-up, before the trials (stats.ts, WARM_UP_ROUNDS: an add and a removal each). */
const WARM_UP = 2 * WARM_UP_ROUNDS;

/** Rounds of 1,000 servers written at once, each set beside HAProxy's own time for the same adds in the same rig. */
const BULK_ROUNDS = 3;

/**
 * 1,000 servers written to the store at once, timed until HAProxy runs them all up, then deleted
 * again (watch takes the servers out), BULK_ROUNDS times. Right before each burst, in the same rig
 * and the same HAProxy, HAProxy's own time for the same 1,000 adds sent by hand: alone, and while
 * the store takes 1,000 writes of keys watch does not read (the load the burst itself puts on these
 * 2 cores: etcd's writes take a core for half a second). Each floor is taken beside its burst, not
 * all after them: HAProxy's time for the same adds moves by a third within minutes (900 to 1,280
 * ms back to back in one rig), more than the goal's 30 %. The adds by hand start right after one
 * of watch's looks for drift (every 30 s), and are gone long before the next: a look that found
 * them would set HAProxy right under them. `withFloors` false (the reload path): no adds by hand.
 */
async function bulkFigures(rig: ScaleRig<ScaleStore>, servers: number, withFloors: boolean): Promise<BulkFigures & { rss: { rss: number; anon: number } }> {
  const rounds: Array<{ bulk: number; written: number; alone: number; loaded: number }> = [];
  let rss = rssMiB(rig.watch!.child.pid!);
  for (let round = 0; round < BULK_ROUNDS; round++) {
    const byHand = { alone: NaN, loaded: NaN };
    if (withFloors) {
      const looks = await rig.metric('drift_verifications_total');
      await waitFor('a look for drift', async () => (await rig.metric('drift_verifications_total')) > looks, 60_000);
      byHand.alone = await haproxyAdds(rig, `alone${round}_`, false);
      byHand.loaded = await haproxyAdds(rig, `loaded${round}_`, true);
    }
    const keys = Array.from({ length: 1000 }, (_, i) => rig.key(80_000 + round * 1000 + i, 0));
    const started = Date.now();
    // The store's own part: when it has acknowledged the last of the writes (etcd takes them over about a second).
    let written = 0;
    const writes = keys.map(async (key) => {
      await rig.store.put(key, rig.address);
      written = Math.max(written, Date.now() - started);
    });
    const bulk = (await readyServers(rig, servers + 1000)) - started;
    await Promise.all(writes);
    if (round === 0) rss = rssMiB(rig.watch!.child.pid!);
    rounds.push({ bulk, written, ...byHand });
    await Promise.all(keys.map(async (key) => rig.store.delete(key)));
    await waitFor('the 1,000 servers to be taken out', async () => (await rig.upCount()) <= servers, 120_000);
    await waitFor('the file to follow', () => !readFileSync(rig.config, 'utf8').includes(`s${80_000 + round * 1000 + 999}`), 60_000);
  }
  const mid = (pick: (r: (typeof rounds)[number]) => number) => median(rounds.map(pick));
  return {
    bulk: mid((r) => r.bulk),
    rounds: rounds.map((r) => r.bulk),
    written: mid((r) => r.written),
    alone: mid((r) => r.alone),
    loaded: mid((r) => r.loaded),
    ratios: rounds.map((r) => [r.bulk / r.alone, r.bulk / r.loaded]),
    rss,
  };
}

/** 1,000 servers as watch adds them: with ids, three commands each, in requests of 8 KiB (150 commands). */
function bulkAdds(name: string, address: string): string[][] {
  return inRequests(1000, (i) => [
    `add server nginx_80/${name}${i} ${address} check inter 30s id ${900_000 + i}`,
    `enable health nginx_80/${name}${i}`,
    `enable server nginx_80/${name}${i}`,
  ]);
}

/** The commands of `count` servers, in requests of 150 commands. */
function inRequests(count: number, commands: (i: number) => string[]): string[][] {
  const requests: string[][] = [[]];
  for (let i = 0; i < count; i++) {
    if (requests.at(-1)!.length >= 150) requests.push([]);
    requests.at(-1)!.push(...commands(i));
  }
  return requests;
}

/**
 * HAProxy's own time for the 1,000 adds of a burst, sent by hand to the rig's HAProxy (watch out
 * of the way), with or without the store taking 1,000 writes of keys watch does not read, all sent
 * at once as in the burst. The servers are deleted again at once, before watch's next look for
 * drift (every 30 s) could see servers the config does not have.
 */
async function haproxyAdds(rig: ScaleRig<ScaleStore>, name: string, underWrites: boolean): Promise<number> {
  const socket = await rig.socket();
  const writes = underWrites ? Array.from({ length: 1000 }, async (_, i) => rig.store.put(`elsewhere/floor/${name}${i}`, rig.address)) : [];
  const started = performance.now();
  for (const commands of bulkAdds(name, rig.address)) await cliCommands(socket, commands, 'master', 60_000);
  const took = performance.now() - started;
  await Promise.all(writes);
  for (const commands of inRequests(1000, (i) => [`set server nginx_80/${name}${i} state maint`, `del server nginx_80/${name}${i}`]))
    await cliCommands(socket, commands, 'master', 60_000);
  return took;
}

/** What HAProxy itself takes at this size: the floor under any of the figures. */
async function haproxyFloor(): Promise<Array<[string, string]>> {
  const rig = await new ScaleRig({ backends: 1, servers: SERVERS }).start();
  try {
    const socket = await rig.socket();
    const timed = async (what: () => Promise<unknown>) => {
      const started = performance.now();
      await what();
      return performance.now() - started;
    };
    const adds: number[] = [];
    const states: number[] = [];
    for (let i = 0; i < 5; i++) {
      adds.push(
        await timed(async () => {
          await masterCommand(socket, `@1 add server nginx_80/floor${i} ${rig.address} check inter 30s`, 10_000);
          await masterCommand(socket, `@1 enable health nginx_80/floor${i}`, 10_000);
          await masterCommand(socket, `@1 enable server nginx_80/floor${i}`, 10_000);
        }),
      );
      states.push(await timed(() => masterCommand(socket, '@1 show servers state nginx_80', 10_000)));
    }
    const [add, state] = [median(adds), median(states)];
    const batched = await timed(async () => {
      for (const commands of bulkAdds('bulk', rig.address)) await cliCommands(socket, commands, 'master', 60_000);
    });
    const check = await timed(() => checkConfigFile('haproxy', rig.config));
    const reload = await timed(() => reloadViaMasterSocket(socket, async () => void (await masterCommand(socket, 'reload', 10_000)), 60_000));
    return [
      ['HAProxy: add server + enable health + enable server, one request each', ms(add)],
      ['HAProxy: 1,000 servers added with ids, 3 commands each, batched', ms(batched)],
      ['HAProxy: show servers state of the backend', ms(state)],
      ['HAProxy: haproxy -c of the file', ms(check)],
      ['HAProxy: reload (master CLI) until the new worker answers', ms(reload)],
    ];
  } finally {
    await rig.stop();
  }
}

/** Memory of watch: idle with 2 servers, after a burst of 1,000 writes, and at 10,000 servers. */
async function memoryFigures(): Promise<Array<[string, string]>> {
  const rig = await new ScaleRig({ backends: 1, servers: 2 }).start();
  try {
    const pid = rig.watch!.child.pid!;
    await new Promise((r) => setTimeout(r, 5000)); // start-up settles
    const idle = rssMiB(pid);
    for (let i = 0; i < 1000; i++) {
      rig.store.put(rig.key(i % 50, 0), `127.0.0.1:${20_000 + i}`);
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 100));
    }
    const peak = rssMiB(pid);
    await waitFor('the burst to be applied', async () => (await rig.metric('backend_servers\\{backend="nginx_80"\\}')) === 50, 60_000);
    await new Promise((r) => setTimeout(r, 10_000)); // what the process keeps, once idle again
    return [
      ['watch RSS idle, 2 servers (goal <= 45 MB)', mib(idle)],
      ['watch RSS right after a burst of 1,000 writes', mib(peak)],
      ['watch RSS 10 s after the burst (goal: within 10 % of idle)', mib(rssMiB(pid))],
    ];
  } finally {
    await rig.stop();
  }
}

/**
 * `OCCS_LB_BENCH_SCALE_ONLY=stack`: only stack mode at 100 apps × 100 servers (and its small stack);
 * `=one`: only one backend through the runtime API, at 10,000 and 100 servers, on both stores.
 */
export async function benchScale(): Promise<void> {
  const only = process.env.OCCS_LB_BENCH_SCALE_ONLY;
  if (only === 'stack') return benchScaleStack();
  const runtime = await pathFigures([]);
  const reload = only === 'one' ? undefined : await pathFigures(['--no-runtime-api']);
  const etcd = await pathFigures([], undefined, new EtcdServer());
  const small = await pathFigures([], { backends: 1, servers: 100 });
  const etcdSmall = await pathFigures([], { backends: 1, servers: 100 }, new EtcdServer());
  const row = (what: string, f: (p: PathFigures) => string): [string, string] => [what, `${f(runtime)}${reload ? `   (--no-runtime-api: ${f(reload)})` : ''}`];
  report(
    `scale: ${SERVERS} servers in one backend, Consul/OCCS test server, --wait 0 (write → HAProxy has it: runtime read-back done, or reload verified; ${TRIALS} trials each)`,
    [
      row("one server added: p50 / p99 (min–max) (goal: the store's answer + 30 ms)", (p) => spread(p.add)),
      row('one server removed: p50 / p99 (min–max)', (p) => spread(p.remove)),
      row("the store's own answer of the whole prefix, alone (p50 of 10)", (p) => ms(p.store?.answer ?? NaN)),
      row('the same answer with its JSON parsed, as any reader must (p50 of 10)', (p) => ms(p.store?.parsed ?? NaN)),
      row(`CPU of watch per single change (goal <= 10 ms), after ${WARM_UP} changes right after start-up`, (p) => ms(p.cpu)),
      row(`… the ${WARM_UP} changes right after start-up, each (not in the figure above)`, (p) => ms(p.warmUp)),
      row("… beside it, the CPU a bare Node process pays only to receive the store's answer, unparsed (mean of 40)", (p) => ms(p.store?.receiveCpu ?? NaN)),
      row(
        '… with what it left to do in the 31 s after, less its CPU at rest over that time (at rest, after them: ms per s)',
        (p) => `${ms(p.own)} (at 100 servers: ${ms(small.own)}; at rest ${p.restPerS.toFixed(1)})`,
      ),
      row(`1,000 servers written at once → all ready in HAProxy, median of ${BULK_ROUNDS} (goal: HAProxy floor + 30 %)`, (p) => burst(p)),
      row('… of which the store took to acknowledge the writes', (p) => ms(p.written)),
      row("HAProxy's own time for the same adds in the same rig, right before each burst: alone / while the store takes 1,000 other writes", floors),
      row(`watch RSS idle at ${SERVERS} servers`, (p) => mib(p.idle)),
      row(`watch RSS right after the changes, at ${SERVERS} + 1,000 servers`, (p) => mib(p.rss)),
    ],
  );
  report(`scale: ${SERVERS} servers in one backend, etcd 3.4, --wait 0 (${TRIALS} trials each)`, [
    ['one server added: p50 / p99 (min–max) (goal 30 / 60 ms)', spread(etcd.add)],
    ['one server removed: p50 / p99 (min–max) (goal 30 / 60 ms)', spread(etcd.remove)],
    [
      `CPU of watch per single change (goal <= 10 ms, and <= 2x the 100-server figure), after ${WARM_UP} changes right after start-up`,
      `${ms(etcd.cpu)} (at 100 servers: ${ms(etcdSmall.cpu)})`,
    ],
    [`… the ${WARM_UP} changes right after start-up, each (not in the figure above)`, `${ms(etcd.warmUp)} (at 100 servers: ${ms(etcdSmall.warmUp)})`],
    [
      '… with what it left to do in the 31 s after, less its CPU at rest over that time (at rest, after them: ms per s)',
      `${ms(etcd.own)} (at 100 servers: ${ms(etcdSmall.own)}; at rest ${etcd.restPerS.toFixed(1)} and ${etcdSmall.restPerS.toFixed(1)})`,
    ],
    ['at 100 servers: one server added / removed, p50', `${ms(median(etcdSmall.add))} / ${ms(median(etcdSmall.remove))}`],
    [`1,000 servers written at once → all ready in HAProxy, median of ${BULK_ROUNDS} (goal: HAProxy floor + 30 %)`, burst(etcd)],
    ['… of which etcd took to acknowledge the 1,000 writes (all sent at once)', ms(etcd.written)],
    ["HAProxy's own time for the same adds in the same rig, right before each burst: alone / while etcd takes 1,000 other writes", floors(etcd)],
  ]);
  report(`scale: 100 servers in one backend, Consul/OCCS test server (the small config to compare with)`, [
    ['one server added / removed: p50', `${ms(median(small.add))} / ${ms(median(small.remove))}`],
    [`CPU of watch per single change, after ${WARM_UP} changes right after start-up`, ms(small.cpu)],
    [`… the ${WARM_UP} changes right after start-up, each`, ms(small.warmUp)],
    ['… with what it left to do in the 31 s after, less its CPU at rest', ms(small.own)],
  ]);
  if (only === 'one') return;
  report(`scale: HAProxy's own floor at ${SERVERS} servers`, await haproxyFloor());
  await benchScaleStack();
  report('scale: memory of watch', await memoryFigures());
  await benchFleet();
}
