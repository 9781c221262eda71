import { describe, expect, it } from 'vitest';
import { rangesOf, type KeyRange } from '../../src/kv/etcd-keys.js';
import type { EtcdWatchMessage } from '../../src/kv/etcd-messages.js';
import { watchEtcd } from '../../src/kv/etcd-watch.js';
import { toSnapshot } from '../../src/kv/keys.js';
import { MergedPairs } from '../../src/kv/merged-pairs.js';
import type { KvPair, KvSnapshot } from '../../src/kv/source.js';
import { waitFor } from '../support/haproxy-process.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const put = (key: string, value: string): EtcdWatchMessage => ({ result: { events: [{ kv: { key: b64(key), value: b64(value) } }] } });
const del = (key: string): EtcdWatchMessage => ({ result: { events: [{ type: 'DELETE', kv: { key: b64(key) } }] } });

/** A watch stream the test writes to, one message at a time. */
function stream(signal: AbortSignal) {
  const queue: EtcdWatchMessage[] = [{ result: { created: true } }];
  let wake = () => {};
  const messages = (async function* () {
    while (!signal.aborted) {
      if (queue.length > 0) yield queue.shift()!;
      else await new Promise<void>((resolve) => ((wake = resolve), signal.addEventListener('abort', () => resolve(), { once: true })));
    }
    throw Object.assign(new Error('aborted'), { name: 'AbortError' });
  })();
  return { messages, send: (message: EtcdWatchMessage) => (queue.push(message), wake()) };
}

/** What the store holds, merged the way a read of all shapes merges it: toSnapshot of the plain shape, then the slashed one. */
const expected = (plain: Record<string, string>, slashed: Record<string, string>) =>
  toSnapshot([...Object.entries(plain), ...Object.entries(slashed)].map(([key, value]) => ({ key: `/apps/x/${key}`, value }))).pairs;

describe('watchEtcd: snapshots patched by events', () => {
  it('stays sorted, lets the slashed key win, keeps unchanged pairs as the same objects, and takes a re-read whole', async () => {
    const ranges = rangesOf('apps/x');
    const plain = { a: 'plain-a', c: 'plain-c' };
    const slashed: Record<string, string> = { c: 'slashed-c', e: 'e', g: 'g' };
    const streams = new Map<string, ReturnType<typeof stream>>();
    let reads = 0;
    const snapshots: KvSnapshot[] = [];
    const abort = new AbortController();
    const done = watchEtcd(ranges, { snapshot: (s) => snapshots.push(s), alive: () => {}, error: () => {} }, abort.signal, {
      tokenExpired: () => {},
      async range(r: KeyRange) {
        if (r.label.startsWith('/')) reads += 1;
        const keys = r.label.startsWith('/') ? (reads === 1 ? slashed : { b: 'reread' }) : plain;
        return { pairs: Object.entries(keys).map(([key, value]) => ({ key: `/apps/x/${key}`, value })), revision: 10 };
      },
      async watch(r: KeyRange, _from: number, signal: AbortSignal) {
        const s = stream(signal);
        streams.set(r.label, s);
        return s.messages;
      },
    });
    const next = async (count: number) => waitFor(`snapshot ${count}`, () => snapshots[count - 1]);
    const first = await next(1);
    expect(first.pairs).toEqual(expected(plain, slashed));
    await waitFor('both streams', () => streams.size === 2);

    streams.get('/apps/x')!.send(put('/apps/x/d', 'd')); // a new key that sorts in the middle
    const added = await next(2);
    expect(added.pairs).toEqual(expected(plain, { ...slashed, d: 'd' }));
    for (const pair of first.pairs) expect(added.pairs.find((p) => p.key === pair.key)).toBe(pair);

    streams.get('/apps/x')!.send(del('/apps/x/c')); // the plain shape's value shows through
    const deleted = await next(3);
    expect(deleted.pairs).toEqual(expected(plain, { e: 'e', g: 'g', d: 'd' }));
    expect(deleted.pairs.filter((p) => p.key !== '/apps/x/c')).toEqual(added.pairs.filter((p) => p.key !== '/apps/x/c'));
    for (const pair of deleted.pairs) if (pair.key !== '/apps/x/c') expect(added.pairs).toContain(pair);
    expect(added.pairs).toEqual(expected(plain, { ...slashed, d: 'd' })); // a snapshot handed out is never changed afterwards

    streams.get('/apps/x')!.send({ result: { canceled: true, compact_revision: '5' } }); // read again: its pairs replace the shape's
    const reread = await next(4);
    expect(reread.pairs).toEqual(expected(plain, { b: 'reread' }));
    expect(reread.pairs[0]).toBe(first.pairs[0]); // plain a, untouched by the re-read
    abort.abort();
    await done;
  });
});

describe('MergedPairs', () => {
  const layered = (layers: Map<string, string>[]) => (key: string) => layers.findLast((l) => l.has(key))?.get(key);

  it('answers only when the pairs changed: a key set back to its value, or deleted where it was not, is not news', () => {
    const keys = new Map([['/a', '1']]);
    const merged = new MergedPairs(layered([keys]));
    const empty = merged.take();
    expect(empty).toEqual({ pairs: [] }); // the first list, empty, is news
    merged.touch('/a');
    const one = merged.take();
    expect(one).toEqual({ pairs: [{ key: '/a', value: '1' }], since: { pairs: empty!.pairs, keys: ['/a'] } });
    keys.set('/a', '2');
    keys.set('/a', '1');
    merged.touch('/a');
    merged.touch('/gone');
    expect(merged.take()).toBeUndefined();
    expect(merged.take()).toBeUndefined();
  });

  it('gives what toSnapshot of every range gives, after changes small (patched) and large (merged), reusing unchanged pairs and naming the keys that differ', () => {
    let seed = 7;
    const random = (n: number) => ((seed = (seed * 48271) % 2147483647), seed % n);
    const layers = [new Map<string, string>(), new Map<string, string>()];
    const merged = new MergedPairs(layered(layers));
    let last: readonly KvPair[] = merged.take()!.pairs;
    for (const size of [200, 1, 3, 40, 1, 500, 2, 32, 33]) {
      for (let i = 0; i < size; i++) {
        const key = `/k${random(300)}`;
        const layer = layers[random(2)]!;
        if (random(3) === 0) layer.delete(key);
        else layer.set(key, `v${random(4)}`);
        merged.touch(key);
      }
      const want = toSnapshot(layers.flatMap((l) => [...l].map(([key, value]) => ({ key, value })))).pairs;
      const taken = merged.take();
      const pairs = taken?.pairs ?? last;
      expect(pairs).toEqual(want);
      const before = new Map(last.map((p) => [p.key, p]));
      for (const pair of pairs) if (before.get(pair.key)?.value === pair.value) expect(pair).toBe(before.get(pair.key));
      // Every key that differs from the list taken before is among the keys it names.
      const now = new Map(pairs.map((p) => [p.key, p.value]));
      const differing = [...new Set([...before.keys(), ...now.keys()])].filter((k) => before.get(k)?.value !== now.get(k));
      if (taken) expect(taken.since?.pairs).toBe(last);
      if (taken) expect(taken.since?.keys).toEqual(expect.arrayContaining(differing));
      last = pairs;
    }
  });
});
