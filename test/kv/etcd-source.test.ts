import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EtcdSource } from '../../src/kv/etcd.js';
import { rangesOf } from '../../src/kv/etcd-keys.js';
import { watchEtcd, type EtcdWatchMessage } from '../../src/kv/etcd-watch.js';
import { parseKvLocation } from '../../src/kv/open.js';
import type { KvSnapshot } from '../../src/kv/source.js';
import { ROOT } from '../support/cli.js';
import { EtcdServer } from '../support/etcd-server.js';
import { failure } from '../support/failure.js';
import { waitFor } from '../support/haproxy-process.js';

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
  source = new EtcdSource(location.base, { timeoutMs: 5000, insecure: false, ...options });
  return source;
};

describe('EtcdSource against a real etcd', () => {
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

describe('watchEtcd (scripted store)', () => {
  it('re-reads and re-watches when the watch revision was compacted', async () => {
    const reads: number[] = [];
    const watches: number[] = [];
    const snapshots: KvSnapshot[] = [];
    const abort = new AbortController();
    const [range] = rangesOf('');
    const kv = (key: string, value: string) => ({ key: Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64') });
    const done = watchEtcd([range!], { snapshot: (s) => snapshots.push(s), alive: () => {}, error: () => {} }, abort.signal, {
      async range() {
        reads.push(reads.length);
        return reads.length === 1 ? { pairs: [], revision: 5 } : { pairs: [{ key: '/a', value: '1' }], revision: 9 };
      },
      async watch(_range, from) {
        watches.push(from);
        const script: EtcdWatchMessage[] =
          from === 6 ? [{ result: { created: true } }, { result: { canceled: true, compact_revision: '8' } }]
          : [{ result: { created: true } }, { result: { events: [{ kv: kv('b', '2') }] } }];
        return (async function* () {
          yield* script;
          await new Promise((r) => abort.signal.addEventListener('abort', r));
        })();
      },
    });
    await waitFor('the snapshot after the re-read', () => snapshots.some((s) => s.pairs.length === 2));
    abort.abort();
    await done;
    expect(watches).toEqual([6, 10]);
    expect(snapshots.map((s) => s.pairs.map((p) => p.key))).toEqual([[], ['/a'], ['/a', '/b']]);
  });
});
