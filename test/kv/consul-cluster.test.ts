import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsulSource } from '../../src/kv/consul.js';
import { spreadIndex } from '../../src/kv/consul-answers.js';
import { describeKvLocation, parseKvLocation } from '../../src/kv/open.js';
import { pollingSource } from '../../src/kv/polling.js';
import type { KvSnapshot, KvSourceOptions } from '../../src/kv/source.js';
import { ConsulKvCluster } from '../support/consul-kv-cluster.js';
import type { ConsulKvServer } from '../support/consul-kv-server.js';
import { failure } from '../support/failure.js';
import { waitFor } from '../support/haproxy-process.js';

/* ConsulSource given several Consul servers (three Consul-KV test servers sharing one store). */

const PREFIX = 'apps/web/containers';
let cluster: ConsulKvCluster;
let source: ConsulSource | undefined;
const stops: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await source?.close();
  source = undefined;
  await cluster?.stop();
});

async function open(options: Partial<KvSourceOptions> = {}, size = 3) {
  cluster = await new ConsulKvCluster(size).start();
  const location = parseKvLocation(cluster.url('consul'), '/');
  if (location.kind !== 'consul') throw new Error('expected a consul location');
  source = new ConsulSource(location.endpoints, { timeoutMs: 2000, insecure: false, ...options });
  return source;
}

/** A watch that records what it reports, stopped after the test. */
function record(kv: ConsulSource, prefixes = [PREFIX]) {
  const snapshots: KvSnapshot[] = [];
  const errors: unknown[] = [];
  const abort = new AbortController();
  const done = kv.watch(prefixes, { snapshot: (s) => snapshots.push(s), alive: () => {}, error: (e) => errors.push(e) }, abort.signal);
  stops.push(async () => (abort.abort(), await done));
  return { errors, values: () => snapshots.at(-1)?.pairs.map((p) => p.value) ?? [] };
}

const server = (kv: ConsulSource) => cluster.at(kv.endpoints.current);

/** How many failovers `kv` tells from now on. */
function failovers(kv: ConsulSource): () => number {
  let count = 0;
  kv.endpoints.onFailover(() => (count += 1));
  return () => count;
}

describe('ConsulSource given several servers', () => {
  it('watch: the server in use is stopped while a query blocks on it; the query goes to the next at once, from the same index, with no error and no backoff', async () => {
    const kv = await open();
    const told = failovers(kv);
    cluster.put(`${PREFIX}/one`, '10.0.0.1:80');
    const w = record(kv);
    await waitFor('the query to block on the first server', () => cluster.servers[0]!.blockedQueries === 1);
    const index = Number(cluster.servers[0]!.requests.at(-1)!.query.get('index'));
    await cluster.servers[0]!.stop();
    await waitFor('the query to block on the second server', () => cluster.servers[1]!.blockedQueries === 1);
    expect(cluster.servers[1]!.requests.map((r) => r.query.get('index'))).toEqual([String(index)]);
    cluster.put(`${PREFIX}/two`, '10.0.0.2:80');
    await waitFor('the change', () => w.values().length === 2);
    expect(w.errors).toEqual([]);
    expect([kv.endpoints.health.inUse, told()]).toEqual([cluster.servers[1]!.url, 1]);
  });

  it('a query blocked on a server that another request left is sent again to the next, from the same index', async () => {
    const kv = await open({ timeoutMs: 300 });
    cluster.put(`${PREFIX}/one`, '10.0.0.1:80');
    const w = record(kv);
    await waitFor('the query to block on the first server', () => cluster.servers[0]!.blockedQueries === 1);
    const index = cluster.servers[0]!.requests.at(-1)!.query.get('index');
    cluster.servers[0]!.fail({ kind: 'hang' }); // takes requests, answers none; the blocked one stays
    await kv.probe(new AbortController().signal);
    expect(kv.endpoints.health.inUse).toBe(cluster.servers[1]!.url);
    await waitFor('the query to block on the second server', () => cluster.servers[1]!.blockedQueries === 1);
    expect(cluster.servers[1]!.requests.filter((r) => r.query.has('index')).map((r) => r.query.get('index'))).toEqual([index]);
    cluster.put(`${PREFIX}/two`, '10.0.0.2:80');
    await waitFor('the change', () => w.values().length === 2);
    expect(w.errors).toEqual([]);
  });

  it('every server down: fails as one store does (exit 3), naming the cluster', async () => {
    const kv = await open();
    await cluster.stop();
    const error = await failure(kv.read([PREFIX]));
    expect(error.code).toBe('KV_UNREACHABLE');
    expect(error.message).toContain(`key/value store at ${cluster.servers[0]!.url} (and ${cluster.servers[1]!.address}, ${cluster.servers[2]!.address})`);
    expect(kv.endpoints.health.answering).toBe(0);
  });
});

describe('ConsulSource: a server that knows no leader', () => {
  it('default reads: is left (its 500 "No cluster leader"), and so it is by a probe (200, X-Consul-KnownLeader: false)', async () => {
    const kv = await open();
    const told = failovers(kv);
    cluster.put(`${PREFIX}/one`, '10.0.0.1:80');
    cluster.servers[0]!.knownLeader = false;
    expect((await kv.read([PREFIX])).pairs).toHaveLength(1);
    expect([kv.endpoints.health.inUse, told()]).toEqual([cluster.servers[1]!.url, 1]);
    cluster.servers[1]!.knownLeader = false;
    await kv.probe(new AbortController().signal, PREFIX);
    expect(cluster.servers[1]!.requests.at(-1)!.query.has('stale')).toBe(true);
    expect([kv.endpoints.health.inUse, told()]).toEqual([cluster.servers[2]!.url, 2]);
  });

  it('stale reads: is kept, serving what it had, until it has not heard from its leader for longer than --kv-max-stale', async () => {
    const kv = await open({ consistency: 'stale', maxStaleMs: 300 });
    const told = failovers(kv);
    const first = server(kv);
    cluster.put(`${PREFIX}/one`, '10.0.0.1:80');
    first.knownLeader = false;
    cluster.put(`${PREFIX}/two`, '10.0.0.2:80');
    expect((await kv.read([PREFIX])).pairs).toHaveLength(1);
    expect(told()).toBe(0);
    await waitFor('its LastContact to pass the bound', async () => (await kv.read([PREFIX])).pairs.length === 2);
    expect(kv.endpoints.current.origin).not.toBe(first.url);
    expect(told()).toBe(1);
  });
});

describe('ConsulSource consistency', () => {
  it.each([
    ['default', [false, false]],
    ['stale', [true, false]],
    ['consistent', [false, true]],
  ] as const)('%s: reads and blocking queries ask ?stale / ?consistent as chosen; probes are always stale', async (consistency, [stale, consistent]) => {
    const kv = await open({ consistency }, 1);
    record(kv);
    const only = cluster.servers[0]!;
    await waitFor('a blocking query', () => only.blockedQueries === 1);
    await kv.probe(new AbortController().signal);
    // The prefix holds no key: its parent's directories are listed once, with the same consistency.
    const [read, blocking, probe] = only.requests.filter((r) => !r.query.has('keys'));
    const listing = only.requests.find((r) => r.query.has('keys'));
    for (const r of [read!, blocking!, listing!]) expect([r.query.has('stale'), r.query.has('consistent')]).toEqual([stale, consistent]);
    expect(blocking!.query.get('wait')).toMatch(/^\d+s$/);
    expect([probe!.path, [...probe!.query.keys()]]).toEqual([`/v1/kv/${PREFIX}`, ['stale']]);
  });

  it('stale: a server whose X-Consul-LastContact is above --kv-max-stale is left; lastContactMs reports the last one seen', async () => {
    await open({}, 3);
    const [leader, first, next] = cluster.servers as [ConsulKvServer, ConsulKvServer, ConsulKvServer];
    // The servers in an order that makes this host start at `first`, a follower, then go to `next`.
    const order = [first, next, leader];
    const at = spreadIndex(hostname(), 3);
    const kv = new ConsulSource(
      order.map((_, i) => new URL(order[(i - at + 3) % 3]!.url)),
      { timeoutMs: 2000, insecure: false, consistency: 'stale', maxStaleMs: 2000 },
    );
    stops.push(() => kv.close());
    expect(kv.endpoints.current.origin).toBe(first.url);
    first.lastContactMs = 5000;
    next.lastContactMs = 40;
    await kv.read([PREFIX]);
    expect([kv.endpoints.current.origin, kv.lastContactMs]).toEqual([next.url, 40]);
    for (const s of cluster.servers) [s.lastContactMs, s.knownLeader] = [9000, false]; // no leader anywhere: every copy is old
    const error = await failure(kv.read([PREFIX]));
    expect(error.exitCode).toBe(3);
    expect(error.message).toMatch(/last heard from its leader \S+ ago, more than --kv-max-stale \(2s\)/);
    expect(kv.lastContactMs).toBeGreaterThanOrEqual(9000);
  });

  it('stale: each host starts at the server a hash of its name picks (a fleet spreads); default reads start at the first given', async () => {
    const stale = await open({ consistency: 'stale' });
    expect(stale.endpoints.current.origin).toBe(cluster.servers[spreadIndex(hostname(), 3)]!.url);
    const counts = [0, 0, 0];
    for (let i = 0; i < 900; i++) counts[spreadIndex(`web-${i}.example`, 3)]! += 1;
    for (const count of counts) expect(count).toBeGreaterThan(200);
    expect(spreadIndex('web-1', 3)).toBe(spreadIndex('web-1', 3));
    await stale.close();
    source = new ConsulSource(
      cluster.servers.map((s) => new URL(s.url)),
      { timeoutMs: 2000, insecure: false },
    );
    expect(source.endpoints.current.origin).toBe(cluster.servers[0]!.url);
  });
});

describe('parseKvLocation: several Consul/OCCS servers', () => {
  it.each([
    ['consul://a.example,b.example:8501', ['http://a.example:8500/', 'http://b.example:8501/'], 'http://a.example:8500 (and b.example:8501)'],
    ['occs://10.0.0.1,10.0.0.2', ['http://10.0.0.1:9109/', 'http://10.0.0.2:9109/'], 'http://10.0.0.1:9109 (and 10.0.0.2:9109)'],
    ['https://a:8501,[::1]:8501,a:8501', ['https://a:8501/', 'https://[::1]:8501/'], 'https://a:8501 (and [::1]:8501)'],
  ])('%s: each with its own port or the default, each once, the first tried first', (spec, endpoints, name) => {
    const location = parseKvLocation(spec, '/');
    expect(location.kind).toBe('consul');
    expect((location as { endpoints: URL[] }).endpoints.map((u) => u.href)).toEqual(endpoints);
    expect(describeKvLocation(location)).toBe(name);
  });
});

describe('ConsulSource polled (--interval)', () => {
  it('still tells its endpoints and the last X-Consul-LastContact', async () => {
    const kv = await open({ consistency: 'stale' });
    const polled = pollingSource(kv, 1000);
    server(kv).lastContactMs = 30;
    await polled.read([PREFIX]);
    expect(polled.endpoints).toBe(kv.endpoints);
    expect(polled.lastContactMs).toBe(server(kv).isLeader ? 0 : 30);
  });
});
