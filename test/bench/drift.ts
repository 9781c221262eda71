import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { driftOf, type ExpectedState } from '../../src/haproxy/drift.js';
import { cachedExpectedState, expectedState } from '../../src/haproxy/expected-state.js';
import { readLiveState } from '../../src/haproxy/live-state.js';
import { masterCommand } from '../../src/haproxy/master-cli.js';
import { runtimeChannel, type RuntimeChannel } from '../../src/haproxy/runtime-channel.js';
import { adminConfigHead, freePort, HaproxyProcess, waitFor } from '../support/haproxy-process.js';
import { median, ms, percentile, report } from './stats.js';

const RUNS = 40;
const MAP_ENTRIES = 200;

/**
 * The cost of one drift verification on a HAProxy that has none: what the installed config says
 * (expectedState), what HAProxy runs (show backend, show servers state, show map) and the
 * comparison, at 10 and at 10,000 servers in one backend, against HAProxy's own `show servers
 * state` alone; then 100 backends of 100, where one `show servers state` for all is set against
 * one per backend in a single request. Every server points at one closed port, checked every
 * 30 s, as in the scale rig.
 */
export async function benchDrift(): Promise<void> {
  for (const servers of [10, 10_000])
    report(
      `drift: one verification, ${servers} servers in one backend, a map of ${MAP_ENTRIES} entries, no drift (${RUNS} runs)`,
      await figures({ backends: 1, servers }),
    );
  report(`drift: one verification, 100 backends × 100 servers, no drift (${RUNS} runs)`, await figures({ backends: 100, servers: 100 }));
}

type Layout = { backends: number; servers: number };

async function figures(layout: Layout): Promise<Array<[string, string]>> {
  const haproxy = new HaproxyProcess(await freePort(), 'master-worker');
  const admin = join(haproxy.dir, 'admin.sock');
  const map = join(haproxy.dir, 'hosts.map');
  const mapText = Array.from({ length: MAP_ENTRIES }, (_, i) => `app${i}.example web\n`).join('');
  const config = configText(haproxy.port, admin, map, layout, await freePort());
  writeFileSync(map, mapText);
  haproxy.writeConfig(config);
  await haproxy.start();
  try {
    await waitFor('the master CLI', () => masterCommand(haproxy.socket, 'show proc', 2000).then(Boolean, () => undefined));
    const channels = { master: runtimeChannel('master', haproxy.socket), admin: runtimeChannel('admin', admin) };
    const maps = new Map([[map, mapText]]);
    const expectedOf = cachedExpectedState();
    const verify = async (channel: RuntimeChannel, expected: ExpectedState) => {
      const drift = driftOf(expected, await readLiveState(channel, expected));
      if (drift.kind !== 'none') throw new Error(`drift on a fresh HAProxy: ${JSON.stringify(drift).slice(0, 300)}`);
    };
    const cached = expectedOf(config, maps);
    const live = await readLiveState(channels.master, cached);
    const rows = {
      cached: await timed(() => verify(channels.master, expectedOf(config, maps))),
      cachedAdmin: await timed(() => verify(channels.admin, expectedOf(config, maps))),
      cold: await timed(() => verify(channels.master, expectedState(config, maps))),
      expected: await timed(async () => void expectedState(config, maps)),
      read: await timed(async () => void (await readLiveState(channels.master, cached))),
      compare: await timed(async () => void driftOf(cached, live)),
      haproxy: await timed(async () => void (await masterCommand(haproxy.socket, '@1 show servers state', 5000))),
      haproxyAdmin: await timed(async () => void (await masterCommand(admin, 'show servers state', 5000))),
      perBackend: await timed(async () => void (await channels.master.sendAll(names(layout).map((b) => `show servers state ${b}`)))),
    };
    const row = (what: string, samples: number[]): [string, string] => [what, `p50 ${ms(median(samples))}, p99 ${ms(percentile(samples, 99))}`];
    return [
      row('verification, files unchanged (cachedExpectedState + read + compare), master CLI (goal well under 100 ms)', rows.cached),
      row('verification, files unchanged, admin socket', rows.cachedAdmin),
      row('verification after the files changed (expectedState read again), master CLI', rows.cold),
      row('  expectedState alone', rows.expected),
      row('  readLiveState alone (show backend + show servers state + show map, parsed)', rows.read),
      row('  driftOf alone', rows.compare),
      row("HAProxy's show servers state alone, unparsed (master CLI, @1)", rows.haproxy),
      row("HAProxy's show servers state alone, unparsed (admin socket)", rows.haproxyAdmin),
      ...(layout.backends > 1 ? [row('HAProxy: one show servers state per backend, in one request (master CLI), unparsed', rows.perBackend)] : []),
    ];
  } finally {
    await haproxy.stop();
  }
}

/** RUNS timings of `what`, after one run to warm up. */
async function timed(what: () => Promise<void>): Promise<number[]> {
  await what();
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await what();
    samples.push(performance.now() - started);
  }
  return samples;
}

const names = (layout: Layout) => Array.from({ length: layout.backends }, (_, b) => (layout.backends === 1 ? 'web' : `app${String(b).padStart(3, '0')}`));

function configText(port: number, admin: string, map: string, layout: Layout, closed: number): string {
  return [
    ...adminConfigHead(admin, port, ['    maxconn 1000']),
    `    http-request set-var(txn.app) req.hdr(host),lower,map_str(${map})`,
    '    http-request return status 200 content-type text/plain string up',
    ...names(layout).flatMap((backend) => [
      `backend ${backend}`,
      '    balance roundrobin',
      ...Array.from({ length: layout.servers }, (_, i) => `    server s${String(i).padStart(5, '0')} 127.0.0.1:${closed} check inter 30s weight 10`),
    ]),
    '',
  ].join('\n');
}
