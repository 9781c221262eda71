import { join } from 'node:path';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { EtcdServer } from '../support/etcd-server.js';
import { SCALE_PREFIX, ScaleRig, type ScaleStore } from '../support/scale-rig.js';
import { mapEntries, serverStates } from '../support/server-states.js';
import { mib, rssMiB } from './scale.js';
import { until } from './stack.js';
import { beyondRest, cpuAtRest, cpuMs, cpuOfTail, median, ms, report, spread, warmUpCpu, WARM_UP_ROUNDS } from './stats.js';

// Stack mode at scale: `watch --stack` with the shipped stack template, B apps × N servers, one change at a time.

const TRIALS = Number(process.env.OCCS_LB_BENCH_SCALE_TRIALS ?? 30);
const KINDS = ['add', 'remove', 'weight', 'route'] as const;
type Kind = (typeof KINDS)[number];

interface KindFigures {
  /** Write → HAProxy shows it, ms. */
  latency: number[];
  /** CPU of watch per change, ms. */
  cpu: number;
  /** Changes that went by reload, not by the runtime API. */
  reloads: number;
  /** haproxy -c of the file a runtime change installs behind it, ms. */
  check: number[];
  /** Bytes the Consul/OCCS test server sent per change (undefined for etcd). */
  bytes?: number;
  /** Wall time of the kind's trials, ms. */
  elapsed: number;
}
type StackFigures = Record<Kind, KindFigures> & {
  /** CPU of watch per change over the warm-up right after start-up (every kind WARM_UP_ROUNDS times), ms. */
  warmUp: number;
  idle: { rss: number; anon: number };
  whole?: number;
  /** CPU of watch at rest, after the changes and TAIL_MS, ms per second (its look at HAProxy for drift every 30 s, probes, timers). */
  resting: number;
  /** CPU of watch over TAIL_MS after the last change (what the changes left to do), and how long that was, ms. */
  tail: { cpu: number; elapsed: number };
};

/** Changes made right after start-up, before the trials. */
const WARM_UP = WARM_UP_ROUNDS * KINDS.length;

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/**
 * Store write (timed from just before it) → `served` holds (polled back to back) → watch's log says
 * it applied it, and installed the file behind a runtime change; then 200 ms apart, so each change
 * is measured alone (at 10,000 servers that file's haproxy -c outlasts 200 ms).
 */
async function timeOne(rig: ScaleRig<ScaleStore>, write: () => void | Promise<void>, served: () => Promise<boolean>) {
  const from = rig.watch!.logs.length;
  const started = performance.now();
  const written = write();
  const took = await until('the change to be served', started, served, 60_000);
  await written;
  const reloaded = String((await rig.applied(from)).msg).startsWith('reloaded');
  const installed = reloaded ? undefined : await rig.watch!.waitForLog(/^installed .*haproxy -c/, from, 60_000);
  await new Promise((r) => setTimeout(r, 200));
  return { took, reloaded, check: Number(installed?.checkMs ?? NaN) };
}

/** The four kinds of change, each made TRIALS times in the middle app: its key write and what HAProxy shows once it has it. */
function changes(rig: ScaleRig<ScaleStore>): Record<Kind, (i: number) => [() => void | Promise<void>, () => Promise<boolean>]> {
  const b = Math.floor(rig.layout.backends / 2);
  const app = rig.backend(b);
  const admin = join(rig.dir, 'admin.sock');
  const states = () => serverStates(admin, app);
  const added = (i: number) => rig.key(90_000 + i, b);
  const name = (i: number) => added(i).split('/').at(-1)!;
  const weight = (i: number) => (i % 2 === 0 ? 50 : 150);
  return {
    add: (i) => [() => rig.store.put(added(i), rig.address), async () => (await states()).has(name(i))],
    remove: (i) => [() => rig.store.delete(added(i)), async () => !(await states()).has(name(i))],
    weight: (i) => [() => rig.store.put(`lb/weights/${app}/s00000`, String(weight(i))), async () => (await states()).get('s00000')?.weight === weight(i)],
    route: (i) => [
      () => rig.store.put(`lb/routes/${app}`, `${app}.example.com r${i}.example.com`),
      async () => (await mapEntries(admin, join(rig.dir, 'haproxy.hosts.map'))).includes(`r${i}.example.com/ ${app}`),
    ],
  };
}

/** Every kind of change TRIALS times on a stack of `layout`, with watch's CPU and the reloads among them. */
async function stackFigures(layout: { backends: number; servers: number }, store: ScaleStore): Promise<StackFigures> {
  const rig = await new ScaleRig<ScaleStore>(layout, [], undefined, { store }).start();
  try {
    await rig.settled();
    const pid = rig.watch!.child.pid!;
    const figures = { idle: rssMiB(pid) } as StackFigures;
    if (rig.store instanceof ConsulKvServer) figures.whole = Buffer.byteLength(rig.store.store.read(SCALE_PREFIX, true, false, undefined).body ?? '');
    const change = changes(rig);
    // Every kind WARM_UP_ROUNDS times first, not counted (stats.ts). 5001 + i keeps their keys and
    // routes apart from the trials', and leaves the weight at 150, which trial 0 changes.
    figures.warmUp = await warmUpCpu(
      pid,
      async (i) => {
        for (const kind of KINDS) await timeOne(rig, ...change[kind](5001 + i));
      },
      KINDS.length,
    );
    for (const kind of KINDS) {
      const [trials, cpuBefore, started] = [[] as Array<Awaited<ReturnType<typeof timeOne>>>, cpuMs(pid), performance.now()];
      const sent = () => (rig.store instanceof ConsulKvServer ? rig.store.bytesSent : undefined);
      const sentBefore = sent();
      for (let i = 0; i < TRIALS; i++) trials.push(await timeOne(rig, ...change[kind](i)));
      const cpu = (cpuMs(pid) - cpuBefore) / TRIALS;
      const bytes = sentBefore === undefined ? undefined : (sent()! - sentBefore) / TRIALS;
      const elapsed = performance.now() - started;
      figures[kind] = {
        latency: trials.map((t) => t.took),
        cpu,
        reloads: trials.filter((t) => t.reloaded).length,
        check: trials.map((t) => t.check),
        bytes,
        elapsed,
      };
    }
    // What the changes leave to do counts as theirs (the "together" figure).
    figures.tail = await cpuOfTail(pid);
    figures.resting = await cpuAtRest(pid);
    return figures;
  } finally {
    await rig.stop();
  }
}

const WHAT: Record<Kind, string> = {
  add: 'one server added to one app (show servers state has it)',
  remove: 'one server removed (show servers state lost it)',
  weight: 'a weight change, lb/weights (show servers state holds it)',
  route: 'a route change, lb/routes: a map swap (show map has it)',
};

/** Stack mode, 100 apps × 100 servers against 3 × 3, on etcd and on the Consul/OCCS test server. */
export async function benchScaleStack(): Promise<void> {
  const stores: Array<[string, () => ScaleStore]> = [
    ['etcd 3.4', () => new EtcdServer()],
    ['Consul/OCCS test server', () => new ConsulKvServer()],
  ];
  for (const [storeName, store] of stores) {
    const big = await stackFigures({ backends: 100, servers: 100 }, store());
    const small = await stackFigures({ backends: 3, servers: 3 }, store());
    const both = (f: (p: StackFigures) => string): string => `${f(big)}   (3 × 3: ${f(small)})`;
    const cpu = (p: StackFigures) => KINDS.map((k) => ms(p[k].cpu)).join(' / ');
    const ratio = KINDS.map((k) => `${(median(big[k].latency) / median(small[k].latency)).toFixed(1)}x`).join(' / ');
    const cpuRatio = KINDS.map((k) => `${(big[k].cpu / small[k].cpu).toFixed(1)}x`).join(' / ');
    const all = (p: StackFigures) => KINDS.reduce((sum, k) => sum + p[k].cpu, 0) / KINDS.length;
    // A change's own CPU: what watch spent beyond its CPU at rest over the same time.
    const own = (p: StackFigures, k: Kind) => beyondRest(p[k].cpu * TRIALS, p[k].elapsed, p.resting) / TRIALS;
    // Together: with what the last changes left to do in the TAIL_MS after them.
    const ownAll = (p: StackFigures) =>
      (KINDS.reduce((sum, k) => sum + own(p, k) * TRIALS, 0) + beyondRest(p.tail.cpu, p.tail.elapsed, p.resting)) / (KINDS.length * TRIALS);
    report(
      `scale: stack mode (--stack, templates/stack.cfg.ejs), 100 apps × 100 servers, ${storeName}, --wait 0 (write → HAProxy shows it, polled back to back; ${TRIALS} trials each)`,
      [
        ...KINDS.map((k): [string, string] => [`${WHAT[k]}: p50 / p99 (min–max)`, both((p) => spread(p[k].latency))]),
        ['p50 against the 3 × 3 stack: add / remove / weight / route (goal <= 2x)', ratio],
        [`CPU of watch per change: add / remove / weight / route (after ${WARM_UP} changes right after start-up, ${WARM_UP_ROUNDS} of each kind)`, both(cpu)],
        [`… the ${WARM_UP} changes right after start-up, each (not in any other figure)`, both((p) => ms(p.warmUp))],
        ['CPU against the 3 × 3 stack (goal <= 2x)', cpuRatio],
        [
          'CPU of watch per change, the 4 × 30 changes together (the background full renders of the patched config among them)',
          `${ms(all(big))} against ${ms(all(small))}: ${(all(big) / all(small)).toFixed(1)}x`,
        ],
        ['CPU of watch at rest, per second, over 30 s from 36 s after the changes (its look for drift every 30 s)', both((p) => `${p.resting.toFixed(1)} ms`)],
        [
          'CPU of watch per change less its CPU at rest over the same time: add / remove / weight / route, and together with what they left to do in the 31 s after',
          both((p) => `${KINDS.map((k) => ms(own(p, k))).join(' / ')}, ${ms(ownAll(p))}`),
        ],
        [
          '… against the 3 × 3 stack (goal <= 2x)',
          `${KINDS.map((k) => `${(own(big, k) / own(small, k)).toFixed(1)}x`).join(' / ')}, ${(ownAll(big) / ownAll(small)).toFixed(1)}x`,
        ],
        [
          'haproxy -c of the file installed after each runtime change (a child process, not in the CPU above), p50',
          both((p) => ms(median(KINDS.flatMap((k) => p[k].check)))),
        ],
        ['changes that went by reload, not the runtime API (goal 0)', both((p) => KINDS.map((k) => p[k].reloads).join(' / '))],
        ['watch RSS idle', both((p) => mib(p.idle))],
        ...(big.add.bytes === undefined
          ? []
          : ([
              [
                'bytes the store sent watch per change (its answers): add / remove / weight / route',
                both((p) => KINDS.map((k) => kib(p[k].bytes!)).join(' / ')),
              ],
              ["… the apps prefix's whole answer, as one query would be sent on every change of an app", kib(big.whole ?? 0)],
            ] as Array<[string, string]>)),
      ],
    );
  }
}
