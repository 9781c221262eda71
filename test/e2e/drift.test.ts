import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeChannel } from '../../src/haproxy/runtime-channel.js';
import { waitFor } from '../support/haproxy-process.js';
import { serverStates } from '../support/server-states.js';
import type { WatchProcess } from '../support/watch-process.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

/*
 * HAProxy changed behind watch's back, by hand on its admin socket as an operator would: within
 * one --verify-interval watch puts it back, through the runtime API, with the same worker. (The
 * drift itself is not looked at before watch undoes it: a look comes at most 1 s later; the log
 * names what it found.)
 */

const rig = useWatchRig();
const BACKEND = 'nginx_80';
const socket = () => join(rig.dir, 'admin.sock');
const operator = (...commands: string[]) => runtimeChannel('admin', socket()).sendAll(commands);

async function watching(extra: string[] = []): Promise<{ w: WatchProcess; worker: number[] }> {
  rig.store.put(`${PREFIX}/one`, rig.address(0));
  rig.store.put(`${PREFIX}/two`, rig.address(1));
  const w = rig.startWatch(rig.store.url, ['--verify-interval', '1s', ...extra]);
  await rig.servedBy(['a', 'b']);
  return { w, worker: await rig.workers(w) };
}

/** Waits for the next correction and checks it was made at runtime, on the worker that served before. */
async function setRight(w: WatchProcess, worker: number[], drift: RegExp): Promise<void> {
  const corrections = await rig.metric('drift_corrections_total{how="runtime"}').catch(() => 0);
  await w.waitForLog(drift);
  await waitFor('the correction to be counted', async () => (await rig.metric('drift_corrections_total{how="runtime"}')) > corrections);
  expect(await rig.workers(w)).toEqual(worker);
  expect(await rig.metric('reloads_total')).toBe(0);
}

describe('HAProxy that heals from drift (--verify-interval)', () => {
  it('a server put in maintenance or drain, or given another weight, by hand is set back', async () => {
    const { w, worker } = await watching();
    await operator(`set server ${BACKEND}/one state maint`);
    await setRight(w, worker, /HAProxy drifted from the installed config \(1 difference: nginx_80\/one is in maintenance\); set right through the runtime API/);
    await rig.servedBy(['a', 'b']);

    await operator(`set server ${BACKEND}/two state drain`);
    await setRight(w, worker, /nginx_80\/two is draining/);
    expect((await serverStates(socket(), BACKEND)).get('two')!.admin).toBe(0);

    await operator(`set weight ${BACKEND}/one 77`);
    await setRight(w, worker, /nginx_80\/one has weight 77, not 1/);
    expect((await serverStates(socket(), BACKEND)).get('one')!.weight).toBe(1);
  });

  it('a server deleted, one added, or one pointed elsewhere by hand is set back', async () => {
    const { w, worker } = await watching();
    await operator(`set server ${BACKEND}/two state maint`, `del server ${BACKEND}/two`);
    await setRight(w, worker, /nginx_80\/two is missing/);
    await rig.servedBy(['a', 'b']);

    const [host, port] = rig.address(2).split(':');
    await operator(`add server ${BACKEND}/intruder ${host}:${port}`, `enable server ${BACKEND}/intruder`);
    await setRight(w, worker, /nginx_80\/intruder is not in the config/);
    await rig.servedBy(['a', 'b']);
    expect([...(await serverStates(socket(), BACKEND)).keys()].sort()).toEqual(['one', 'two']);

    await operator(`set server ${BACKEND}/one addr ${host} port ${port}`);
    await setRight(w, worker, /nginx_80\/one is at /);
    await rig.servedBy(['a', 'b']);
    const health = JSON.parse((await rig.status('/healthz?format=json')).body) as { drift: { how: string; found: string[] } };
    expect(health.drift).toMatchObject({ how: 'runtime', found: [expect.stringMatching(/^nginx_80\/one is at /)] });
  });

  it('41 servers added by hand, one named with 10,000 characters: the log and /healthz name a few, the long name shortened, and count them all', async () => {
    const { w, worker } = await watching();
    const [host, port] = rig.address(2).split(':');
    const extra = Array.from({ length: 40 }, (_, i) => `add server ${BACKEND}/extra${i} ${host}:${port}`);
    await operator(`add server ${BACKEND}/${'x'.repeat(10_000)} ${host}:${port}`, ...extra);
    await setRight(w, worker, /nginx_80\/x{60}… \(10000 characters\) is not in the config/);
    expect([...(await serverStates(socket(), BACKEND)).keys()].sort()).toEqual(['one', 'two']);
    const line = w.logs.find((l) => /^HAProxy drifted/.test(l.msg))!;
    expect(line).toMatchObject({ differences: 41 });
    expect((line.drift as string[]).length).toBeLessThanOrEqual(10);
    expect(JSON.stringify(line).length).toBeLessThan(2000);
    expect((await rig.status('/healthz')).body.length).toBeLessThan(1000);
    const health = JSON.parse((await rig.status('/healthz?format=json')).body) as { drift: { found: string[]; differences: number } };
    expect(health.drift.differences).toBe(41);
    expect(health.drift.found.length).toBeLessThanOrEqual(10);
    expect(JSON.stringify(health.drift).length).toBeLessThan(2000);
  });

  it('a store change while HAProxy has drifted: the change lands and the drift is still set back', async () => {
    const { w, worker } = await watching();
    await operator(`set server ${BACKEND}/one state maint`);
    rig.store.put(`${PREFIX}/three`, rig.address(2));
    await setRight(w, worker, /nginx_80\/one is in maintenance/);
  });

  it('a server at an IPv4-mapped IPv6 address is no drift (HAProxy prints it dotted): no look reloads, and a store change to one goes at runtime', async () => {
    const mapped = (i: number) => `[::ffff:127.0.0.1]:${rig.address(i).split(':')[1]}`;
    rig.store.put(`${PREFIX}/one`, mapped(0));
    rig.store.put(`${PREFIX}/two`, rig.address(1));
    rig.startWatch(rig.store.url, ['--verify-interval', '1s']);
    await rig.servedBy(['a', 'b']);
    await waitFor('three looks', async () => (await rig.metric('drift_verifications_total')) >= 3, 10_000);
    rig.store.put(`${PREFIX}/three`, mapped(2));
    await rig.servedBy(['a', 'b', 'c']);
    await waitFor('two more looks', async () => (await rig.metric('drift_verifications_total')) >= 5, 10_000);
    expect(await rig.metric('drift_corrections_total{how="runtime"}')).toBe(0);
    expect(await rig.metric('drift_corrections_total{how="reload"}')).toBe(0);
    expect(await rig.metric('runtime_fallbacks_total')).toBe(0);
    expect(await rig.metric('runtime_updates_total')).toBe(1);
    expect(await rig.metric('reloads_total')).toBe(0);
  });

  it('looks that keep failing (a stalled worker) are told once, not at every interval, and so is their end', async () => {
    const { w, worker } = await watching(['--verbose']);
    const from = w.logs.length;
    const failed = () => w.logs.slice(from).filter((l) => /^could not compare HAProxy with the installed config/.test(l.msg));
    process.kill(worker[0]!, 'SIGSTOP');
    try {
      await waitFor('three looks to fail', () => failed().length >= 3 || undefined, 30_000);
    } finally {
      process.kill(worker[0]!, 'SIGCONT');
    }
    await w.waitForLog(/^HAProxy answers again: compared with the installed config/, from);
    expect(failed().map((l) => l.level)).toEqual([
      'warn',
      ...failed()
        .slice(1)
        .map(() => 'debug'),
    ]);
  }, 60_000);

  it('with --no-runtime-api, drift is set right by a verified reload with the installed config', async () => {
    const { w, worker } = await watching(['--no-runtime-api']);
    await operator(`set server ${BACKEND}/one state maint`);
    await w.waitForLog(/HAProxy drifted from the installed config \(1 difference: nginx_80\/one is in maintenance\); reloading it with the installed files/);
    await waitFor('the reload to be counted', async () => (await rig.metric('reloads_total')) === 1);
    expect(await rig.metric('drift_corrections_total{how="reload"}')).toBe(1);
    await rig.servedBy(['a', 'b']);
    expect(await rig.workers(w)).not.toEqual(worker);
  });
});
