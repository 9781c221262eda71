import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/haproxy-process.js';
import type { LogLine, WatchProcess } from '../support/watch-process.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

const rig = useWatchRig();

/** HAProxy's own lines, as watch logged them (JSON logs: each wrapped, with its level). */
const haproxyLines = (w: WatchProcess): LogLine[] => w.logs.filter((l) => l.source === 'haproxy');
const logged = (w: WatchProcess, pattern: RegExp) => haproxyLines(w).find((l) => pattern.test(l.msg));

describe("the supervised HAProxy's lines, with JSON logs", () => {
  it('a deploy (servers added and removed through the runtime API, a reload by SIGHUP, a stop by SIGTERM) logs nothing of HAProxy at warn or error', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const w = rig.startWatch(rig.store.url);
    await w.waitForLog(/^started haproxy/);
    await rig.servedBy(['a']);

    rig.store.put(`${PREFIX}/b`, rig.address(1));
    await rig.servedBy(['a', 'b']);
    rig.store.delete(`${PREFIX}/a`);
    await rig.servedBy(['b']);
    await waitFor('the runtime changes to be counted', async () => (await rig.metric('runtime_updates_total')) >= 2);

    const before = w.logs.length;
    w.signal('SIGHUP');
    await w.waitForLog(/^reloaded: /, before);
    await waitFor('the old worker to exit', () => logged(w, /Former worker \(\d+\) exited with code 0/));
    w.signal('SIGTERM');
    expect(await w.exited).toBe(0);

    // HAProxy tags these WARNING; they are how every reload and stop goes, so they are info.
    for (const ordinary of [
      /Server nginx_80\/a is going DOWN for maintenance\./,
      /Proxy main stopped \(cumulated conns: /,
      /Former worker \(\d+\) exited with code 0 \(Exit\)$/,
      /Current worker \(\d+\) exited with code 0 \(Exit\)$/,
      /All workers exited\. Exiting\.\.\. \(0\)$/,
    ]) {
      expect(logged(w, ordinary)?.level, `${ordinary}`).toBe('info');
    }
    expect(
      haproxyLines(w)
        .filter((l) => l.level !== 'info')
        .map((l) => `${l.level}: ${l.msg}`),
    ).toEqual([]);
  });

  it('a worker killed with SIGKILL still logs at error', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const w = rig.startWatch(rig.store.url);
    await rig.servedBy(['a']);
    const [worker] = await rig.workers(w);
    process.kill(worker!, 'SIGKILL');
    expect(await w.exited).not.toBe(0);
    const killed = await waitFor('HAProxy to say its worker was killed', () => logged(w, /Current worker \(\d+\) exited with code 137 \(Killed\)/));
    expect(killed.level).toBe('error');
  });
});
