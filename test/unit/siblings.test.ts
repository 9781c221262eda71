import { describe, expect, it } from 'vitest';
import { firstKeyUnder, holdsDirectory, inDirectory, isUnderPrefix, reporter, sameSnapshot } from '../../src/kv/keys.js';
import type { KvPair, KvSnapshot } from '../../src/kv/source.js';
import { barePrefixes, directoriesIn, listedDirectories, nearSibling, SiblingLister, siblingsFrom } from '../../src/kv/siblings.js';
import { editDistance, nearest } from '../../src/util/nearest.js';
import { seeded } from '../support/seeded.js';

const pairs = (...keys: string[]) => keys.map((key) => ({ key, value: 'v' }));

describe('the directory beside an empty prefix, for a typo', () => {
  it('is the sibling nearest by name, within a third of its letters; a swap of two letters is one edit', () => {
    expect(editDistance('ngnix', 'nginx')).toBe(1);
    expect(editDistance('containrs', 'containers')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(nearSibling('apps/ngnix', ['apps/nginx', 'apps/other'])).toBe('apps/nginx');
    expect(nearSibling('apps/myapp/containrs', ['apps/myapp/containers', 'apps/myapp/routes'])).toBe('apps/myapp/containers');
    expect(nearSibling('apps/zzzzzz', ['apps/nginx', 'apps/other'])).toBeUndefined();
    expect(nearSibling('ngnix', ['nginx'])).toBe('nginx');
    expect(nearest('baalnce', ['balance', 'bind'])).toBe('balance');
  });

  it("lists the directories of the prefix's parent from every key of a store (a file's), only for a prefix with no key under it", () => {
    const all = pairs('/apps/nginx/web1', '/apps/other/x', '/apps/leaf', '/elsewhere/y');
    expect(directoriesIn(all, 'apps')).toEqual(['apps/nginx', 'apps/other']);
    expect(directoriesIn(all, '')).toEqual(['apps', 'elsewhere']);
    const filtered = { pairs: pairs('/apps/other/x') };
    expect(siblingsFrom(all, filtered, ['apps/ngnix', 'apps/other'])).toEqual({ ...filtered, siblings: { 'apps/ngnix': ['apps/nginx', 'apps/other'] } });
    expect(siblingsFrom(all, filtered, ['apps/other'])).toBe(filtered);
  });

  it("takes the directories of Consul's ?keys&separator=/ answer, without their /", () => {
    expect(listedDirectories(['apps/leaf', 'apps/nginx/', 'apps/other/'])).toEqual(['apps/nginx', 'apps/other']);
    expect(listedDirectories([])).toEqual([]);
  });

  it('asks a store once per empty prefix while it stays empty, again once it held keys; a failed listing gives no sibling', async () => {
    const asked: string[] = [];
    let failing = false;
    const lister = new SiblingLister(async (parent) => {
      asked.push(parent);
      if (failing) throw new Error('refused');
      return ['apps/nginx'];
    });
    const empty = { pairs: pairs('/apps/other/x') };
    expect(await lister.add(empty, ['apps/ngnix', 'apps/other'])).toEqual({ ...empty, siblings: { 'apps/ngnix': ['apps/nginx'] } });
    await lister.add(empty, ['apps/ngnix', 'apps/other']);
    expect(asked).toEqual(['apps']);
    await lister.add({ pairs: pairs('/apps/ngnix/a') }, ['apps/ngnix']);
    failing = true;
    expect(await lister.add(empty, ['apps/ngnix'])).toEqual({ ...empty, siblings: { 'apps/ngnix': [] } });
    expect(asked).toEqual(['apps', 'apps']);
  });
});

describe('a prefix looked up in sorted pairs by halving', () => {
  // Names built from characters that sort just below and above `/`, so every edge of the range search is met.
  const alphabet = ['a', 'b', '-', '.', '/', '0', 'é', '😀'];
  const name = (random: () => number, length: number) => Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');

  it('finds what a walk of every pair finds: the first key under a prefix, a key in it as in a directory, the bare prefixes, a change', () => {
    const random = seeded(7);
    for (let round = 0; round < 400; round++) {
      const keys = [...new Set(Array.from({ length: Math.floor(random() * 12) }, () => `/${name(random, 1 + Math.floor(random() * 5))}`))].sort();
      const sorted = pairs(...keys);
      const prefixes = [
        ...keys.map((k) => k.slice(1, 1 + Math.floor(random() * k.length))),
        ...Array.from({ length: 4 }, () => name(random, 1 + Math.floor(random() * 3))),
        '',
      ];
      for (const prefix of prefixes) {
        const under = keys.find((key) => isUnderPrefix(key, prefix));
        expect(firstKeyUnder(sorted, prefix), `${JSON.stringify(prefix)} in ${JSON.stringify(keys)}`).toBe(under);
        expect(holdsDirectory(sorted, prefix), `${JSON.stringify(prefix)} in ${JSON.stringify(keys)}`).toBe(keys.some((key) => inDirectory(key, prefix)));
      }
      // Two snapshots told apart by the keys that may differ alone, as by a walk of every pair.
      const changed = keys.filter(() => random() < 0.3);
      const other = pairs(...keys).map((p) => (changed.includes(p.key) && random() < 0.5 ? { ...p, value: 'w' } : p));
      expect(sameSnapshot({ pairs: sorted }, { pairs: other }, changed)).toBe(sameSnapshot({ pairs: sorted }, { pairs: other }));
      expect(barePrefixes(sorted, prefixes)).toEqual(prefixes.filter((p) => p !== '' && !keys.some((key) => isUnderPrefix(key, p))));
    }
  });
});

describe('a source reporting with the keys that changed since its last report', () => {
  it('keeps the keys told while it has no pairs to report yet, and reports a change they name', () => {
    const reported: KvSnapshot[] = [];
    let pairsNow: KvPair[] | undefined = pairs('/a', '/b');
    let told = new Set<string>();
    const report = reporter(
      { snapshot: (s) => reported.push(s), alive: () => {}, error: () => {} },
      () => pairsNow,
      undefined,
      () => {
        const keys = [...told];
        told = new Set();
        return keys;
      },
    );
    report();
    // /b changes while the source has nothing to report (a part being read again), then once more.
    pairsNow = undefined;
    told.add('/b');
    report();
    pairsNow = [
      { key: '/a', value: 'v' },
      { key: '/b', value: 'changed' },
    ];
    report();
    expect(reported.map((s) => s.pairs.map((p) => p.value))).toEqual([
      ['v', 'v'],
      ['v', 'changed'],
    ]);
    expect(reported[1]!.since?.keys).toEqual(['/b']);
  });
});
