import { afterEach, describe, expect, it } from 'vitest';
import { packageVersion } from '../../src/paths.js';
import { ConsulSource } from '../../src/kv/consul.js';
import type { KvSnapshot } from '../../src/kv/source.js';
import { describeKvLocation, parseKvLocation } from '../../src/kv/open.js';
import { ConsulKvServer, type RecordedRequest } from '../support/consul-kv-server.js';
import { failure, thrown } from '../support/failure.js';
import { waitFor } from '../support/haproxy-process.js';

const VERSION = packageVersion();

const TOKEN = 'tok-0123456789abcdef';
let server: ConsulKvServer;
let source: ConsulSource | undefined;

async function open(options: { token?: string; timeoutMs?: number } = {}) {
  server = await new ConsulKvServer({ token: TOKEN }).start();
  const location = parseKvLocation(server.url, '/');
  if (location.kind !== 'consul') throw new Error('expected a consul location');
  source = new ConsulSource(location.endpoints, { token: options.token ?? TOKEN, timeoutMs: options.timeoutMs ?? 2000, insecure: false });
  return source;
}

afterEach(async () => {
  await source?.close();
  source = undefined;
  await server?.stop();
});

describe('ConsulSource probes while a query blocks', () => {
  it('counts a refused probe as an answer: a token scoped to the keys under the prefix watches quietly', async () => {
    server = await new ConsulKvServer({ token: TOKEN, readable: 'apps/myapp/containers/' }).start();
    const location = parseKvLocation(server.url, '/');
    if (location.kind !== 'consul') throw new Error('expected a consul location');
    source = new ConsulSource(location.endpoints, { token: TOKEN, timeoutMs: 2000, insecure: false });
    server.put('apps/myapp/containers/one', '10.9.1.1:32001');
    const errors: unknown[] = [];
    const abort = new AbortController();
    const done = source.watch(['apps/myapp/containers'], { snapshot: () => {}, alive: () => {}, error: (e) => errors.push(e) }, abort.signal);
    await waitFor('the query to block', () => server.blockedQueries === 1);
    await source.probe(new AbortController().signal); // the watch's probe, asked now
    const probes = server.requests.filter((r) => r.path === '/v1/kv/apps/myapp/containers' && !r.query.has('recurse'));
    expect(probes.map((r) => [...r.query.keys()])).toEqual([['stale']]);
    expect(server.blockedQueries).toBe(1);
    abort.abort();
    await done;
    expect(errors).toEqual([]);
  });
});

describe('ConsulSource watch, when the server in use answers 404 without X-Consul-Index (a proxy, a web server)', () => {
  it('reports the error and keeps the keys it has (never an empty snapshot), and follows the store once it is back', async () => {
    const kv = await open();
    server.put('apps/x/one', '10.0.0.1:80');
    const snapshots: string[][] = [];
    const errors: string[] = [];
    const abort = new AbortController();
    const listener = { snapshot: (s: KvSnapshot) => snapshots.push(s.pairs.map((p) => p.key)), alive: () => {}, error: (e: unknown) => errors.push(String(e)) };
    const done = kv.watch(['apps/x'], listener, abort.signal);
    await waitFor('the first snapshot', () => snapshots.length === 1 || undefined);
    server.fail({ kind: 'status', status: 404, body: '<!DOCTYPE HTML><html><body>Not Found</body></html>' });
    await waitFor('the error', () => errors.length > 0 || undefined);
    expect(errors[0]).toContain("does not look like Consul's (or OCCS's) key/value API: it answered HTTP 404 without X-Consul-Index");
    expect(errors.join('\n')).not.toContain('<');
    server.fail(undefined);
    server.put('apps/x/two', '10.0.0.2:80');
    await waitFor('the store followed again', () => snapshots.length === 2 || undefined);
    abort.abort();
    await done;
    expect(snapshots).toEqual([['/apps/x/one'], ['/apps/x/one', '/apps/x/two']]);
  });
});

describe('ConsulSource watch, answers read into kept buffers', () => {
  it('every snapshot is the store, while answers grow and shrink and one-shot reads of the same prefix come between', async () => {
    const kv = await open();
    const want = new Map<string, string>();
    const put = (key: string, value: string) => (server.put(`apps/x/${key}`, value), want.set(`/apps/x/${key}`, value));
    for (let i = 0; i < 500; i++) put(`s${String(i).padStart(4, '0')}`, `10.0.${i >> 8}.${i & 255}:80`);
    const seen: string[] = [];
    const abort = new AbortController();
    const expected = () => JSON.stringify([...want].sort());
    const listener = { snapshot: (s: KvSnapshot) => void seen.push(JSON.stringify(s.pairs.map((p) => [p.key, p.value]))), alive: () => {}, error: () => {} };
    const done = kv.watch(['apps/x'], listener, abort.signal);
    await waitFor('the first snapshot', () => seen.at(-1) === expected() || undefined);
    for (let round = 0; round < 30; round++) {
      // Grow by a long value, or shrink by a key: each answer has another length than the one before.
      if (round % 3 === 2) {
        const key = [...want.keys()][round]!;
        server.delete(key.slice(1));
        want.delete(key);
      } else put(`s${String(round % 7).padStart(4, '0')}`, `${'x'.repeat(round * 200)}:80`);
      const once = kv.read(['apps/x']);
      await waitFor(`round ${round} in a snapshot`, () => seen.at(-1) === expected() || undefined);
      expect(JSON.stringify((await once).pairs.map((p) => [p.key, p.value]))).toBe(expected());
    }
    const read = await kv.read(['apps/x']);
    expect(JSON.stringify(read.pairs.map((p) => [p.key, p.value]))).toBe(expected());
    abort.abort();
    await done;
  });
});

describe('ConsulSource', () => {
  it('reads a prefix recursively, decoding base64 and null values and leaving folders out', async () => {
    const kv = await open();
    server.put('apps/myapp/containers/', '');
    server.put('apps/myapp/containers/one', '10.9.1.1:32001');
    server.put('apps/myapp/containers/two', '10.9.1.2:32002');
    server.put('apps/myapp/containers/empty', '');
    server.put('apps/other/x', 'not read');
    const snapshot = await kv.read(['apps/myapp/containers']);
    expect(snapshot.pairs).toEqual([
      { key: '/apps/myapp/containers/empty', value: '' },
      { key: '/apps/myapp/containers/one', value: '10.9.1.1:32001' },
      { key: '/apps/myapp/containers/two', value: '10.9.1.2:32002' },
    ]);
  });

  it('sends the token as Bearer and X-Consul-Token, and requests the prefix without its leading slash', async () => {
    const kv = await open();
    await kv.read(['apps/myapp/containers']);
    // The prefix holds no key: its parent's directories are listed next, with the same token.
    const [request, listing] = server.requests.slice(-2) as [RecordedRequest, RecordedRequest];
    expect(request.path).toBe('/v1/kv/apps/myapp/containers');
    expect(request.query.has('recurse')).toBe(true);
    expect(`${listing.path}?${listing.query.toString()}`).toBe('/v1/kv/apps/myapp/?keys=&separator=%2F');
    for (const { headers } of [request, listing]) {
      expect(headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(headers['x-consul-token']).toBe(TOKEN);
      expect(headers['user-agent']).toBe(`occs-lb/${VERSION}`);
    }
  });

  it('treats 404 as "no keys", not as an error', async () => {
    const kv = await open();
    expect((await kv.read(['apps/none'])).pairs).toEqual([]);
  });

  it.each([401, 403] as const)('HTTP %i is "unauthorised" (exit 3), without the token in the message', async (status) => {
    server = await new ConsulKvServer({ token: TOKEN, deniedStatus: status }).start();
    const location = parseKvLocation(server.url, '/');
    if (location.kind !== 'consul') throw new Error('expected consul');
    source = new ConsulSource(location.endpoints, { token: 'wrong-token-value', timeoutMs: 2000, insecure: false });
    const error = await failure(source.read(['apps/x']));
    expect(error.exitCode).toBe(3);
    expect(error.code).toBe('KV_UNAUTHORISED');
    expect(error.message).toContain('unauthorised');
    expect(`${error.message} ${error.hint}`).not.toContain('wrong-token-value');
  });

  it.each([
    [{ kind: 'status', status: 500, body: 'rpc error: No cluster leader' }, /HTTP 500: rpc error: No cluster leader/],
    [{ kind: 'status', status: 503 }, /HTTP 503/],
    [{ kind: 'malformed', body: '{"not": "a list"' }, /not JSON/],
    [{ kind: 'malformed', body: '{"Key": "a"}' }, /not a list/],
    [{ kind: 'malformed', body: '[{"Nope": 1}]' }, /no Key\/Value/],
  ] as const)('an error answer is an error (exit 3), never "no backends": %j', async (failure_, message) => {
    const kv = await open();
    server.put('apps/x/one', '10.0.0.1:80');
    server.fail(failure_);
    const error = await failure(kv.read(['apps/x']));
    expect(error.exitCode).toBe(3);
    expect(error.message).toMatch(message);
  });

  it('a store that does not answer fails with exit 3 after the timeout', async () => {
    const kv = await open({ timeoutMs: 300 });
    server.fail({ kind: 'hang' });
    const error = await failure(kv.read(['apps/x']));
    expect(error.code).toBe('KV_TIMEOUT');
    expect(error.message).toContain('did not answer within 300ms');
  });

  it('a store that is down fails with exit 3 ("refused the connection")', async () => {
    const kv = await open();
    await server.stop();
    const error = await failure(kv.read(['apps/x']));
    expect(error.code).toBe('KV_UNREACHABLE');
    expect(error.message).toContain('refused the connection');
  });
});

describe('parseKvLocation', () => {
  it.each([
    ['occs://172.17.0.1', 'http://172.17.0.1:9109/'],
    ['consul://127.0.0.1', 'http://127.0.0.1:8500/'],
    ['https://kv.example:8501', 'https://kv.example:8501/'],
    ['http://[::1]:9109', 'http://[::1]:9109/'],
  ])('%s → %s', (spec, base) => {
    const location = parseKvLocation(spec, '/');
    expect(location.kind === 'consul' && location.endpoints[0]!.href).toBe(base);
  });

  it('resolves file: paths against the working directory', () => {
    expect(parseKvLocation('file:kv.json', '/work')).toEqual({ kind: 'file', path: '/work/kv.json' });
    expect(parseKvLocation('file:///etc/kv.json', '/work')).toEqual({ kind: 'file', path: '/etc/kv.json' });
  });

  it.each([
    ['consul://', 'names no host'],
    ['occs://', 'names no host'],
    ['etcd://', 'names no host'],
    ['etcds://:2379', 'names no host'],
    ['http://127.0.0.1:99999', 'has port 99999, out of range (1 to 65535)'],
    ['http://[::1]:0', 'has port 0, out of range (1 to 65535)'],
    ['consul://127.0.0.1:70000/', 'has port 70000, out of range (1 to 65535)'],
    ['http://exa mple', 'is not a URL'],
    ['etcd://a:2379,,b:2379', 'has an empty endpoint between commas'],
    ['etcd://a:2379,b:99999', 'has port 99999, out of range (1 to 65535)'],
    ['consul://a:8500,,b:8500', 'has an empty endpoint between commas'],
    ['occs://a,b:0', 'has port 0, out of range (1 to 65535)'],
  ])('%s is a usage error (exit 2) that says it %s', (spec, why) => {
    const error = thrown(() => parseKvLocation(spec, '/'));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`--kv: "${spec}" ${why}`);
  });

  it('takes an etcd cluster as several endpoints of one scheme: each with its own port or the default, each once, the first tried first', () => {
    const location = parseKvLocation('etcds://a.example:2379, b.example ,c.example:2380,a.example:2379', '/');
    expect(location).toMatchObject({ kind: 'etcd' });
    const endpoints = (location as { endpoints: URL[] }).endpoints.map((u) => u.href);
    expect(endpoints).toEqual(['https://a.example:2379/', 'https://b.example:2379/', 'https://c.example:2380/']);
    expect(describeKvLocation(location)).toBe('etcd https://a.example:2379 (and b.example:2379, c.example:2380)');
  });

  it('refuses credentials in the URL without echoing them', () => {
    expect(() => parseKvLocation('http://user:hunter2@127.0.0.1:9109', '/')).toThrow(/carries credentials/);
    try {
      parseKvLocation('http://user:hunter2@127.0.0.1:9109', '/');
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});

describe('ConsulSource error bodies', () => {
  it('mask the token before cutting, so no piece of it is shown (plain or JSON-escaped)', async () => {
    const token = 'Qz9-"w\\-ZXCVBNMASDFGHJKL';
    server = await new ConsulKvServer().start();
    const location = parseKvLocation(server.url, '/');
    if (location.kind !== 'consul') throw new Error('expected consul');
    source = new ConsulSource(location.endpoints, { token, timeoutMs: 2000, insecure: false });
    for (const body of [`${'x'.repeat(186)}auth=Bearer ${token}`, `${'y'.repeat(150)}${JSON.stringify({ token })}`]) {
      server.fail({ kind: 'status', status: 500, body });
      const error = await failure(source.read(['apps/x']));
      for (let i = 0; i + 5 <= token.length; i++) expect(error.message).not.toContain(token.slice(i, i + 5));
      expect(error.message).toContain('HTTP 500');
    }
  });
});
