import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { ConsulKvCluster } from '../support/consul-kv-cluster.js';
import { waitFor } from '../support/haproxy-process.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

/* A store that is a Consul cluster: --kv (or KV_IP) names three Consul servers (test servers sharing one store), and watch moves to the next when the one in use dies. */

const rig = useWatchRig();
let cluster: ConsulKvCluster;
beforeEach(async () => {
  cluster = await new ConsulKvCluster(3).start();
});
afterEach(() => cluster.stop());

/** A write through one server's HTTP API, as a client of the cluster would make it. */
async function putThrough(server: { url: string }, key: string, value: string): Promise<void> {
  const response = await fetch(`${server.url}/v1/kv/${key}`, { method: 'PUT', body: value });
  expect(response.status).toBe(200);
}

describe('a Consul cluster given as several servers', () => {
  it('render reads through the next server when the first is gone, the servers named by KV_IP (each with its port)', async () => {
    cluster.put(`${PREFIX}/one`, rig.address(0));
    await cluster.servers[0]!.stop();
    const env = { KV_IP: cluster.servers.map((s) => s.address).join(','), OCCS_BACKEND_KEY: PREFIX };
    const out = await runCli(['render'], { env });
    expect([out.code, out.stderr]).toEqual([0, expect.not.stringContaining('error')]);
    expect(out.stdout).toContain(`server one ${rig.address(0)}`);
  });

  it('watch: the server in use is stopped while watch waits on it; a change written through another is served, with the same HAProxy worker, no reload and no restart', async () => {
    cluster.put(`${PREFIX}/one`, rig.address(0));
    const w = rig.startWatch(cluster.url('consul'));
    await rig.servedBy(['a']);
    const worker = await rig.workers(w);
    const [first, second] = cluster.servers as [(typeof cluster.servers)[0], (typeof cluster.servers)[0]];
    await waitFor('watch to wait on the first server', () => first.blockedQueries === 1);
    await first.stop();
    await putThrough(second, `${PREFIX}/two`, rig.address(1));
    await rig.servedBy(['a', 'b']);
    expect(await rig.workers(w)).toEqual(worker);
    expect(await rig.metric('reloads_total')).toBe(0);
    expect(w.child.exitCode).toBeNull();
    const moved = await w.waitForLog(/^store endpoint \S+ failed \(.*\); moving to /);
    expect(moved).toMatchObject({ from: first.url, to: second.url });
  });

  it('watch with OCCS_LB_KV_CONSISTENCY=stale: every read and blocking query asks ?stale, and a server without a leader that falls behind is left', async () => {
    cluster.put(`${PREFIX}/one`, rig.address(0));
    const w = rig.startWatch(cluster.url('consul'), ['--kv-max-stale', '1s'], { OCCS_LB_KV_CONSISTENCY: 'stale' });
    await rig.servedBy(['a']);
    const inUse = await waitFor('watch to wait on a server', () => cluster.servers.find((s) => s.blockedQueries > 0));
    inUse.knownLeader = false; // cut off: its copy stops moving, its LastContact grows
    cluster.put(`${PREFIX}/two`, rig.address(1));
    // The probe (every 12 s) finds it more than 1 s behind and moves on; the query follows.
    expect(await w.waitForLog(/^store endpoint \S+ failed \(last heard from its leader/, 0, 30_000)).toMatchObject({ from: inUse.url });
    await rig.servedBy(['a', 'b']);
    expect(cluster.requests.filter((r) => r.path.startsWith('/v1/kv/') && !r.query.has('stale'))).toEqual([]);
    expect(w.child.exitCode).toBeNull();
  });

  it('watch with stale reads shows how far behind its leader the server in use is, in /healthz and as a metric', async () => {
    cluster.put(`${PREFIX}/one`, rig.address(0));
    const followers = cluster.servers.slice(1);
    for (const s of followers) s.lastContactMs = 250;
    const w = rig.startWatch(`consul://${followers.map((s) => new URL(s.url).host).join(',')}`, [], { OCCS_LB_KV_CONSISTENCY: 'stale' });
    await rig.servedBy(['a']);
    const health = JSON.parse((await rig.status('/healthz?format=json')).body) as { store: { lastContactMs: unknown } };
    expect(health.store.lastContactMs).toBe(250);
    expect(await rig.metric('store_last_contact_seconds')).toBe(0.25);
    expect(w.child.exitCode).toBeNull();
  });
});
