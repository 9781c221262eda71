import { afterEach, describe, expect, it } from 'vitest';
import { ConsulSource } from '../../src/kv/consul.js';
import { MAX_PARTS, partsOf } from '../../src/kv/consul-parts.js';
import { refusal, type FolderListing } from '../../src/kv/consul-answers.js';
import { watchConsul, type PrefixReading } from '../../src/kv/consul-watch.js';
import { parseKvLocation } from '../../src/kv/open.js';
import type { KvPair, KvSnapshot } from '../../src/kv/source.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { waitFor } from '../support/haproxy-process.js';

/* Stack mode's apps prefix watched in parts (src/kv/consul-split.ts), against the Consul-KV test server and a scripted store. */

let server: ConsulKvServer;
const closing: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const close of closing.splice(0)) await close();
  await server?.stop();
});

function source(inParts: boolean): ConsulSource {
  const location = parseKvLocation(server.url, '/');
  if (location.kind !== 'consul') throw new Error('expected a consul location');
  const kv = new ConsulSource(location.endpoints, { timeoutMs: 2000, insecure: false, ...(inParts && { watchInParts: ['apps'] }) });
  closing.push(() => kv.close());
  return kv;
}

/** A watch of apps (in parts) and lb that records what it reports and the scopes it tells, stopped after the test. */
function watch(prefixes = ['apps', 'lb']) {
  const snapshots: KvSnapshot[] = [];
  const scopes = { alive: new Set<string>(), failed: [] as string[] };
  const abort = new AbortController();
  const listener = {
    snapshot: (s: KvSnapshot) => snapshots.push(s),
    alive: (s: string) => scopes.alive.add(s),
    error: (_: unknown, s: string) => scopes.failed.push(s),
  };
  const done = source(true).watch(prefixes, listener, abort.signal);
  closing.unshift(async () => (abort.abort(), await done));
  return { snapshots, scopes, last: () => snapshots.at(-1)?.pairs ?? [] };
}

/** What one plain read of the same prefixes holds now. */
const truth = async (prefixes = ['apps', 'lb']) => (await source(false).read(prefixes)).pairs;
/** The prefixes of the recursive blocking queries asked since `from`: those woken and asked again (a plain read, as `truth` makes, does not block). */
const recurseReads = (from: number) =>
  server.requests
    .slice(from)
    .filter((r) => r.query.has('recurse') && r.query.has('index'))
    .map((r) => r.path);

async function matches(w: ReturnType<typeof watch>, what: string): Promise<void> {
  let want: readonly KvPair[] = [];
  await waitFor(what, async () => {
    want = await truth();
    return JSON.stringify(w.last()) === JSON.stringify(want);
  });
}

describe('ConsulSource watching the apps prefix in parts', () => {
  it("answers a change in one app with that app's part alone, and holds every key a plain read holds (apps2/…, apps-leaf too)", async () => {
    server = await new ConsulKvServer().start();
    for (const app of ['web', 'api', 'admin']) server.put(`apps/${app}/containers/${app}1`, '10.0.0.1:80');
    server.put('apps2/x', 'beside');
    server.put('apps-leaf', 'beside too');
    server.put('lb/routes/web', 'www.example.test');
    const w = watch();
    await matches(w, 'the first snapshot');
    // Each app, and each name beside the folder, gets a blocking query of its own (plus lb and the two listings).
    const settled = ['apps-leaf', 'apps/?keys', 'apps/admin/', 'apps/api/', 'apps/web/', 'apps2/', 'apps?keys', 'lb'];
    await waitFor('a blocking query per part', () => JSON.stringify(server.blockedOn) === JSON.stringify(settled));
    const from = server.requests.length;
    server.put('apps/web/containers/web2', '10.0.0.2:80');
    await matches(w, 'web2 in the snapshot');
    await waitFor('the queries to block again', () => JSON.stringify(server.blockedOn) === JSON.stringify(settled));
    expect(new Set(recurseReads(from))).toEqual(new Set(['/v1/kv/apps/web/']));
    server.delete('apps/api', true);
    await matches(w, 'api gone');
    server.put('apps/new/containers/n1', '10.0.0.3:80');
    await matches(w, 'the new app');
    expect(w.last().map((p) => p.key)).toContain('/apps/new/containers/n1');
  });

  it('follows apps coming and going: after every change the snapshot is what a plain read holds, and an app left alone is in every one', async () => {
    server = await new ConsulKvServer().start();
    server.put('apps/steady/containers/s1', '10.0.0.9:80');
    const w = watch();
    await matches(w, 'the first snapshot');
    let seed = 11;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let step = 0; step < 40; step++) {
      const app = `apps/a${random(12)}`;
      const kind = random(5);
      if (kind === 0) server.delete(app, true);
      else if (kind === 1) server.put(`apps${random(3)}/k${random(4)}`, `v${step}`);
      else server.put(`${app}/containers/c${random(3)}`, `10.0.${step}.1:80`);
      await matches(w, `step ${step}`);
    }
    const steady = w.snapshots.slice(0).filter((s) => !s.pairs.some((p) => p.key === '/apps/steady/containers/s1'));
    expect(steady).toEqual([]);
  });

  it(`keeps to ${MAX_PARTS} part queries with 100 apps, and a change still comes through its part`, async () => {
    server = await new ConsulKvServer().start();
    const apps = Array.from({ length: 100 }, (_, i) => `apps/app${String(i).padStart(3, '0')}/`);
    server.putMany(apps.map((app) => [`${app}containers/s1`, '10.0.0.1:80'] as [string, string]));
    const w = watch(['apps']);
    await matches(w, 'the first snapshot');
    // The two listings, and a part for every app or run of apps: never the whole prefix.
    const parts = partsOf('apps', apps);
    expect(parts.length).toBeLessThanOrEqual(MAX_PARTS);
    const settled = JSON.stringify([...parts, 'apps/?keys', 'apps?keys'].sort());
    await waitFor('the parts to settle', () => JSON.stringify(server.blockedOn) === settled);
    const from = server.requests.length;
    server.put('apps/app077/containers/s2', '10.0.0.2:80');
    await waitFor('app077 s2', () => w.last().some((p) => p.key === '/apps/app077/containers/s2'));
    await waitFor('the queries to block again', () => JSON.stringify(server.blockedOn) === settled);
    const reads = [...new Set(recurseReads(from))];
    expect(reads).toHaveLength(1);
    expect(reads[0]!.startsWith('/v1/kv/apps/app07')).toBe(true);
  });

  it('never reads another place for a name with a `..` segment (the store root for `apps/../`): the prefix is read whole', async () => {
    server = await new ConsulKvServer().start();
    server.put('apps/web/containers/w1', '10.0.0.1:80');
    server.put('apps/../x', 'not an app');
    server.put('secret/db', 'password');
    const w = watch(['apps']);
    await waitFor('the first snapshot', () => w.snapshots.length > 0);
    await new Promise((r) => setTimeout(r, 500));
    expect(server.requests.filter((r) => r.path === '/v1/kv/' || r.path === '/v1/kv')).toEqual([]);
    expect(w.last().map((p) => p.key)).toEqual(['/apps/../x', '/apps/web/containers/w1']);
  });

  it('tells a store that goes away as one problem of the apps prefix, not one per part, and the prefix alive once it is back', async () => {
    server = await new ConsulKvServer().start();
    for (const app of ['web', 'api', 'admin']) server.put(`apps/${app}/containers/${app}1`, '10.0.0.1:80');
    const w = watch();
    await matches(w, 'the first snapshot');
    const settled = ['apps/?keys', 'apps/admin/', 'apps/api/', 'apps/web/', 'apps?keys', 'lb'];
    await waitFor('a blocking query per part', () => JSON.stringify(server.blockedOn) === JSON.stringify(settled));
    await server.stop();
    await waitFor('errors', () => w.scopes.failed.filter((s) => s === 'lb').length >= 4);
    expect(new Set(w.scopes.failed)).toEqual(new Set(['apps', 'lb']));
    // The apps prefix's six queries fail as often as lb's one does, not six times as often.
    const count = (scope: string) => w.scopes.failed.filter((s) => s === scope).length;
    expect(count('apps')).toBeLessThanOrEqual(2 * count('lb') + 2);
    w.scopes.alive.clear();
    await server.start();
    server.put('apps/web/containers/web2', '10.0.0.2:80');
    await matches(w, 'web2 after the store came back');
    await waitFor('the prefix alive again', () => w.scopes.alive.has('apps') && w.scopes.alive.has('lb'));
    expect([...w.scopes.alive].sort()).toEqual(['apps', 'lb']);
  });
});

/** A store whose every answer the test gives by hand, query by query (path: the prefix read or listed). */
function scripted() {
  const queues = new Map<string, Array<PrefixReading | FolderListing>>();
  const waiting = new Map<string, Set<() => void>>();
  const asked: string[] = [];
  /** The paths whose waiting reads were given up (aborted). */
  const dropped: string[] = [];
  const failing = new Set<string>();
  const down = new Set<string>();
  const next = async <T>(path: string, signal?: AbortSignal): Promise<T> => {
    asked.push(path);
    if (failing.has(path)) throw refusal(Object.assign(new Error(`${path}: HTTP 403`), { code: 'KV_UNAUTHORISED' }));
    if (down.has(path)) throw Object.assign(new Error(`${path}: refused the connection`), { code: 'KV_UNREACHABLE' });
    for (;;) {
      const answer = queues.get(path)?.shift();
      if (answer) return answer as T;
      await new Promise<void>((resolve, reject) => {
        if (!waiting.has(path)) waiting.set(path, new Set());
        waiting.get(path)!.add(resolve);
        const abort = () => (dropped.push(path), reject(Object.assign(new Error('aborted'), { name: 'AbortError' })));
        signal?.addEventListener('abort', abort, { once: true });
      });
    }
  };
  return {
    asked,
    dropped,
    /** Paths whose every read the store refuses from now on (HTTP 403). */
    failing,
    /** Paths whose every read finds no store (an outage). */
    down,
    give(path: string, answer: PrefixReading | FolderListing) {
      queues.set(path, [...(queues.get(path) ?? []), answer]);
      // Every reader of the path looks again; the first takes the answer.
      for (const wake of waiting.get(path) ?? []) wake();
      waiting.delete(path);
    },
    read: (prefix: string, _since?: number, signal?: AbortSignal) => next<PrefixReading>(prefix, signal),
    list: (folder: string, _since?: number, signal?: AbortSignal) => next<FolderListing>(`${folder}?keys`, signal),
  };
}

const kv = (...keys: string[]) => keys.map((key) => ({ key: `/${key}`, value: 'v' }));

function runScripted(store: ReturnType<typeof scripted>, giveUpSwapMs?: number) {
  const snapshots: KvSnapshot[] = [];
  const told: string[] = [];
  const abort = new AbortController();
  const listener = {
    snapshot: (s: KvSnapshot) => snapshots.push(s),
    alive: (s: string) => told.push(`alive ${s}`),
    error: (_: unknown, s: string) => told.push(`error ${s}`),
  };
  const done = watchConsul(['apps'], listener, abort.signal, { read: store.read, list: store.list, split: ['apps'], pollIntervalMs: 60_000, giveUpSwapMs });
  closing.push(async () => (abort.abort(), await done));
  return { snapshots, told, keys: () => snapshots.at(-1)?.pairs.map((p) => p.key) ?? [] };
}

/** Whether `path` is asked no more: nothing new in 700 ms (more than the backoff's first steps and the 100 ms between queries). */
async function notAskedAgain(store: ReturnType<typeof scripted>, path: string): Promise<boolean> {
  const from = store.asked.length;
  await new Promise((r) => setTimeout(r, 700));
  return !store.asked.slice(from).includes(path);
}

/** The whole prefix read (the first snapshot), then listings naming `apps`, and each app's part read once and asked again: the parts in place. */
async function withParts(store: ReturnType<typeof scripted>, w: ReturnType<typeof runScripted>, apps: Record<string, string[]>): Promise<void> {
  const keysOf = (app: string) => apps[app]!.map((k) => `apps/${app}/${k}`);
  const all = Object.keys(apps).flatMap(keysOf);
  store.give('apps', { pairs: kv(...all), index: 5 });
  await waitFor('the first snapshot', () => w.keys().length === all.length);
  store.give('apps?keys', { names: ['apps/'], index: 5 });
  store.give('apps/?keys', { names: Object.keys(apps).map((a) => `apps/${a}/`), index: 5 });
  for (const app of Object.keys(apps)) store.give(`apps/${app}/`, { pairs: kv(...keysOf(app)), index: 5 });
  await waitFor('each part asked again', () => Object.keys(apps).every((a) => store.asked.filter((p) => p === `apps/${a}/`).length >= 2));
}

/** Parts a and b in place, b/2 read through b's part, then b's query refused from now on and woken by a change: returns how often the whole prefix had been asked. */
async function refuseB(store: ReturnType<typeof scripted>, w: ReturnType<typeof runScripted>): Promise<number> {
  await withParts(store, w, { a: ['1'], b: ['1'] });
  store.give('apps/b/', { pairs: kv('apps/b/1', 'apps/b/2'), index: 6 });
  await waitFor('b/2 through its part', () => w.keys().includes('/apps/b/2'));
  store.failing.add('apps/b/');
  const whole = store.asked.filter((p) => p === 'apps').length;
  store.give('apps/b/', { pairs: kv('apps/b/1', 'apps/b/2'), index: 6 });
  return whole;
}

describe('watchConsul: parts as they change (scripted store)', () => {
  it("takes an app out only once its own part has read it gone, never on a listing's word alone (a listing can be older than a part)", async () => {
    const store = scripted();
    const w = runScripted(store);
    await withParts(store, w, { a: ['1'] });
    // b appears at index 6; the listings say so, and its part reads it.
    store.give('apps?keys', { names: ['apps/'], index: 6 });
    store.give('apps/?keys', { names: ['apps/a/', 'apps/b/'], index: 6 });
    store.give('apps/b/', { pairs: kv('apps/b/1'), index: 6 });
    await waitFor('b in the snapshot', () => w.keys().includes('/apps/b/1'));
    // b's part reads a change at index 8, then a listing leaves b out: b stays, as its part still holds it.
    store.give('apps/b/', { pairs: kv('apps/b/1', 'apps/b/2'), index: 8 });
    await waitFor('b/2 in the snapshot', () => w.keys().includes('/apps/b/2'));
    store.give('apps/?keys', { names: ['apps/a/'], index: 7 });
    store.give('apps?keys', { names: ['apps/'], index: 7 });
    await waitFor('the listings read', () => store.asked.filter((p) => p === 'apps/?keys').length >= 4);
    expect(w.keys()).toEqual(['/apps/a/1', '/apps/b/1', '/apps/b/2']);
    // b's own part reads it gone: b leaves, and its part is no longer asked.
    store.give('apps/b/', { pairs: [], index: 9 });
    await waitFor('b gone', () => !w.keys().includes('/apps/b/1'));
    expect(w.keys()).toEqual(['/apps/a/1']);
    const asked = store.asked.length;
    store.give('apps/b/', { pairs: kv('apps/b/1'), index: 10 });
    await new Promise((r) => setTimeout(r, 300));
    expect(store.asked.slice(asked)).not.toContain('apps/b/');
    expect(w.keys()).toEqual(['/apps/a/1']);
  });

  it('keeps an app the listings do not know yet: the whole prefix holds it until a listing names it and its part reads it', async () => {
    const store = scripted();
    const w = runScripted(store);
    store.give('apps', { pairs: kv('apps/a/1', 'apps/b/1'), index: 6 });
    await waitFor('the first snapshot', () => w.keys().length === 2);
    // Listings older than b: only a.
    store.give('apps?keys', { names: ['apps/'], index: 5 });
    store.give('apps/?keys', { names: ['apps/a/'], index: 5 });
    store.give('apps/a/', { pairs: kv('apps/a/1'), index: 5 });
    await waitFor('a read', () => store.asked.filter((p) => p === 'apps/a/').length >= 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(w.keys()).toEqual(['/apps/a/1', '/apps/b/1']);
    expect(store.asked.filter((p) => p === 'apps').length).toBeGreaterThanOrEqual(2);
    store.give('apps/?keys', { names: ['apps/a/', 'apps/b/'], index: 6 });
    store.give('apps/b/', { pairs: kv('apps/b/1'), index: 6 });
    await waitFor('b read by its part', () => store.asked.filter((p) => p === 'apps/b/').length >= 2);
    const asked = store.asked.length;
    store.give('apps', { pairs: kv('apps/a/1', 'apps/b/1', 'apps/c/1'), index: 7 });
    await new Promise((r) => setTimeout(r, 300));
    // The whole prefix was given up once its parts agreed with it: its answer is no longer taken.
    expect(store.asked.slice(asked)).not.toContain('apps');
    expect(w.keys()).toEqual(['/apps/a/1', '/apps/b/1']);
    for (const s of w.snapshots) expect(s.pairs.map((p) => p.key)).toEqual(expect.arrayContaining(['/apps/a/1', '/apps/b/1']));
  });

  it('swaps the whole prefix for its parts only once every part has read: no snapshot misses a key', async () => {
    const store = scripted();
    const w = runScripted(store);
    store.give('apps', { pairs: kv('apps/a/1', 'apps/b/1', 'apps/c/1'), index: 5 });
    await waitFor('the first snapshot', () => w.keys().length === 3);
    store.give('apps?keys', { names: ['apps/'], index: 5 });
    store.give('apps/?keys', { names: ['apps/a/', 'apps/b/', 'apps/c/'], index: 5 });
    store.give('apps/a/', { pairs: kv('apps/a/1'), index: 5 });
    store.give('apps/b/', { pairs: kv('apps/b/1'), index: 5 });
    await waitFor('a and b read', () => store.asked.filter((p) => p === 'apps/a/' || p === 'apps/b/').length >= 4);
    // c has not answered: the whole prefix still reports, and a change it reads still comes through.
    store.give('apps', { pairs: kv('apps/a/1', 'apps/b/1', 'apps/c/1', 'apps/c/2'), index: 6 });
    await waitFor('c/2 from the whole prefix', () => w.keys().includes('/apps/c/2'));
    store.give('apps/?keys', { names: ['apps/a/', 'apps/b/', 'apps/c/'], index: 6 });
    store.give('apps?keys', { names: ['apps/'], index: 6 });
    store.give('apps/c/', { pairs: kv('apps/c/1', 'apps/c/2'), index: 6 });
    await waitFor('the whole prefix no longer read', () => store.asked.filter((p) => p === 'apps/c/').length >= 2);
    await waitFor('the snapshot from the parts', () => w.snapshots.length >= 2);
    for (const s of w.snapshots) expect(s.pairs.map((p) => p.key)).toEqual(expect.arrayContaining(['/apps/a/1', '/apps/b/1', '/apps/c/1']));
    expect(w.keys()).toEqual(['/apps/a/1', '/apps/b/1', '/apps/c/1', '/apps/c/2']);
  });

  it('never goes back in time: a part that read before the last change takes over only once it has read that change too', async () => {
    const store = scripted();
    const w = runScripted(store);
    const a1 = (value: string) => [{ key: '/apps/a/1', value }];
    store.give('apps', { pairs: a1('new'), index: 7 });
    await waitFor('the first snapshot', () => w.keys().length === 1);
    store.give('apps?keys', { names: ['apps/'], index: 7 });
    store.give('apps/?keys', { names: ['apps/a/'], index: 7 });
    // The part read the key as it was before index 7.
    store.give('apps/a/', { pairs: a1('old'), index: 6 });
    await waitFor('the part read', () => store.asked.filter((p) => p === 'apps/a/').length >= 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(w.snapshots.map((s) => s.pairs[0]!.value)).toEqual(['new']);
    store.give('apps/a/', { pairs: a1('new'), index: 7 });
    await waitFor('the whole prefix given up', () => store.asked.filter((p) => p === 'apps/a/').length >= 3);
    const asked = store.asked.length;
    store.give('apps', { pairs: a1('newer'), index: 8 });
    await new Promise((r) => setTimeout(r, 300));
    expect(store.asked.slice(asked)).not.toContain('apps');
    expect(w.snapshots.map((s) => s.pairs[0]!.value)).toEqual(['new']);
  });

  it('sends the first snapshot of an empty apps prefix, whether the listings or the read answer first', async () => {
    for (const listingsFirst of [true, false]) {
      const store = scripted();
      const w = runScripted(store);
      const read = () => store.give('apps', { pairs: [], index: 5 });
      if (!listingsFirst) read();
      store.give('apps?keys', { names: [], index: 5 });
      store.give('apps/?keys', { names: [], index: 5 });
      if (listingsFirst) read();
      await waitFor(`the first snapshot (listings first: ${listingsFirst})`, () => w.snapshots.length === 1);
      expect(w.keys()).toEqual([]);
    }
  });

  it('reads the prefix whole for good when a part cannot be read while the rest can (an ACL that lists a folder it does not let read), and tells one problem, then none', async () => {
    const store = scripted();
    const w = runScripted(store);
    store.failing.add('apps/b/');
    store.give('apps', { pairs: kv('apps/a/1', 'apps/b/1'), index: 5 });
    await waitFor('the first snapshot', () => w.keys().length === 2);
    store.give('apps?keys', { names: ['apps/'], index: 5 });
    store.give('apps/?keys', { names: ['apps/a/', 'apps/b/'], index: 5 });
    store.give('apps/a/', { pairs: kv('apps/a/1'), index: 5 });
    await waitFor('b failing three times', () => store.asked.filter((p) => p === 'apps/b/').length >= 3);
    // The third failure asks for the whole prefix once: it can be read, so it is read whole (and the watch's own read of it too).
    await waitFor('the whole prefix asked', () => store.asked.filter((p) => p === 'apps').length >= 3);
    for (const _ of [1, 2]) store.give('apps', { pairs: kv('apps/a/1', 'apps/b/1', 'apps/b/2'), index: 6 });
    await waitFor('b/2 from the whole prefix', () => w.keys().includes('/apps/b/2'));
    expect(await notAskedAgain(store, 'apps/b/')).toBe(true);
    expect(await notAskedAgain(store, 'apps/?keys')).toBe(true);
    expect(new Set(w.told.map((t) => t.split(' ')[1]))).toEqual(new Set(['apps']));
    expect(w.told.at(-1)).toBe('alive apps');
  });

  it('keeps its parts through an outage: failures that are no refusal never make it read the prefix whole', async () => {
    const store = scripted();
    const w = runScripted(store);
    await withParts(store, w, { a: ['1'] });
    // A change the part reports: the part has taken over from the whole prefix.
    store.give('apps/a/', { pairs: kv('apps/a/1', 'apps/a/2'), index: 6 });
    await waitFor('a/2 through its part', () => w.keys().includes('/apps/a/2'));
    // a's query finds no store, again and again, once woken by a change; the whole prefix could be read.
    const whole = store.asked.filter((p) => p === 'apps').length;
    store.give('apps', { pairs: kv('apps/a/1', 'apps/a/2'), index: 7 });
    store.down.add('apps/a/');
    store.give('apps/a/', { pairs: kv('apps/a/1', 'apps/a/2'), index: 7 });
    await waitFor('a failing four times', () => store.asked.filter((p) => p === 'apps/a/').length >= 8);
    store.down.delete('apps/a/');
    store.give('apps/a/', { pairs: kv('apps/a/1', 'apps/a/3'), index: 8 });
    await waitFor('a/3 through its part', () => w.keys().includes('/apps/a/3'));
    expect(store.dropped).not.toContain('apps?keys');
    expect(store.asked.filter((p) => p === 'apps').length).toBe(whole);
    expect(w.told.at(-1)).toBe('alive apps');
  });

  it('takes the whole prefix back from reporting parts even when one of them can no longer be read (its stale pairs go)', async () => {
    const store = scripted();
    const w = runScripted(store);
    // b's query is refused from now on, once woken by a change; the whole prefix can be read, and holds b/3 (not b/2).
    const whole = await refuseB(store, w);
    await waitFor('b refused three times', () => store.asked.filter((p) => p === 'apps/b/').length >= 6);
    await waitFor('the whole prefix asked', () => store.asked.filter((p) => p === 'apps').length > whole);
    for (const _ of [1, 2]) store.give('apps', { pairs: kv('apps/a/1', 'apps/b/1', 'apps/b/3'), index: 7 });
    await waitFor('b/3 from the whole prefix', () => w.keys().includes('/apps/b/3'));
    expect(w.keys()).toEqual(['/apps/a/1', '/apps/b/1', '/apps/b/3']);
    await waitFor('the parts given up', () => ['apps/a/', 'apps?keys', 'apps/?keys'].every((p) => store.dropped.includes(p)));
    expect(await notAskedAgain(store, 'apps/b/')).toBe(true);
    expect(w.told.at(-1)).toBe('alive apps');
  });

  it('takes the whole prefix back only from a read at least as new as its parts: no value goes back in time', async () => {
    const store = scripted();
    const w = runScripted(store);
    const before = await refuseB(store, w);
    const asked = () => store.asked.filter((p) => p === 'apps').length;
    await waitFor('the whole prefix asked once b was refused three times', () => asked() > before);
    store.give('apps', { pairs: kv('apps/a/1', 'apps/b/1', 'apps/b/2'), index: 6 });
    await waitFor("the whole prefix's own query", () => asked() > before + 1);
    // An answer from before b/2 (a server behind, in stale mode): not taken.
    store.give('apps', { pairs: kv('apps/a/1', 'apps/b/1'), index: 5 });
    await waitFor('it asked again', () => asked() > before + 2);
    expect(w.keys()).toEqual(['/apps/a/1', '/apps/b/1', '/apps/b/2']);
    store.give('apps', { pairs: kv('apps/a/1', 'apps/b/1', 'apps/b/3'), index: 7 });
    await waitFor('b/3 from the whole prefix', () => w.keys().includes('/apps/b/3'));
    expect(w.keys()).toEqual(['/apps/a/1', '/apps/b/1', '/apps/b/3']);
    for (const s of w.snapshots) expect(s.pairs.map((p) => p.key)).toContain('/apps/a/1');
  });

  it('reads the prefix whole for good when its listing keeps failing while the prefix is read (a gateway that refuses ?keys), and the prefix is alive again', async () => {
    const store = scripted();
    const w = runScripted(store);
    store.failing.add('apps?keys');
    await waitFor('the listing failing', () => store.asked.includes('apps?keys'));
    store.give('apps', { pairs: kv('apps/a/1'), index: 5 });
    await waitFor('the first snapshot', () => w.keys().length === 1);
    // The third failure asks for the whole prefix once (beside the watch's own blocking query of it): it can be read.
    await waitFor('the whole prefix asked', () => store.asked.filter((p) => p === 'apps').length >= 3);
    for (const _ of [1, 2]) store.give('apps', { pairs: kv('apps/a/1'), index: 5 });
    await waitFor('the prefix alive again', () => w.told.at(-1) === 'alive apps');
    expect(await notAskedAgain(store, 'apps?keys')).toBe(true);
    // The failures before the prefix was read, and three after: not one per retry forever.
    expect(w.told.filter((t) => t === 'error apps').length).toBeLessThanOrEqual(4);
  });

  it("never reads Consul's folder key (`apps/`, as its UI makes a folder) as a part: the apps in it are", async () => {
    const store = scripted();
    const w = runScripted(store);
    store.give('apps', { pairs: kv('apps/a/1', 'apps/b/1'), index: 5 });
    await waitFor('the first snapshot', () => w.keys().length === 2);
    store.give('apps?keys', { names: ['apps/'], index: 5 });
    store.give('apps/?keys', { names: ['apps/', 'apps/a/', 'apps/b/'], index: 5 });
    await waitFor('the parts asked', () => store.asked.includes('apps/a/') && store.asked.includes('apps/b/'));
    expect(store.asked).not.toContain('apps/');
  });

  it('reads the prefix whole for good when parts and the whole keep disagreeing past the deadline', async () => {
    const store = scripted();
    const w = runScripted(store, 300);
    store.give('apps', { pairs: kv('apps/a/1', 'apps/b/1'), index: 5 });
    await waitFor('the first snapshot', () => w.keys().length === 2);
    // Listings that never name b (an ACL that hides its name but lets it be read).
    store.give('apps?keys', { names: ['apps/'], index: 5 });
    store.give('apps/?keys', { names: ['apps/a/'], index: 5 });
    store.give('apps/a/', { pairs: kv('apps/a/1'), index: 5 });
    await waitFor('a read', () => store.asked.filter((p) => p === 'apps/a/').length >= 2);
    await new Promise((r) => setTimeout(r, 400));
    store.give('apps', { pairs: kv('apps/a/1', 'apps/b/1', 'apps/b/2'), index: 6 });
    await waitFor('b/2', () => w.keys().includes('/apps/b/2'));
    // The part and the listings waiting on the store are given up.
    await waitFor('the parts given up', () => ['apps/a/', 'apps?keys', 'apps/?keys'].every((p) => store.dropped.includes(p)));
    expect(w.keys()).toEqual(['/apps/a/1', '/apps/b/1', '/apps/b/2']);
  });

  it('reads the prefix whole, as without parts, from a store that cannot list or cannot block', async () => {
    for (const listing of [{}, { names: ['apps/a/'] }] as FolderListing[]) {
      const store = scripted();
      const w = runScripted(store);
      store.give('apps?keys', listing);
      store.give('apps/?keys', listing);
      store.give('apps', { pairs: kv('apps/a/1'), index: 5 });
      await waitFor('the first snapshot', () => w.keys().length === 1);
      store.give('apps', { pairs: kv('apps/a/1', 'apps/a/2'), index: 6 });
      await waitFor('a/2', () => w.keys().length === 2);
      expect(store.asked.filter((p) => !['apps', 'apps?keys', 'apps/?keys'].includes(p))).toEqual([]);
      expect(store.asked.filter((p) => p.endsWith('?keys')).length).toBeLessThanOrEqual(2);
    }
  });
});
