import { afterEach, describe, expect, it } from 'vitest';
import { ConsulKvCluster } from '../support/consul-kv-cluster.js';
import { MAX_WAIT_MS, parseWait } from '../support/consul-kv-query.js';
import { waitFor } from '../support/haproxy-process.js';

/* The Consul-KV test server is the one stand-in of the suite: these keep it faithful to Consul as a cluster. */

let cluster: ConsulKvCluster;
afterEach(() => cluster?.stop());

async function get(server: { url: string }, path: string) {
  const response = await fetch(`${server.url}${path}`);
  const header = (name: string) => response.headers.get(name);
  return {
    status: response.status,
    body: await response.text(),
    index: Number(header('x-consul-index')),
    knownLeader: header('x-consul-knownleader'),
    lastContact: Number(header('x-consul-lastcontact')),
  };
}

describe('the Consul-KV test server as a cluster', () => {
  it('shares one store and one index sequence between its servers; every KV answer says who leads and how recent it is', async () => {
    cluster = await new ConsulKvCluster(3).start();
    const [a, b, c] = cluster.servers as [(typeof cluster.servers)[0], (typeof cluster.servers)[0], (typeof cluster.servers)[0]];
    a.put('apps/x/one', '1');
    const put = await fetch(`${b.url}/v1/kv/apps/x/two`, { method: 'PUT', body: '2' });
    expect(put.status).toBe(200);
    const read = await get(c, '/v1/kv/apps/x?recurse');
    expect(JSON.parse(read.body).map((e: { Key: string }) => e.Key)).toEqual(['apps/x/one', 'apps/x/two']);
    expect(read).toMatchObject({ status: 200, index: 3, knownLeader: 'true', lastContact: 0 });
    expect(await get(b, '/v1/kv/apps/none?recurse')).toMatchObject({ status: 404, index: 1, knownLeader: 'true', lastContact: 0 });
    for (const server of cluster.servers) expect(await get(server, '/v1/status/leader')).toMatchObject({ status: 200, body: JSON.stringify(a.address) });
  });

  it('lists keys alone with ?keys, cut after the separator that follows the prefix (?keys&separator=/), as Consul documents', async () => {
    cluster = await new ConsulKvCluster(1).start();
    const [a] = cluster.servers as [(typeof cluster.servers)[0]];
    for (const key of ['web/bar', 'web/foo', 'web/subdir/one', 'web/subdir/two', 'webby/x']) a.put(key, 'v');
    expect(JSON.parse((await get(a, '/v1/kv/web/?keys')).body)).toEqual(['web/bar', 'web/foo', 'web/subdir/one', 'web/subdir/two']);
    expect(JSON.parse((await get(a, '/v1/kv/web/?keys&separator=/')).body)).toEqual(['web/bar', 'web/foo', 'web/subdir/']);
    expect(JSON.parse((await get(a, '/v1/kv/?keys&separator=/')).body)).toEqual(['web/', 'webby/']);
    expect((await get(a, '/v1/kv/none/?keys&separator=/')).status).toBe(404);
  });

  it('a server without a leader fails default and consistent reads (500 "No cluster leader") and serves stale ones as they were, LastContact growing', async () => {
    cluster = await new ConsulKvCluster(3).start();
    const b = cluster.servers[1]!;
    cluster.put('apps/x/one', '1');
    b.knownLeader = false;
    cluster.put('apps/x/two', '2');
    for (const mode of ['', '&consistent']) expect(await get(b, `/v1/kv/apps/x?recurse${mode}`)).toMatchObject({ status: 500, body: 'No cluster leader' });
    const first = await get(b, '/v1/kv/apps/x?recurse&stale');
    expect(first).toMatchObject({ status: 200, index: 2, knownLeader: 'false' });
    expect(JSON.parse(first.body)).toHaveLength(1);
    await waitFor('LastContact to grow', async () => (await get(b, '/v1/kv/apps/x?recurse&stale')).lastContact > first.lastContact);
    expect(await get(b, '/v1/status/leader')).toMatchObject({ body: '""' });
    expect(await get(cluster.servers[2]!, '/v1/kv/apps/x?recurse&stale')).toMatchObject({ index: 3, knownLeader: 'true' });
  });

  it('a lagging server serves stale reads as the store was lagMs ago, and its blocking queries see a change that late', async () => {
    cluster = await new ConsulKvCluster(2).start();
    const follower = cluster.servers[1]!;
    follower.lagMs = 300;
    cluster.put('apps/x/one', '1');
    expect(await get(follower, '/v1/kv/apps/x?recurse&stale')).toMatchObject({ status: 404, lastContact: 300 });
    expect(await get(follower, '/v1/kv/apps/x?recurse')).toMatchObject({ status: 200, index: 2, lastContact: 0 });
    await waitFor('the change to reach the follower', async () => (await get(follower, '/v1/kv/apps/x?recurse&stale')).status === 200);
    const blocked = get(follower, '/v1/kv/apps/x?recurse&stale&index=2&wait=10s');
    await waitFor('the query to park', () => follower.blockedQueries === 1);
    cluster.put('apps/x/two', '2');
    expect(await blocked).toMatchObject({ status: 200, index: 3 });
    follower.lastContactMs = 4000;
    expect(await get(follower, '/v1/kv/apps/x?recurse&stale')).toMatchObject({ lastContact: 4000 });
  });

  it('a blocking query forwarded to the leader fails when its server loses the leader; a stale one waits on', async () => {
    cluster = await new ConsulKvCluster(2).start();
    const b = cluster.servers[1]!;
    const forwarded = get(b, '/v1/kv/apps/x?recurse&index=1&wait=10s');
    const stale = get(b, '/v1/kv/apps/x?recurse&stale&index=1&wait=1s');
    await waitFor('both queries to park', () => b.blockedQueries === 2);
    b.knownLeader = false;
    expect(await forwarded).toMatchObject({ status: 500, body: 'No cluster leader' });
    expect(await stale).toMatchObject({ status: 404, index: 1, knownLeader: 'false' });
  });

  it('a hung server answers nothing, not even a blocking query parked before it hung when the key changes', async () => {
    cluster = await new ConsulKvCluster(1).start();
    const server = cluster.servers[0]!;
    cluster.put('apps/x/one', '1');
    const parked = fetch(`${server.url}/v1/kv/apps/x?recurse&index=${(await get(server, '/v1/kv/apps/x?recurse')).index}&wait=10s`, {
      signal: AbortSignal.timeout(1500),
    }).then(
      (r) => `answered ${r.status}`,
      () => 'no answer',
    );
    await waitFor('the query to park', () => server.blockedQueries === 1);
    server.fail({ kind: 'hang' });
    cluster.put('apps/x/two', '2');
    expect(await parked).toBe('no answer');
  });

  it('refuses ?stale with ?consistent and a wait that is no duration (400)', async () => {
    cluster = await new ConsulKvCluster(1).start();
    expect((await get(cluster.servers[0]!, '/v1/kv/a?stale&consistent')).status).toBe(400);
    expect((await get(cluster.servers[0]!, '/v1/kv/a?index=1&wait=soon')).status).toBe(400);
  });

  it('elects the next server when the leader stops', async () => {
    cluster = await new ConsulKvCluster(3).start();
    await cluster.servers[0]!.stop();
    expect(await get(cluster.servers[2]!, '/v1/status/leader')).toMatchObject({ body: JSON.stringify(cluster.servers[1]!.address) });
  });
});

describe("the test server's blocking wait", () => {
  it.each([
    [null, 300_000],
    ['0', 300_000],
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['1.5m', 90_000],
    ['500ms', 500],
    ['1h', MAX_WAIT_MS],
  ])('wait=%s is %i ms plus up to a sixteenth of jitter', (text, ms) => {
    expect(parseWait(text, () => 0)).toBe(ms);
    expect(parseWait(text, () => 0.999_999)).toBe(ms + Math.floor(0.999_999 * (ms / 16)));
  });
});
