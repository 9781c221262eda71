import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Backend } from '../support/backends.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

/*
 * Issue 24: a server removed while HAProxy 2.6 carries keep-alive traffic to it must go through
 * the runtime API every time. HAProxy refuses `del server` while the server has sessions, idle
 * pooled connections or a queue; a session ending just after the idle connections were closed
 * hands its connection back to the pool, and the removal must close those too.
 */

const rig = useWatchRig();
const put = (name: string, address: string) => rig.store.put(`${PREFIX}/${name}`, address);

const extra: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(extra.splice(0).map((s) => s.stop()));
});

/** Keep-alive clients sending GETs through HAProxy until `stop`; counts answers and failures. */
function steadyLoad(port: number, clients: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const counts = { ok: 0, failed: [] as string[] };
  let running = true;
  const get = () =>
    new Promise<void>((resolve) => {
      http
        .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          res.resume().on('end', () => {
            if (res.statusCode === 200) counts.ok += 1;
            else counts.failed.push(`HTTP ${res.statusCode}`);
            resolve();
          });
        })
        .on('error', (e) => {
          counts.failed.push(e.message);
          resolve();
        });
    });
  const loops = Array.from({ length: clients }, async () => {
    while (running) await get();
  });
  return {
    counts,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

describe('removals under keep-alive load stay on the runtime path (HAProxy 2.6)', () => {
  it('30 removals and re-adds of a server carrying keep-alive traffic: no reload, no failed request', async () => {
    const backends = await Promise.all(['kept', 'churn'].map((n) => new Backend(n, 2, { keepAlive: true }).start()));
    extra.push(...backends);
    const [kept, churn] = backends as [Backend, Backend];
    put('one', kept.address);
    put('two', churn.address);
    const w = rig.startWatch(rig.store.url, ['--drain-timeout', '1s']);
    const pid = (await w.waitForLog(/^started haproxy/)).pid;
    await rig.servedBy(['kept', 'churn']);
    const load = steadyLoad(rig.ports.frontend, 8);
    const removals: number[] = [];
    const fellBack: string[] = [];
    const outcome = /^applied through the runtime API|^reloaded/;
    try {
      for (let i = 0; i < 30; i++) {
        let from = w.logs.length;
        const start = Date.now();
        rig.store.delete(`${PREFIX}/two`);
        const removed = await w.waitForLog(outcome, from, 20_000);
        removals.push(Date.now() - start);
        if (!/^applied through the runtime API, no reload: 0 added, 1 removed/.test(removed.msg))
          fellBack.push(`removal ${i + 1}: ${w.logs.slice(from).find((l) => /did not take/.test(l.msg))?.msg ?? removed.msg}`);
        from = w.logs.length;
        put('two', churn.address);
        await w.waitForLog(outcome, from, 20_000);
        await new Promise((r) => setTimeout(r, 150));
      }
    } finally {
      await load.stop();
      console.log(
        `keep-alive removals: ${removals.length}, fell back ${fellBack.length}, p50 ${p50(removals)} ms, max ${Math.max(...removals)} ms; requests ok ${load.counts.ok}, failed ${load.counts.failed.length}`,
      );
    }
    expect(fellBack).toEqual([]);
    expect(load.counts.failed).toEqual([]);
    expect(await rig.metric('reloads_total')).toBe(0);
    expect(await rig.metric('runtime_fallbacks_total')).toBe(0);
    expect(w.count(/^reloaded/)).toBe(0);
    expect((await w.waitForLog(/^started haproxy/)).pid).toBe(pid);
  }, 150_000);

  it('requests in flight on the server removed finish within the drain timeout, while its idle connections are closed again and again', async () => {
    const backends = await Promise.all([new Backend('kept', 0, { keepAlive: true }), new Backend('slow', 800, { keepAlive: true })].map((b) => b.start()));
    extra.push(...backends);
    const [kept, slow] = backends as [Backend, Backend];
    put('one', kept.address);
    put('two', slow.address);
    const w = rig.startWatch(rig.store.url, ['--drain-timeout', '5s']);
    await w.waitForLog(/^started haproxy/);
    await rig.servedBy(['kept', 'slow']);
    const load = steadyLoad(rig.ports.frontend, 6);
    await new Promise((r) => setTimeout(r, 300));
    expect(slow.pending).toBeGreaterThan(0);
    const from = w.logs.length;
    const start = Date.now();
    rig.store.delete(`${PREFIX}/two`);
    const removed = await w.waitForLog(/^applied through the runtime API|^reloaded/, from, 20_000);
    const ms = Date.now() - start;
    await load.stop();
    expect(removed.msg).toMatch(/^applied through the runtime API, no reload: 0 added, 1 removed/);
    expect(ms).toBeGreaterThan(200);
    expect(ms).toBeLessThan(5000);
    expect(load.counts.failed).toEqual([]);
    expect(slow.pending).toBe(0);
  }, 60_000);
});
