import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { runtimeChannel, runtimeCommand, said } from '../../src/haproxy/runtime-channel.js';
import { bundleOf } from '../support/certs.js';
import { waitFor } from '../support/haproxy-process.js';
import { mib, rssMiB } from './scale.js';
import { applied, metric } from './stack-rig.js';
import { median, ms, percentile, report } from './stats.js';
import {
  haproxyWorker,
  makeBenchCerts,
  masterSocket,
  onDisk,
  pollingHandshakes,
  rates,
  remarks,
  servedAfter,
  startTlsStack,
  WEB,
  type BenchCerts,
  type TlsRig,
} from './tls-rig.js';

/** What a run of rotations measured. */
interface Rotations {
  /** Store write → the new certificate presented to a new handshake for WEB (none when not polled). */
  served: number[];
  /** From watch's log line for each: write → HAProxy's change starts (store answer, render, plan; for a reload also the staging and `haproxy -c`). */
  untilChange: number[];
  /** The change itself as watch timed it: the runtime commands with their read-back, or the reload and its verification. */
  change: number[];
  /** Polling handshakes that failed while the trials ran. */
  failedHandshakes: number;
  reloads: number;
  /** Per certificate, the bundle text watch installed (what HAProxy was sent). */
  sent: Map<number, string>;
}

/** Rotations timed through the runtime API, before the handshake rate is taken again. */
const ROTATIONS = 100;
/** Rotations timed by reload (--no-runtime-api), and the trials of each part of the profile. */
const RELOAD_TRIALS = 30;
const TRIALS = 30;
/** One line per measure, printed last. */
const summary: string[] = [];

const RUNTIME_LINE = /^applied through the runtime API/;
const RELOAD_LINE = /^reloaded: /;

/**
 * `trials` rotations of the web bundle, each to the next of certs.web (so each is a real change),
 * made once watch waits on the store, timed until served (`poll`; else nothing but watch's log is
 * watched meanwhile), then until HAProxy counts it and its file is on disk (so the next trial
 * starts on a quiet watch).
 */
async function rotations(rig: TlsRig, certs: BenchCerts, trials: number, line: RegExp, poll = true): Promise<Rotations> {
  const out: Rotations = { served: [], untilChange: [], change: [], failedHandshakes: 0, reloads: 0, sent: new Map() };
  const failures = { count: 0 };
  const reloads = await metric(rig, 'reloads_total');
  for (let i = 0; i < trials; i++) {
    const next = (rig.current + 1) % certs.web.length;
    const cert = certs.web[next]!;
    const [before, from] = [await applied(rig), rig.watch.logs.length];
    await waitFor('watch to wait on the store', () => rig.store.blockedQueries >= 2);
    const [started, wall] = [performance.now(), Date.now()];
    rig.store.put('lb/certs/web', bundleOf(cert));
    if (poll) out.served.push(await servedAfter(rig, cert.serial, started, failures));
    // Its log line first: asking watch for /metrics meanwhile would take its time from the change.
    const logged = await rig.watch.waitForLog(line, from);
    await waitFor(`rotation ${i} to be counted`, async () => (await applied(rig)) > before);
    await waitFor(`rotation ${i} to be on disk`, () => onDisk(rig, cert));
    rig.current = next;
    out.sent.set(next, readFileSync(rig.webBundle, 'utf8'));
    const took = Number(logged.ms);
    out.untilChange.push(Date.parse(String(logged.time)) - took - wall);
    out.change.push(took);
  }
  out.failedHandshakes = failures.count;
  out.reloads = (await metric(rig, 'reloads_total')) - reloads;
  return out;
}

/**
 * HAProxy's own part: `set ssl cert` + `commit ssl cert` of the web bundle over the admin socket,
 * the texts watch sent, in turn; then `show ssl cert` (watch's read-back) alone. `polling`: with
 * the same back-to-back handshakes running as while rotations are timed; `master`: through the
 * master CLI (`@1`), the way watch reaches a supervised HAProxy. HAProxy is left serving what the
 * store holds.
 */
async function haproxyFloor(rig: TlsRig, sent: Map<number, string>, how: 'quiet' | 'polling' | 'master'): Promise<{ setCommit: number[]; show: number[] }> {
  const channel = how === 'master' ? runtimeChannel('master', await masterSocket(rig)) : runtimeChannel('admin', rig.socket);
  const path = rig.webBundle;
  const set = async (pem: string) => {
    const filled = said(await channel.sendPayload(runtimeCommand('set', 'ssl', 'cert', path), pem));
    const committed = said(await channel.send(runtimeCommand('commit', 'ssl', 'cert', path)));
    if (!filled.some((l) => /^Transaction/.test(l)) || !committed.some((l) => /^Success!/.test(l))) {
      throw new Error(`set/commit ssl cert: ${[...filled, ...committed].join(' | ').slice(0, 300)}`);
    }
  };
  const out = { setCommit: [] as number[], show: [] as number[] };
  const load = how === 'polling' ? pollingHandshakes(rig) : undefined;
  try {
    for (let t = 0; t < TRIALS; t++) {
      let started = performance.now();
      await set(sent.get((rig.current + 1 + t) % sent.size)!);
      out.setCommit.push(performance.now() - started);
      started = performance.now();
      if (!/^Serial:/m.test(await channel.send(runtimeCommand('show', 'ssl', 'cert', path)))) throw new Error('show ssl cert: no serial');
      out.show.push(performance.now() - started);
    }
  } finally {
    await load?.stop();
    await set(sent.get(rig.current)!);
  }
  return out;
}

const ratePerSecond = (r: { perSecond: number[] }) => median(r.perSecond);
const spread = (samples: number[]) => `p50 ${ms(median(samples))} p99 ${ms(percentile(samples, 99))} max ${ms(Math.max(...samples))}`;
const perSecond = (r: { perSecond: number[] }) => `${median(r.perSecond).toFixed(0)}/s (rounds: ${r.perSecond.map((x) => x.toFixed(0)).join(', ')})`;

/**
 * On one watch: handshake rate and RSS, ROTATIONS timed rotations through the runtime API, rate
 * and RSS again. The rates are taken in turn with `control`, a stack like it that never rotates:
 * what changes for both is the machine, what changes for one alone is the rotations.
 */
async function runtimeRotations(rig: TlsRig, control: TlsRig, certs: BenchCerts): Promise<Array<[string, string]>> {
  const [pid, worker, controlWorker] = [rig.watch.child.pid!, await haproxyWorker(rig), await haproxyWorker(control)];
  const [memory, haproxyMemory, controlMemory] = [rssMiB(pid), rssMiB(worker), rssMiB(controlWorker)];
  const [before, controlBefore] = await rates([rig, control]);
  const runs = await rotations(rig, certs, ROTATIONS, RUNTIME_LINE);
  const [memoryAfter, haproxyAfter] = [rssMiB(pid), rssMiB(worker)];
  const [after, controlAfter] = await rates([rig, control]);
  // watch idle since the rotations: 12 s of rates
  const [memoryIdle, haproxyIdle, controlIdle] = [rssMiB(pid), rssMiB(worker), rssMiB(controlWorker)];
  const ratio = ratePerSecond(after!) / ratePerSecond(before!);
  const controlRatio = ratePerSecond(controlAfter!) / ratePerSecond(controlBefore!);
  const failed = before!.failed + after!.failed + controlBefore!.failed + controlAfter!.failed;
  summary.push(
    `rotation served (runtime): ${spread(runs.served)}, ${runs.reloads} reloads, ${runs.failedHandshakes} failed handshakes, ${ROTATIONS} trials`,
    `handshakes/s before → after ${ROTATIONS} rotations: ${ratePerSecond(before!).toFixed(0)} → ${ratePerSecond(after!).toFixed(0)} (×${ratio.toFixed(2)}; the stack never rotated ×${controlRatio.toFixed(2)}), ${failed} failed; watch RSS ${memory.rss.toFixed(1)} → ${memoryAfter.rss.toFixed(1)} → ${memoryIdle.rss.toFixed(1)} MiB`,
  );
  return [
    [`runtime API (${ROTATIONS} trials, polled): write → served`, spread(runs.served)],
    ['  write → runtime commands start (store answer, render, plan)', spread(runs.untilChange)],
    ['  runtime commands, read-back included (watch log ms)', spread(runs.change)],
    ['  reloads / failed polling handshakes (goal 0 / 0)', `${runs.reloads} / ${runs.failedHandshakes}`],
    ['handshakes/s (HTTPS GET, new connection each, 8 clients, 3 × 2 s): before', perSecond(before!)],
    [`handshakes/s after ${ROTATIONS} rotations`, `${perSecond(after!)}, ×${ratio.toFixed(2)} (goal: no slowdown)`],
    [
      '  the same stack never rotated, in turn with it: before → after',
      `${perSecond(controlBefore!)} → ${perSecond(controlAfter!)}, ×${controlRatio.toFixed(2)}`,
    ],
    [
      '  rotated ÷ never rotated: before → after',
      `${(ratePerSecond(before!) / ratePerSecond(controlBefore!)).toFixed(2)} → ${(ratePerSecond(after!) / ratePerSecond(controlAfter!)).toFixed(2)}`,
    ],
    ['failed handshakes or requests under that load (goal 0)', String(failed)],
    [`watch RSS before → right after ${ROTATIONS} rotations → 12 s later`, [memory, memoryAfter, memoryIdle].map(mib).join(' → ')],
    [`HAProxy worker RSS before → right after ${ROTATIONS} rotations → 12 s later`, [haproxyMemory, haproxyAfter, haproxyIdle].map(mib).join(' → ')],
    ["  the never-rotated stack's worker, before → 12 s later (the same load)", [controlMemory, controlIdle].map(mib).join(' → ')],
  ];
}

/** Where the time goes: rotations not polled (watch's own timings, nothing else running), and HAProxy alone, quiet and under the polling. */
async function runtimeProfile(rig: TlsRig, certs: BenchCerts): Promise<Array<[string, string]>> {
  const quiet = await rotations(rig, certs, TRIALS, RUNTIME_LINE, false);
  const floor = await haproxyFloor(rig, quiet.sent, 'quiet');
  const master = await haproxyFloor(rig, quiet.sent, 'master');
  const polled = await haproxyFloor(rig, quiet.sent, 'polling');
  const [haproxyMemory, memory] = [rssMiB(await haproxyWorker(rig)), rssMiB(rig.watch.child.pid!)];
  summary.push(`haproxy floor (set + commit ssl cert): ${spread(floor.setCommit)} quiet, ${spread(polled.setCommit)} under polling, ${TRIALS} trials each`);
  return [
    [`runtime API (${TRIALS} trials, not polled): write → runtime commands start`, spread(quiet.untilChange)],
    ['  runtime commands, read-back included (watch log ms)', spread(quiet.change)],
    [`HAProxy alone, quiet (${TRIALS} trials): set + commit ssl cert`, spread(floor.setCommit)],
    ['  show ssl cert (the read-back)', spread(floor.show)],
    [`HAProxy alone, quiet, through the master CLI as watch (${TRIALS} trials): set + commit ssl cert`, spread(master.setCommit)],
    ['  show ssl cert', spread(master.show)],
    [`HAProxy alone, under the polling handshakes (${TRIALS} trials): set + commit ssl cert`, spread(polled.setCommit)],
    ['  show ssl cert', spread(polled.show)],
    [`watch RSS after its ${ROTATIONS + TRIALS} rotations`, mib(memory)],
    [`HAProxy worker RSS after ${ROTATIONS + 4 * TRIALS + 3} rotations in all`, mib(haproxyMemory)],
  ];
}

async function runtimePath(certs: BenchCerts): Promise<Array<[string, string]>> {
  const rig = await startTlsStack(certs);
  const control = await startTlsStack(certs).catch(async (error: unknown) => {
    await rig.stop();
    throw error;
  });
  try {
    const from = rig.watch.logs.length;
    const rows = [...(await runtimeRotations(rig, control, certs)), ...(await runtimeProfile(rig, certs))];
    return [...rows, ['watch warnings and errors; HAProxy lines', remarks(rig.watch.logs.slice(from))]];
  } finally {
    await Promise.all([rig.stop(), control.stop()]);
  }
}

/** On a watch with --no-runtime-api: RELOAD_TRIALS rotations, each a verified reload. */
async function reloadPath(certs: BenchCerts): Promise<Array<[string, string]>> {
  const rig = await startTlsStack(certs, ['--no-runtime-api']);
  try {
    const from = rig.watch.logs.length;
    const runs = await rotations(rig, certs, RELOAD_TRIALS, RELOAD_LINE);
    summary.push(
      `rotation served (reload): ${spread(runs.served)}, ${runs.reloads} reloads, ${runs.failedHandshakes} failed handshakes, ${RELOAD_TRIALS} trials`,
    );
    return [
      [`reload (--no-runtime-api, ${RELOAD_TRIALS} trials, polled): write → served`, spread(runs.served)],
      ['  write → reload starts (store answer, render, stage, haproxy -c, rename)', spread(runs.untilChange)],
      ['  reload and its verification (watch log ms)', spread(runs.change)],
      ['  reloads / failed polling handshakes', `${runs.reloads} / ${runs.failedHandshakes}`],
      ['watch warnings and errors; HAProxy lines', remarks(rig.watch.logs.slice(from))],
    ];
  } finally {
    await rig.stop();
  }
}

/**
 * `npm run bench -- tls`: rotating one name's certificate through the runtime API and by reload,
 * what of that is HAProxy's, and whether rotations slow handshakes or grow watch.
 */
export async function benchTls(): Promise<void> {
  const certs = makeBenchCerts(3);
  summary.length = 0;
  const loadBefore = loadavg()[0]!;
  const runtime = await runtimePath(certs);
  const reload = await reloadPath(certs);
  const machine: [string, string] = [
    'machine load, 1-min average, start → end (near or above the CPUs: noisy figures)',
    `${loadBefore.toFixed(2)} → ${loadavg()[0]!.toFixed(2)} on ${cpus().length} CPUs`,
  ];
  report(
    `TLS: certificate rotation (KV PUT of a new bundle for ${WEB} → a new handshake presented it, Consul/OCCS store, --wait 0, EC P-256, polled by back-to-back Node handshakes)`,
    [...runtime, ...reload, machine],
  );
  console.log('\n## TLS: summary');
  for (const line of summary) console.log(`  ${line}`);
}
