import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runtimeChannel, said } from '../../src/haproxy/runtime-channel.js';
import { payloads } from '../../src/haproxy/runtime-maps.js';
import { freePort, HaproxyProcess, waitFor } from '../support/haproxy-process.js';
import { serverStates } from '../support/server-states.js';
import { applied, hostGet, hostLoad, metric, Mix, startStack, type StackRig } from './stack-rig.js';
import { mib, rssMiB } from './scale.js';
import { routingThroughput, WRK } from './stack-throughput.js';
import { median, ms, percentile, report } from './stats.js';

/** Polls `probe` back to back (a failed probe is a no) until it holds; the ms since `started`. */
export async function until(what: string, started: number, probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<number> {
  while (!(await probe().catch(() => false))) if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
  return performance.now() - started;
}

const row = (samples: number[]) => `${ms(median(samples))} / ${ms(percentile(samples, 99))}`;

/** What the load asks for: every request has a route, whichever app holds it. */
const TARGETS = [
  ['web.example.com', '/'],
  ['api.example.com', '/'],
  ['any.example.com', '/admin/x'],
  ['shared.example.com', '/'],
  ['web.example.com', '/v2/x'],
].map(([host, path]) => ({ host: host!, path: path! }));

/**
 * `trials` times, one KV change (`change(i)`, made once watch waits on the store), timed until
 * `served` holds, then until HAProxy counts it applied (so the next trial is a change of its own).
 */
async function timeChanges(rig: StackRig, trials: number, change: (i: number) => void, served: (i: number) => Promise<boolean>): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < trials; i++) {
    const before = await applied(rig);
    await waitFor('watch to wait on the store', () => rig.store.blockedQueries >= 2);
    const started = performance.now();
    change(i);
    latencies.push(await until(`trial ${i} to show`, started, () => served(i)));
    await waitFor('the change to be counted', async () => (await applied(rig)) > before);
  }
  return latencies;
}

/** A host moved between two apps (both route keys rewritten in one index): PUT → first request with that Host answered by the new app. */
async function routeMoves(trials: number, extra: string[]): Promise<number[]> {
  const routes = (owner: string): Array<[string, string]> => [
    ['lb/routes/web', owner === 'web' ? 'web.example.com r.example.com' : 'web.example.com'],
    ['lb/routes/api', owner === 'api' ? 'api.example.com r.example.com' : 'api.example.com'],
  ];
  const rig = await startStack({ web: 1, api: 1 }, routes('web'), extra);
  try {
    await waitFor('HAProxy to route r.example.com', async () => (await hostGet(rig.frontend, 'r.example.com')).body === 'web-s0');
    const owner = (i: number) => (i % 2 === 0 ? 'api' : 'web');
    return await timeChanges(
      rig,
      trials,
      (i) => rig.store.putMany(routes(owner(i))),
      async (i) => (await hostGet(rig.frontend, 'r.example.com')).body === `${owner(i)}-s0`,
    );
  } finally {
    await rig.stop();
  }
}

/** A weight PUT, alternating 50 and 150: PUT → HAProxy's own state (`show servers state`, srv_uweight) holds it. */
async function weightChanges(trials: number, extra: string[]): Promise<number[]> {
  const rig = await startStack({ web: 2 }, [['lb/routes/web', 'web.example.com']], extra);
  try {
    const weight = (i: number) => (i % 2 === 0 ? 50 : 150);
    return await timeChanges(
      rig,
      trials,
      (i) => rig.store.put('lb/weights/web/s0', String(weight(i))),
      async (i) => (await serverStates(rig.socket, 'web')).get('s0')?.weight === weight(i),
    );
  } finally {
    await rig.stop();
  }
}

/** One map entry changed in a running HAProxy, for maps of each size: `set map` against a whole swap (prepare, N × add, commit). */
async function mapMethods(sizes: number[], trials: number): Promise<Array<[string, string]>> {
  const haproxy = new HaproxyProcess(await freePort(), 'master-worker');
  const map = (n: number) => join(haproxy.dir, `m${n}.map`);
  const entry = (i: number, value: string): [string, string] => [`h${i}.example.com/`, value];
  for (const n of sizes) writeFileSync(map(n), Array.from({ length: n }, (_, i) => entry(i, `app${i % 7}`).join(' ')).join('\n') + '\n');
  haproxy.writeConfig(
    [
      ...['global', `    stats socket ${join(haproxy.dir, 'admin.sock')} mode 600 level admin`, 'defaults', '    mode http'],
      ...['    timeout connect 2s', '    timeout client 10s', '    timeout server 10s', 'frontend main', `    bind 127.0.0.1:${haproxy.port}`],
      ...sizes.map((n) => `    http-request set-var(txn.m${n}) req.hdr(host),lower,map_beg(${map(n)})`),
      '    http-request return status 200 content-type text/plain string ok',
      '',
    ].join('\n'),
  );
  const channel = runtimeChannel('admin', join(haproxy.dir, 'admin.sock'));
  const expectQuiet = (answer: string, what: string) => {
    if (said(answer).length > 0) throw new Error(`${what}: ${said(answer).slice(0, 2).join(' | ')}`);
  };
  const rows: Array<[string, string]> = [];
  try {
    await haproxy.start();
    for (const n of sizes) {
      const set: number[] = [];
      const swap: number[] = [];
      for (let t = 0; t < trials; t++) {
        let started = performance.now();
        expectQuiet(await channel.send(`set map ${map(n)} ${entry(t % n, `set${t}`).join(' ')}`), 'set map');
        set.push(performance.now() - started);
        started = performance.now();
        const prepared = await channel.send(`prepare map ${map(n)}`);
        const version = /^New version created: (\d+)/.exec(prepared)?.[1];
        if (!version) throw new Error(`prepare map: ${prepared}`);
        const entries = Array.from({ length: n }, (_, i) => entry(i, i === t % n ? `swap${t}` : `app${i % 7}`));
        // As watch fills it: the entries as payloads (runtime-maps.ts).
        for (const payload of payloads(entries.map(([k, v]) => `${k} ${v}`)))
          expectQuiet(await channel.sendPayload(`add map @${version} ${map(n)}`, payload, 'map'), 'add map');
        expectQuiet(await channel.send(`commit map @${version} ${map(n)}`), 'commit map');
        swap.push(performance.now() - started);
      }
      rows.push(
        [`${n} entries: set map (one command), p50 / p99`, row(set)],
        [`${n} entries: whole swap (prepare, add map payloads, commit), p50 / p99`, row(swap)],
      );
    }
  } finally {
    await haproxy.stop();
  }
  return rows;
}

/** `changes` mixed changes, one after another (each applied before the next), under continuous load through every route. */
async function mixedChanges(changes: number): Promise<Array<[string, string]>> {
  const mix = new Mix();
  const rig = await startStack({ web: 2, api: 2, admin: 2, new1: 0, new2: 0 }, mix.initial());
  mix.rig = rig;
  try {
    await waitFor('every route to be served', async () =>
      (await Promise.all(TARGETS.map((t) => hostGet(rig.frontend, t.host, t.path)))).every((a) => a.status === 200),
    );
    const [reloads, updates, logged] = [await metric(rig, 'reloads_total'), await metric(rig, 'runtime_updates_total'), rig.watch.logs.length];
    const memory = rssMiB(rig.watch.child.pid!);
    const load = hostLoad(rig.frontend, TARGETS, 4);
    const [done, reloadedBy] = [new Map<string, number>(), new Map<string, number>()];
    const count = (m: Map<string, number>, what: string) => m.set(what, (m.get(what) ?? 0) + 1);
    const started = performance.now();
    try {
      for (let i = 0; i < changes; i++) {
        const [before, reloadsBefore] = [await applied(rig), await metric(rig, 'reloads_total')];
        const what = await mix.next(i);
        await waitFor(`change ${i} (${what}) to be applied`, async () => (await applied(rig)) > before, 15_000);
        count(done, what);
        if ((await metric(rig, 'reloads_total')) > reloadsBefore) count(reloadedBy, what);
      }
    } finally {
      await load.stop();
    }
    const took = performance.now() - started;
    const after = rssMiB(rig.watch.child.pid!);
    await new Promise((r) => setTimeout(r, 10_000)); // what watch keeps, once idle again
    const list = (m: Map<string, number>) => [...m].map(([what, n]) => `${what} ${n}`).join(', ');
    const warnings = rig.watch.logs
      .slice(logged)
      .filter((l) => l.source !== 'haproxy' && l.level !== 'info' && l.level !== 'debug')
      .slice(0, 3);
    const reasons = [...load.stats.reasons].map(([why, n]) => `${n} × ${why}`);
    return [
      ['changes applied', `${[...done.values()].reduce((a, b) => a + b, 0)} in ${ms(took)} (${list(done)})`],
      ['reloads (goal 2: one per new app)', `${(await metric(rig, 'reloads_total')) - reloads} (by: ${list(reloadedBy)})`],
      ['runtime updates', String((await metric(rig, 'runtime_updates_total')) - updates)],
      ['requests ok / failed (goal 0 failed)', `${load.stats.ok} / ${load.stats.failed}`],
      ...(reasons.length > 0 ? [['failures', reasons.slice(0, 5).join('; ')] satisfies [string, string]] : []),
      ['watch memory, RSS (private): before → right after → 10 s idle', [memory, after, rssMiB(rig.watch.child.pid!)].map(mib).join(' → ')],
      ['watch warnings and errors (goal 0)', `${warnings.length}${warnings.length > 0 ? `: ${warnings.map((l) => l.msg).join(' | ')}` : ''}`],
    ];
  } finally {
    await rig.stop();
  }
}

export async function benchStack(): Promise<void> {
  const [routeRuntime, routeReload] = [await routeMoves(60, []), await routeMoves(50, ['--no-runtime-api'])];
  report('stack mode: route change → serving (a host moved to another app: KV PUT → first request with that Host answered by it, --wait 0)', [
    ['runtime API, map swap (60 trials): p50 / p99', row(routeRuntime)],
    ['reload (--no-runtime-api, 50 trials): p50 / p99', row(routeReload)],
  ]);
  const [weightRuntime, weightReload] = [await weightChanges(60, []), await weightChanges(50, ['--no-runtime-api'])];
  report("stack mode: weight change → effect (KV PUT → HAProxy's show servers state holds the new weight, --wait 0)", [
    ['runtime API, set server weight (60 trials): p50 / p99', row(weightRuntime)],
    ['reload (--no-runtime-api, 50 trials): p50 / p99', row(weightReload)],
  ]);
  report('stack mode: one map entry changed in a running HAProxy over its admin socket (60 trials each)', await mapMethods([10, 100, 1000], 60));
  report(`stack mode: what routing costs a request (wrk ${WRK.join(' ')}, one keep-alive Node backend, 4 rounds each)`, await routingThroughput());
  report(
    'stack mode: 200 mixed changes under continuous load (3 apps × 2 servers, routes by host and path, 4 clients, new connection per request)',
    await mixedChanges(200),
  );
}
