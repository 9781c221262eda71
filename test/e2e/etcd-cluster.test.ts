import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { EtcdCluster } from '../support/etcd-cluster.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

/* A store that is a cluster: --kv names every member of a real three-member etcd cluster, and watch moves to the next when the one in use dies. */

const rig = useWatchRig();
let cluster: EtcdCluster;
beforeEach(async () => {
  cluster = await new EtcdCluster().start();
});
afterEach(() => cluster.stop());

describe('an etcd cluster given as several endpoints', () => {
  it('render reads through the next member when the first is gone', async () => {
    await cluster.put(`${PREFIX}/one`, rig.address(0));
    await cluster.kill(0);
    await cluster.settled(); // a new leader, if the first member led
    const out = await runCli(['render', '--kv', cluster.url, '--prefix', PREFIX]);
    expect([out.code, out.stderr]).toEqual([0, expect.not.stringContaining('error')]);
    expect(out.stdout).toContain(`server one ${rig.address(0)}`);
  });

  it('watch: the member in use is killed (kill -9); a change written through the others is served, with no restart and no reload', async () => {
    await cluster.put(`${PREFIX}/one`, rig.address(0));
    const w = rig.startWatch(cluster.url);
    await rig.servedBy(['a']);
    const worker = await rig.workers(w);
    await cluster.kill(0);
    await cluster.put(`${PREFIX}/two`, rig.address(1));
    await rig.servedBy(['a', 'b']);
    expect(await rig.workers(w)).toEqual(worker);
    expect(await rig.metric('reloads_total')).toBe(0);
    expect(w.child.exitCode).toBeNull();

    // Told once, from where to where and why; shown in /healthz and the metrics.
    const [first, second] = cluster.clientUrls;
    const moves = w.logs.filter((l) => /^store endpoint /.test(String(l.msg)));
    expect(moves.map((l) => l.msg)).toEqual([expect.stringMatching(new RegExp(`^store endpoint ${first} failed \\(.+\\); moving to ${second}$`))]);
    expect(await rig.metric('store_failovers_total')).toBe(1);
    const health = JSON.parse((await rig.status('/healthz?format=json')).body) as { store: { endpoints: unknown } };
    expect(health.store.endpoints).toMatchObject({
      inUse: second,
      failovers: 1,
      endpoints: [{ endpoint: first, up: false }, { endpoint: second, up: true }, { endpoint: cluster.clientUrls[2] }],
    });
    const metrics = (await rig.status('/metrics')).body;
    expect(metrics).toContain(`occs_lb_store_endpoint_up{endpoint="${first}"} 0`);
    expect(metrics).toContain(`occs_lb_store_endpoint_up{endpoint="${second}"} 1`);
  });
});
