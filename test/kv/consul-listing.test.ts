import { describe, expect, it } from 'vitest';
import { parseListing, type KeptListing } from '../../src/kv/consul-listing.js';
import { keyOrderIsKnown, toSnapshot } from '../../src/kv/keys.js';

type Entry = { Key: string; Value: string | null; ModifyIndex: number };
const entry = (Key: string, v: string | null, ModifyIndex = 1): Entry => ({ Key, Value: v === null ? null : Buffer.from(v).toString('base64'), ModifyIndex });
/** A listing as Consul writes it: compact JSON, the fields of each entry in Consul's order. */
const body = (entries: Entry[]) =>
  Buffer.from(JSON.stringify(entries.map((e) => ({ LockIndex: 0, Key: e.Key, Flags: 0, Value: e.Value, CreateIndex: 1, ModifyIndex: e.ModifyIndex }))));
const listing = (entries: Record<string, string | null>) => body(Object.entries(entries).map(([k, v]) => entry(k, v)));
const fail = (what: string) => new Error(what);

/** The pairs the whole answer gives, parsed the plain way: what any reading must equal. */
function plainly(answer: Buffer) {
  const entries = JSON.parse(answer.toString('utf8')) as Array<{ Key: string; Value: string | null }>;
  return entries
    .filter((e) => !e.Key.endsWith('/'))
    .map((e) => ({ key: e.Key.startsWith('/') ? e.Key : `/${e.Key}`, value: e.Value ? Buffer.from(e.Value, 'base64').toString('utf8') : '' }));
}

/** A small deterministic random source, so a failure can be replayed. */
function random(seed: number) {
  let x = seed;
  return (n: number) => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return x % n;
  };
}

describe("a Consul listing read against the last one's", () => {
  it('a chain of one-key changes is read by its changed bytes every time, each naming that key and no more than its neighbours (the last listing is updated in place)', () => {
    const rand = random(11);
    const keys = Array.from({ length: 300 }, (_, i) => `apps/x/s${String(i).padStart(3, '0')}`);
    const values = new Map(keys.map((k) => [k, `10.0.0.${rand(250)}:80`]));
    let last = parseListing(listing(Object.fromEntries(values)), fail);
    for (let step = 0; step < 200; step++) {
      const key = keys[rand(keys.length)]!;
      const before = values.get(key);
      // Values of other lengths: every entry after the change moves.
      if (rand(3) === 0 && values.size > 1) values.delete(key);
      else values.set(key, `10.0.${rand(250)}.${rand(250)}:${rand(65_000)}`);
      const answer = listing(Object.fromEntries([...values].sort(([a], [b]) => (a < b ? -1 : 1))));
      const next = parseListing(answer, fail, last.kept);
      expect(next.pairs).toEqual(plainly(answer));
      // The keys that may differ: the changed one, and at most its neighbours where their bytes met.
      if (values.get(key) === before) expect(next.changed, `step ${step}`).toEqual([]);
      else {
        expect(next.changed, `step ${step}`).toContain(`/${key}`);
        expect(next.changed!.length, `step ${step}`).toBeLessThanOrEqual(3);
      }
      last = next;
    }
  });

  it('keeps the pair object of each entry as it was, and decodes only what changed', () => {
    const first = parseListing(listing({ 'apps/x/a': '10.0.0.1:80', 'apps/x/b': '10.0.0.2:80', 'apps/x/c': null }), fail);
    expect(first.pairs).toEqual([
      { key: '/apps/x/a', value: '10.0.0.1:80' },
      { key: '/apps/x/b', value: '10.0.0.2:80' },
      { key: '/apps/x/c', value: '' },
    ]);
    const second = parseListing(listing({ 'apps/x/a': '10.0.0.1:80', 'apps/x/b': '10.0.0.9:80', 'apps/x/d': 'new' }), fail, first.kept);
    expect(second.pairs[0]).toBe(first.pairs[0]);
    expect(second.pairs.slice(1)).toEqual([
      { key: '/apps/x/b', value: '10.0.0.9:80' },
      { key: '/apps/x/d', value: 'new' },
    ]);
    // What the second listing no longer holds is not kept for the third.
    expect(second.kept.keys).toEqual(['apps/x/a', 'apps/x/b', 'apps/x/d']);
    // A value whose last bytes alone changed, at the same length and index: only its bytes tell.
    const third = parseListing(listing({ 'apps/x/a': '10.0.0.1:81', 'apps/x/b': '10.0.0.9:80', 'apps/x/d': 'new' }), fail, second.kept);
    expect(third.pairs).toEqual([{ key: '/apps/x/a', value: '10.0.0.1:81' }, second.pairs[1], second.pairs[2]]);
    expect(third.pairs[2]).toBe(second.pairs[2]);
  });

  it('reads 10,000 keys with one changed by parsing the entries around it only, the others the same objects', () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `services/web/80/containers/s${String(i).padStart(5, '0')}`);
    const first = parseListing(body(keys.map((k, i) => entry(k, `10.0.${i >> 8}.${i & 255}:8080`))), fail);
    expect(first.kept.laidOut).toBe(true);
    const changed = keys.map((k, i) => (i === 5000 ? entry(k, '10.9.9.9:8080', 2) : entry(k, `10.0.${i >> 8}.${i & 255}:8080`)));
    const firstValues = first.pairs.map((p) => p.value);
    const second = parseListing(body(changed), fail, first.kept);
    expect(second.pairs[5000]).toEqual({ key: `/${keys[5000]}`, value: '10.9.9.9:8080' });
    // The kept arrays change in place with each answer; the pairs an answer gave do not (a snapshot holds them).
    expect(first.pairs.map((p) => p.value)).toEqual(firstValues);
    expect(second.pairs).not.toBe(second.kept.pairs);
    const reused = second.pairs.filter((p, i) => p === first.pairs[i]).length;
    expect(reused).toBe(9_999);
    expect(second.changed).toEqual([`/${keys[5000]}`]);
  });

  it('gives exactly what a plain parse gives, over 400 random changes of hostile keys and values', () => {
    const pick = random(7);
    const odd = ['a', 'b/c', 'x&y', 'q"uote', 'back\\slash', 'é', '日本', '😀', 'sp ace', '},{"Key":"', 'z/', ''];
    const key = () => `apps/${odd[pick(odd.length)]}${pick(50)}${pick(4) === 0 ? '/' : ''}`;
    let entries = new Map<string, Entry>();
    let kept: KeptListing | undefined;
    let last: Array<{ key: string; value: string }> = [];
    let fast = 0;
    for (let t = 0; t < 400; t++) {
      const next = new Map(entries);
      for (let c = 1 + pick(3); c > 0; c--) {
        const k = key();
        if (next.has(k) && pick(2) === 0) next.delete(k);
        // A value may change where its text ends, and with its ModifyIndex as it was: only the bytes tell.
        else next.set(k, entry(k, pick(5) === 0 ? null : `v${pick(1000)}${odd[pick(odd.length)]}`, pick(3) === 0 ? 1 : t + 2));
      }
      entries = new Map([...next].sort(([a], [b]) => (Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0 ? -1 : 1)));
      const answer = body([...entries.values()]);
      const read = parseListing(answer, fail, kept);
      expect(read.pairs).toEqual(plainly(answer));
      // Told in key order or not, the snapshot is what merging and sorting a copy of the pairs gives.
      expect(toSnapshot(read.pairs)).toEqual(toSnapshot([...plainly(answer)]));
      // The keys it names as changed hold every key that differs from the last listing.
      if (read.changed) {
        const was = new Map(last.map((p) => [p.key, p.value]));
        const now = new Map(read.pairs.map((p) => [p.key, p.value]));
        const differing = [...new Set([...was.keys(), ...now.keys()])].filter((k) => was.get(k) !== now.get(k));
        expect(read.changed).toEqual(expect.arrayContaining(differing));
      }
      last = read.pairs;
      if (kept?.laidOut && read.kept.laidOut && read.pairs.some((p) => kept!.pairs.includes(p))) fast++;
      kept = read.kept;
    }
    // Keys Go escapes (&) or JSON.stringify writes otherwise make some answers read whole.
    expect(fast).toBeGreaterThan(100);
  });

  it('knows its pairs in key order along a chain of changes without looking at them all, and never when an answer is out of order', () => {
    const rand = random(5);
    const keys = Array.from({ length: 400 }, (_, i) => `apps/x/s${String(i).padStart(3, '0')}`);
    const values = new Map(keys.filter(() => rand(2) === 0).map((k) => [k, `10.0.0.${rand(250)}:80`]));
    // Folders among the keys, as Consul lists them (left out of the pairs).
    const answer = (order: string[]) => body(order.map((k) => (k.endsWith('/') ? entry(k, null) : entry(k, values.get(k)!))));
    const sorted = () => [...values.keys(), 'apps/x/s1/', 'apps/x/s3/'].sort();
    let kept = parseListing(answer(sorted()), fail).kept;
    let known = 0;
    for (let step = 0; step < 300; step++) {
      const key = keys[rand(keys.length)]!;
      if (values.has(key) && rand(2) === 0) values.delete(key);
      else values.set(key, `10.0.${rand(250)}.${rand(250)}:${rand(65_000)}`);
      const order = sorted();
      // A server that does not sort: one entry somewhere else (or twice, under keys that read the same once normalised).
      const kind = rand(6);
      if (kind === 0 && order.length > 2) order.splice(rand(order.length), 0, ...order.splice(rand(order.length), 1));
      if (kind === 1) order.splice(rand(order.length), 0, `/${order[rand(order.length)]!}`);
      for (const k of order) if (!values.has(k) && k.startsWith('/')) values.set(k, 'dup');
      const text = answer(order);
      const read = parseListing(text, fail, kept);
      const inOrder = plainly(text).every((p, i, all) => i === 0 || all[i - 1]!.key < p.key);
      if (keyOrderIsKnown(read.pairs)) known++;
      if (!inOrder) expect(keyOrderIsKnown(read.pairs), `step ${step}`).toBe(false);
      expect(toSnapshot(read.pairs), `step ${step}`).toEqual(toSnapshot([...plainly(text)]));
      for (const k of [...values.keys()]) if (k.startsWith('/')) values.delete(k);
      kept = read.kept;
    }
    // Read against the last one (laid out as Consul's) and in order: known, not looked at whole.
    expect(known).toBeGreaterThan(150);
  });

  it('reads an answer laid out otherwise (spaces, a trailing comma, bytes changed around an entry) as a whole parse does, and refuses what is no JSON', () => {
    const first = parseListing(listing({ 'a/1': 'x', 'a/2': 'y', 'a/3': 'z' }), fail);
    const text = listing({ 'a/1': 'x', 'a/2': 'y', 'a/3': 'z' }).toString();
    const pretty = Buffer.from(JSON.stringify(JSON.parse(text), null, 2));
    expect(parseListing(pretty, fail, first.kept).pairs).toEqual(plainly(pretty));
    // The same entries with a stray comma, with an entry's closing brace gone, and cut short: not JSON, refused.
    for (const broken of [text.replace('},{', '},,{'), text.replace(/}]$/, ']'), text.replace(/,\{[^{]*\}\]$/, ',]'), text.slice(0, -1)]) {
      expect(() => parseListing(Buffer.from(broken), fail, first.kept)).toThrow('something that is not JSON');
    }
    // Nested deeper than JSON.stringify goes, in an entry read whole and in one that changed: read as a plain parse does.
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const nested = Buffer.from(text.replace('"Key":"a/2",', `"Key":"a/2","X":${deep},`));
    expect(parseListing(nested, fail).pairs).toEqual(plainly(nested));
    expect(parseListing(nested, fail, first.kept).pairs).toEqual(plainly(nested));
    expect(() => parseListing(Buffer.from(text.replace('"Value":"eQ=="', `"Value":${deep}`)), fail, first.kept)).toThrow(
      'a list whose entries have no Key/Value',
    );
    // An entry with no Key where one changed.
    const keyless = Buffer.from(text.replace('"Key":"a/2"', '"Kay":"a/2"'));
    expect(() => parseListing(keyless, fail, first.kept)).toThrow('a list whose entries have no Key/Value');
    // Extra fields (a session's lock) are read as Consul's layout, and only the entry that changed is parsed.
    const locked = Buffer.from(text.replace('"Key":"a/2","Flags":0,', '"Key":"a/2","Flags":0,"Session":"s1",'));
    const read = parseListing(locked, fail, first.kept);
    expect(read.pairs).toEqual(plainly(locked));
    expect(read.pairs[0]).toBe(first.pairs[0]);
    expect(read.pairs[2]).toBe(first.pairs[2]);
  });
});
