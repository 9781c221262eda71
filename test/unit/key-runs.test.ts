import { describe, expect, it } from 'vitest';
import { filterSnapshot, isUnderPrefix, toSnapshot } from '../../src/kv/keys.js';
import { prefixRange } from '../../src/kv/merged-pairs.js';
import type { KvPair } from '../../src/kv/source.js';
import { seeded } from '../support/seeded.js';

// Keys built from characters that sort around a prefix's edges: '-' and '.' below '/', '0' just above it, and the highest UTF-16 unit.
const ALPHABET = ['a', 'b', '/', '-', '.', '0', '\uffff'];
const randomWord = (next: () => number, most: number) =>
  Array.from({ length: 1 + Math.floor(next() * most) }, () => ALPHABET[Math.floor(next() * ALPHABET.length)]).join('');

describe('the runs of keys under prefixes', () => {
  it('finds exactly the keys a prefix starts, in sorted pairs of every shape', () => {
    const next = seeded(7);
    for (let round = 0; round < 300; round++) {
      const pairs = toSnapshot(Array.from({ length: Math.floor(next() * 30) }, () => ({ key: `/${randomWord(next, 6)}`, value: 'v' }))).pairs;
      const prefix = next() < 0.1 ? '' : `/${randomWord(next, 3)}`;
      const [start, end] = prefixRange(pairs, prefix);
      expect(
        pairs.slice(start, end).map((p) => p.key),
        JSON.stringify({ prefix, keys: pairs.map((p) => p.key) }),
      ).toEqual(pairs.filter((p) => p.key.startsWith(prefix)).map((p) => p.key));
    }
  });

  it('takes from a snapshot the pairs under any of its prefixes, each once and in key order, whether the prefixes overlap, touch or miss', () => {
    const next = seeded(11);
    for (let round = 0; round < 300; round++) {
      const snapshot = toSnapshot(Array.from({ length: Math.floor(next() * 30) }, () => ({ key: `/${randomWord(next, 6)}`, value: 'v' })));
      const prefixes = Array.from({ length: Math.floor(next() * 4) }, () => (next() < 0.05 ? '' : randomWord(next, 3)));
      const expected = snapshot.pairs.filter((p) => prefixes.some((prefix) => isUnderPrefix(p.key, prefix)));
      expect(filterSnapshot(snapshot, prefixes).pairs, JSON.stringify({ prefixes, keys: snapshot.pairs.map((p) => p.key) })).toEqual(expected);
    }
  });

  it('hands back the snapshot’s own pairs, not a copy, when every pair is under the prefixes', () => {
    const pairs: KvPair[] = [
      { key: '/apps/web/containers/a', value: '10.0.0.1:80' },
      { key: '/lb/routes/web', value: 'example.com' },
    ];
    const snapshot = toSnapshot(pairs);
    expect(filterSnapshot(snapshot, ['apps', 'lb']).pairs).toBe(snapshot.pairs);
    expect(filterSnapshot(snapshot, ['apps']).pairs).toEqual([pairs[0]]);
    expect(filterSnapshot(snapshot, ['apps/web', 'apps', 'lb/routes/web']).pairs).toBe(snapshot.pairs);
    expect(filterSnapshot(snapshot, []).pairs).toEqual([]);
  });
});
