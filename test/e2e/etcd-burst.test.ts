import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdServer } from '../support/etcd-server.js';
import { httpGet, waitFor } from '../support/haproxy-process.js';
import { ScaleRig } from '../support/scale-rig.js';

const SERVERS = 3000;
const DELETES = 400;

/**
 * A burst of etcd events (issue 24): every event is a snapshot of the whole prefix, and watch
 * rendered and planned each one as it arrived, blocking its event loop for the whole burst.
 * Here a real etcd and a real HAProxy with 3,000 servers; 400 keys are deleted one request each
 * (8 in flight), with the default --wait.
 */
describe(`a burst of ${DELETES} etcd deletes at ${SERVERS} servers`, () => {
  const rig = new ScaleRig({ backends: 1, servers: SERVERS }, [], undefined, { store: new EtcdServer(), wait: '200ms:2s' });

  beforeAll(() => rig.start(), 180_000);
  afterAll(() => rig.stop(), 60_000);

  it('costs a few renders, not one per event; /livez answers all along; every deleted server leaves HAProxy', async () => {
    expect((await rig.servers()).size).toBe(SERVERS);
    const rendersBefore = await rig.metric('renders_total');

    // /livez asked every 50 ms during the burst: an answer slower than 1 s (or none) is a blocked loop.
    const slow: string[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const started = Date.now();
        const answer = await httpGet(rig.ports.status, '/livez', 1000).catch((error: Error) => ({ status: error.message }));
        if (answer.status !== 200) slow.push(`/livez: ${answer.status} after ${Date.now() - started} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const deleted = Array.from({ length: DELETES }, (_, i) => i * 7);
    for (let i = 0; i < deleted.length; i += 8) await Promise.all(deleted.slice(i, i + 8).map((n) => rig.store.delete(rig.key(n))));
    const names = deleted.map((n) => `s${String(n).padStart(5, '0')}`);
    await waitFor(
      `the ${DELETES} deleted servers to leave HAProxy`,
      async () => {
        const running = await rig.servers();
        return running.size === SERVERS - DELETES && names.every((name) => !running.has(name));
      },
      60_000,
    );
    probing = false;
    await prober;

    const renders = (await rig.metric('renders_total')) - rendersBefore;
    expect(renders).toBeGreaterThan(0);
    expect(renders).toBeLessThan(DELETES / 20);
    expect(slow).toEqual([]);
  }, 120_000);
});
