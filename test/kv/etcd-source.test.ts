import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EtcdSource } from '../../src/kv/etcd.js';
import { rangesOf } from '../../src/kv/etcd-keys.js';
import { watchEtcd, type EtcdWatchDeps } from '../../src/kv/etcd-watch.js';
import type { EtcdWatchMessage } from '../../src/kv/etcd-messages.js';
import { parseKvLocation } from '../../src/kv/open.js';
import type { KvSnapshot } from '../../src/kv/source.js';
import { ROOT } from '../support/cli.js';
import { EtcdServer } from '../support/etcd-server.js';
import { failure } from '../support/failure.js';
import { freePort, waitFor } from '../support/haproxy-process.js';

let etcd: EtcdServer | undefined;
let source: EtcdSource | undefined;

afterEach(async () => {
  await source?.close();
  source = undefined;
  await etcd?.stop();
  etcd = undefined;
});

const open = (server: EtcdServer, options: Partial<ConstructorParameters<typeof EtcdSource>[1]> = {}) => {
  const location = parseKvLocation(server.url, '/');
  if (location.kind !== 'etcd') throw new Error('expected etcd');
  source = new EtcdSource(location.endpoints, { timeoutMs: 5000, insecure: false, ...options });
  return source;
};

describe('EtcdSource against a real etcd', () => {
  it('given several endpoints, moves past one that refuses connections at once, and names the cluster', async () => {
    etcd = await new EtcdServer().start();
    await etcd.put('apps/x/one', '10.9.1.1:32001');
    const closed = await freePort();
    const location = parseKvLocation(`etcd://127.0.0.1:${closed},${etcd.url.slice('etcd://'.length)}`, '/');
    if (location.kind !== 'etcd') throw new Error('expected etcd');
    source = new EtcdSource(location.endpoints, { timeoutMs: 5000, insecure: false });
    expect(source.description).toBe(`etcd http://127.0.0.1:${closed} (and ${etcd.url.slice('etcd://'.length)})`);
    const started = performance.now();
    expect((await source.read(['apps/x'])).pairs).toEqual([{ key: '/apps/x/one', value: '10.9.1.1:32001' }]);
    // At once: no backoff between members, well inside one --kv-timeout.
    expect(performance.now() - started).toBeLessThan(5000);
    // The member that answered stays in use.
    expect((await source.read(['apps/x'])).pairs).toHaveLength(1);
  });

  it('given several endpoints of which none answers, fails as one store does, naming the cluster', async () => {
    const [a, b] = [await freePort(), await freePort()];
    const location = parseKvLocation(`etcd://127.0.0.1:${a},127.0.0.1:${b}`, '/');
    if (location.kind !== 'etcd') throw new Error('expected etcd');
    source = new EtcdSource(location.endpoints, { timeoutMs: 2000, insecure: false });
    const error = await failure(source.read(['apps/x']));
    expect(error.code).toBe('KV_UNREACHABLE');
    expect(error.message).toContain(`etcd http://127.0.0.1:${a} (and 127.0.0.1:${b})`);
  });

  it('reads keys written with and without a leading slash under the same prefix', async () => {
    etcd = await new EtcdServer().start();
    await etcd.put('apps/myapp/containers/one', '10.9.1.1:32001');
    await etcd.put('/apps/myapp/containers/two', '10.9.1.2:32002');
    await etcd.put('apps/other/x', 'not read');
    expect((await open(etcd).read(['apps/myapp/containers'])).pairs).toEqual([
      { key: '/apps/myapp/containers/one', value: '10.9.1.1:32001' },
      { key: '/apps/myapp/containers/two', value: '10.9.1.2:32002' },
    ]);
  });

  it('asks for a new token when etcd no longer knows the old one (expired, revoked)', async () => {
    etcd = await new EtcdServer().start();
    await etcd.enableAuth('occs', 'pw');
    await etcd.put('apps/a/one', '10.0.0.1:80');
    const kv = open(etcd, { user: 'occs', password: 'pw' });
    expect((await kv.read(['apps/a'])).pairs).toHaveLength(1);
    const token = await etcd.tokenFor('occs', 'pw');
    await etcd.revokeTokens();
    expect(await etcd.accepts(token)).toBe(false);
    expect((await kv.read(['apps/a'])).pairs).toHaveLength(1);
  });

  it('speaks TLS (etcds://) with a CA and a client certificate; without the certificate etcd refuses', async () => {
    const tls = (name: string) => join(ROOT, 'test/fixtures/tls', name);
    etcd = await new EtcdServer({ tls: { cert: tls('server.pem'), key: tls('server.key'), ca: tls('ca.pem') } }).start();
    const kv = open(etcd, { caFile: tls('ca.pem'), certFile: tls('client.pem'), keyFile: tls('client.key') });
    expect((await kv.read(['apps/a'])).pairs).toEqual([]);
    await kv.close();
    const anonymous = open(etcd, { caFile: tls('ca.pem') });
    expect((await failure(anonymous.read(['apps/a']))).exitCode).toBe(3);
  });
});

describe('EtcdSource and roles', () => {
  it('reads a prefix whose role allows only the slashed shape; a key in both shapes: the slashed one wins', async () => {
    etcd = await new EtcdServer().start();
    await etcd.put('/apps/x/one', 'slashed');
    await etcd.put('apps/x/one', 'plain');
    await etcd.put('/apps/x/two', '2');
    expect((await open(etcd).read(['apps/x'])).pairs).toEqual([
      { key: '/apps/x/one', value: 'slashed' },
      { key: '/apps/x/two', value: '2' },
    ]);
    expect((await open(etcd).read([''])).pairs.find((p) => p.key === '/apps/x/one')?.value).toBe('slashed');
    await etcd.enableAuth('occs', 'pw', '/apps/');
    const kv = open(etcd, { user: 'occs', password: 'pw' });
    expect((await kv.read(['apps/x'])).pairs.map((p) => p.key)).toEqual(['/apps/x/one', '/apps/x/two']);
    const snapshots: KvSnapshot[] = [];
    const abort = new AbortController();
    const watching = kv.watch(['apps/x'], { snapshot: (s) => snapshots.push(s), alive: () => {}, error: () => {} }, abort.signal);
    await waitFor('a snapshot despite the denied shape', () => snapshots.length > 0);
    abort.abort();
    await watching;
    expect(snapshots[0]!.pairs.map((p) => p.key)).toEqual(['/apps/x/one', '/apps/x/two']);
    expect((await failure(kv.read(['other']))).code).toBe('KV_PERMISSION_DENIED');
  });
});

describe('watchEtcd (scripted store)', () => {
  const [range] = rangesOf('');
  const kv = (key: string, value: string) => ({ key: Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64') });
  const parked = (signal: AbortSignal, script: EtcdWatchMessage[]) =>
    (async function* () {
      yield* script;
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      throw Object.assign(new Error('aborted'), { name: 'AbortError' });
    })();

  async function run(deps: Partial<EtcdWatchDeps> & Pick<EtcdWatchDeps, 'range' | 'watch'>, until: (s: KvSnapshot[]) => boolean) {
    const snapshots: KvSnapshot[] = [];
    const errors: unknown[] = [];
    const abort = new AbortController();
    const done = watchEtcd([range!], { snapshot: (s) => snapshots.push(s), alive: () => {}, error: (e) => errors.push(e) }, abort.signal, {
      tokenExpired: () => {},
      ...deps,
    });
    await waitFor('the scripted outcome', () => until(snapshots), 10_000);
    abort.abort();
    await done;
    return { snapshots, errors };
  }

  it('re-reads and re-watches when the watch revision was compacted', async () => {
    const watches: number[] = [];
    let reads = 0;
    const { snapshots } = await run(
      {
        async range() {
          reads += 1;
          return reads === 1 ? { pairs: [], revision: 5 } : { pairs: [{ key: '/a', value: '1' }], revision: 9 };
        },
        async watch(_r, from, signal) {
          watches.push(from);
          return from === 6
            ? parked(signal, [{ result: { created: true } }, { result: { canceled: true, compact_revision: '8' } }])
            : parked(signal, [{ result: { created: true } }, { result: { events: [{ kv: kv('b', '2') }] } }]);
        },
      },
      (s) => s.some((x) => x.pairs.length === 2),
    );
    expect(watches).toEqual([6, 10]);
    expect(snapshots.map((s) => s.pairs.map((p) => p.key))).toEqual([[], ['/a'], ['/a', '/b']]);
  });

  it('closes a stream that stays silent and reads again (a cut nobody announced cannot hide changes)', async () => {
    let reads = 0;
    const { snapshots } = await run(
      {
        idleMs: 200,
        async range() {
          reads += 1;
          return { pairs: reads < 3 ? [] : [{ key: '/late', value: 'x' }], revision: reads };
        },
        watch: async (_r, _from, signal) => parked(signal, [{ result: { created: true } }]),
      },
      (s) => s.some((x) => x.pairs.length === 1),
    );
    // Re-reads that found nothing new were not reported.
    expect(snapshots.map((s) => s.pairs.length)).toEqual([0, 1]);
  });

  it('asks for a new token at once when etcd cancels a watch for its token', async () => {
    let expired = 0;
    let watches = 0;
    await run(
      {
        tokenExpired: () => void (expired += 1),
        range: async () => ({ pairs: [], revision: 1 }),
        async watch(_r, _from, signal) {
          watches += 1;
          return watches === 1
            ? parked(signal, [{ result: { canceled: true, cancel_reason: 'rpc error: code = Unauthenticated desc = etcdserver: invalid auth token' } }])
            : parked(signal, [{ result: { created: true } }, { result: { events: [{ kv: kv('k', 'v') }] } }]);
        },
      },
      (s) => s.some((x) => x.pairs.length === 1),
    );
    expect(expired).toBe(1);
  });

  it('when probes fail, says so; when they answer again, makes the stream again from the last revision, with no read', async () => {
    const stalled = new Error('probe: no answer');
    const froms: number[] = [];
    let reads = 0;
    let probes = 0;
    const { snapshots, errors } = await run(
      {
        probeIntervalMs: 50,
        async range() {
          reads += 1;
          return { pairs: [], revision: 7 };
        },
        async watch(_r, from, signal) {
          froms.push(from);
          return parked(
            signal,
            froms.length === 1 ? [{ result: { created: true } }] : [{ result: { created: true } }, { result: { events: [{ kv: kv('/after', 'x') }] } }],
          );
        },
        async probe() {
          probes += 1;
          if (probes === 2) throw stalled;
        },
      },
      (s) => s.some((x) => x.pairs.length === 1),
    );
    expect(errors).toEqual([stalled]);
    expect(froms).toEqual([8, 8]);
    expect(reads).toBe(1);
    expect(snapshots.map((s) => s.pairs.length)).toEqual([0, 1]);
  });

  it('after a broken stream, makes it again at once from the last revision seen (no read, nothing missed, no error)', async () => {
    const froms: number[] = [];
    let reads = 0;
    const { snapshots, errors } = await run(
      {
        async range() {
          reads += 1;
          return { pairs: [{ key: '/one', value: '1' }], revision: 3 };
        },
        async watch(_r, from, signal) {
          froms.push(from);
          if (froms.length > 1)
            return parked(signal, [{ result: { created: true } }, { result: { events: [{ kv: { ...kv('/two', '2'), mod_revision: '9' } }] } }]);
          return (async function* () {
            yield { result: { created: true } };
            yield { result: { header: { revision: '6' }, events: [{ kv: { ...kv('/one', '2'), mod_revision: '5' } }] } };
            throw new Error('etcd went away');
          })();
        },
      },
      (s) => s.some((x) => x.pairs.length === 2),
    );
    expect(reads).toBe(1);
    expect(froms).toEqual([4, 7]);
    expect(errors).toEqual([]);
    // The events the loop has at hand are reported as one snapshot: /one=2 may come alone or with /two=2.
    const seen = snapshots.map((s) => s.pairs.map((p) => `${p.key}=${p.value}`).join());
    expect([
      ['/one=1', '/one=2', '/one=2,/two=2'],
      ['/one=1', '/one=2,/two=2'],
    ]).toContainEqual(seen);
  });

  it('reads again when the member a stream is made on is behind what was seen (a store rebuilt or restored)', async () => {
    let reads = 0;
    const froms: number[] = [];
    const { snapshots } = await run(
      {
        async range() {
          reads += 1;
          return { pairs: reads === 1 ? [{ key: '/old', value: '1' }] : [], revision: reads === 1 ? 40 : 2 };
        },
        async watch(_r, from, signal) {
          froms.push(from);
          if (froms.length === 1)
            return (async function* () {
              yield { result: { created: true } };
              throw new Error('gone');
            })();
          return parked(signal, [{ result: { created: true, header: { revision: froms.length === 2 ? '2' : '3' } } }]);
        },
      },
      (s) => s.length >= 2,
    );
    expect(froms).toEqual([41, 41, 3]);
    expect(snapshots.map((s) => s.pairs.length)).toEqual([1, 0]);
  });

  it('makes every stream again on the new member when requests move to another', async () => {
    let moved: (() => void) | undefined;
    const froms: number[] = [];
    await run(
      {
        onMove: (fn) => ((moved = fn), () => (moved = undefined)),
        range: async () => ({ pairs: [], revision: 10 }),
        async watch(_r, from, signal) {
          froms.push(from);
          if (froms.length === 1) setTimeout(() => moved?.(), 20);
          return parked(
            signal,
            froms.length === 1 ? [{ result: { created: true } }] : [{ result: { created: true } }, { result: { events: [{ kv: kv('/k', 'v') }] } }],
          );
        },
      },
      (s) => s.some((x) => x.pairs.length === 1),
    );
    expect(froms).toEqual([11, 11]);
  });

  it('backs off when streams keep breaking right after they are made (one quick attempt a second at most)', async () => {
    const times: number[] = [];
    const errors: unknown[] = [];
    const abort = new AbortController();
    const done = watchEtcd([range!], { snapshot: () => {}, alive: () => {}, error: (e) => errors.push(e) }, abort.signal, {
      tokenExpired: () => {},
      range: async () => ({ pairs: [], revision: 1 }),
      watch: async () => {
        times.push(Date.now());
        return (async function* () {
          yield { result: { created: true } };
          throw new Error('socket hang up');
        })();
      },
    });
    await waitFor('six attempts', () => times.length >= 6, 10_000);
    abort.abort();
    await done;
    // Without backoff six attempts take a few milliseconds; with it, at least 125 + 250 + 500 ms.
    expect(times[5]! - times[0]!).toBeGreaterThanOrEqual(800);
    expect(String((errors[0] as Error).message)).toContain('watch stream of "" broke (socket hang up)');
  });

  it('while probes fail on every member, a stream made again does not count as the store answering (a member without quorum makes them)', async () => {
    const told: string[] = [];
    let probes = 0;
    const abort = new AbortController();
    const listener = { snapshot: () => {}, alive: () => told.push('alive'), error: (e: unknown) => told.push(`error: ${(e as Error).message}`) };
    const done = watchEtcd([range!], listener, abort.signal, {
      tokenExpired: () => {},
      probeIntervalMs: 30,
      range: async () => ({ pairs: [], revision: 1 }),
      watch: async () =>
        (async function* () {
          yield { result: { created: true } };
          await new Promise((resolve) => setTimeout(resolve, 20));
          throw new Error('reset');
        })(),
      async probe() {
        probes += 1;
        if (probes >= 2) throw new Error('no leader');
      },
    });
    await waitFor('several failed probes', () => probes >= 8, 10_000);
    abort.abort();
    await done;
    const since = told.indexOf('error: no leader');
    expect(since).toBeGreaterThan(0);
    expect(told.slice(since)).not.toContain('alive');
  });
});
