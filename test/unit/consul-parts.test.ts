import { describe, expect, it } from 'vitest';
import { inOrder, MAX_PART_NAME, MAX_PARTS, overlap, partsOf } from '../../src/kv/consul-parts.js';
import { keyOrderIsKnown, keyOrderKnown, toSnapshot } from '../../src/kv/keys.js';

/** Every name starts with exactly one part, and no part starts with another: their recursive reads hold each key once. */
function expectCover(parts: readonly string[], names: readonly string[]): void {
  for (const name of names)
    expect(
      parts.filter((p) => name.startsWith(p)),
      name,
    ).toHaveLength(1);
  for (const a of parts) for (const b of parts) if (a !== b) expect(overlap(a, b), `${a} / ${b}`).toBe(false);
}

const apps = (n: number) => Array.from({ length: n }, (_, i) => `apps/app${String(i).padStart(3, '0')}/`);

describe('partsOf (the parts a prefix is watched in)', () => {
  it('gives each folder a part of its own while they fit, and keys beside the folder (apps2/…, apps-leaf) parts of theirs', () => {
    const names = ['apps/web/', 'apps/api/', 'apps/admin/', 'apps2/', 'apps-leaf'];
    expect(partsOf('apps', names)).toEqual(['apps-leaf', 'apps/admin/', 'apps/api/', 'apps/web/', 'apps2/']);
    expect(partsOf('apps', [])).toEqual([]);
    // A name outside the prefix (a listing that raced a change) is not the prefix's to watch.
    expect(partsOf('apps/', ['apps/web/', 'other/'])).toEqual(['apps/web/']);
  });

  it('keeps to the limit with 100 apps, each name in exactly one part, most apps alone', () => {
    const names = apps(100);
    const parts = partsOf('apps/', names);
    expect(parts.length).toBeLessThanOrEqual(MAX_PARTS);
    expectCover(parts, names);
    expect(parts.filter((p) => names.includes(p)).length).toBeGreaterThanOrEqual(20);
    const few = partsOf('apps/', names, 5);
    expect(few.length).toBeLessThanOrEqual(5);
    expectCover(few, names);
  });

  it('never cuts below a name that is its own prefix: a key and the folder of the same name are read together', () => {
    const names = ['apps/x', 'apps/x/', 'apps/xy/', 'apps/z/'];
    const parts = partsOf('apps/', names);
    expect(parts).toEqual(['apps/x', 'apps/z/']);
    expectCover(parts, names);
  });

  it('cuts a 70,000-character name to MAX_PART_NAME characters past the prefix, and never inside a character', () => {
    const long = `apps/${'x'.repeat(70_000)}/`;
    const parts = partsOf('apps/', [long, 'apps/web/']);
    expect(parts).toEqual(['apps/web/', `apps/${'x'.repeat(MAX_PART_NAME)}`]);
    // Two emoji that share their first UTF-16 unit: the part stops before the character, not inside it.
    const emoji = ['apps/\u{1F600}a/', 'apps/\u{1F601}b/', 'apps/\u{1F600}c/'];
    const cut = partsOf('apps/', emoji);
    expectCover(cut, emoji);
    for (const part of cut) expect(() => encodeURIComponent(part), part).not.toThrow();
    const longEmoji = `apps/${'\u{1F600}'.repeat(MAX_PART_NAME)}/`;
    for (const part of partsOf('apps/', [longEmoji, 'apps/web/'])) expect(() => encodeURIComponent(part), part).not.toThrow();
    // Names that part at the very character the cut falls in: one part, not two of the same prefix.
    const edge = ['\u{1F600}', '\u{1F601}'].map((e) => `apps/${'x'.repeat(MAX_PART_NAME - 1)}${e}/`);
    const atEdge = partsOf('apps/', [...edge, 'apps/web/']);
    expect(atEdge).toHaveLength(2);
    expectCover(atEdge, [...edge, 'apps/web/']);
    // Half a character in a name: no URL can carry it, so the prefix is read whole.
    expect(partsOf('apps/', ['apps/web/', 'apps/\uD83D/'])).toEqual(['apps/']);
  });

  it('reads the prefix whole rather than ask for a part with a `.`, `..` or empty segment, which a URL or the store resolves to another place', () => {
    for (const names of [
      ['apps/web/', 'apps/../'],
      ['apps/web/', 'apps/./'],
      ['apps/web/', 'apps//'],
    ])
      expect(partsOf('apps', names), names.join(' ')).toEqual(['apps']);
    // Names without such a segment that share a prefix ending in one (`apps/.`, `apps/..`), when they must share a part.
    for (const names of [
      ['apps/web/', 'apps/.a/', 'apps/.b/'],
      ['apps/web/', 'apps/..a/', 'apps/..b/'],
    ])
      expect(partsOf('apps', names, 2), names.join(' ')).toEqual(['apps']);
    expect(partsOf('apps', ['apps/web/', 'apps/.hidden/'])).toEqual(['apps/.hidden/', 'apps/web/']);
    for (const part of partsOf('apps', ['apps/web/', 'apps/.hidden/', 'apps/a.b/'])) expect(new URL(`http://h/v1/kv/${part}`).pathname).toBe(`/v1/kv/${part}`);
  });

  it('covers every name exactly once, within the limit, over 300 random listings of hostile names', () => {
    let seed = 7;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const alphabet = ['a', 'b', '/', '-', '%', '?', '#', ' ', 'é', '\u{1F600}', '\u{1F601}', '0', '.'];
    for (let trial = 0; trial < 300; trial++) {
      const names = Array.from({ length: 1 + random(150) }, () => {
        const name = Array.from({ length: 1 + random(6) }, () => alphabet[random(alphabet.length)]).join('');
        return `apps/${name}${random(3) === 0 ? '' : '/'}`;
      });
      const limit = 1 + random(70);
      const parts = partsOf('apps/', names, limit);
      expect(parts.length).toBeLessThanOrEqual(limit);
      expectCover(parts, names);
      for (const part of parts) {
        expect(part.startsWith('apps/')).toBe(true);
        // Never a part a URL reads elsewhere.
        if (part !== 'apps/')
          expect(new URL(`http://h/v1/kv/${part.split('/').map(encodeURIComponent).join('/')}`).pathname.startsWith('/v1/kv/apps/')).toBe(true);
      }
    }
  });
});

describe('inOrder (the pairs of every part, as one list)', () => {
  const pairs = (...keys: string[]) => keys.map((key) => ({ key, value: `v-${key}` }));
  const told = (list: ReturnType<typeof pairs>) => (keyOrderKnown(list), list);

  it('gives every part’s pairs in key order, and tells toSnapshot so when each part is in order and ends before the next begins', () => {
    const parts = new Map([
      ['apps/b', told(pairs('/apps/b/1', '/apps/b/2'))],
      ['apps/a', pairs('/apps/a/1', '/apps/a/2')], // in order, though not told
      ['apps/c', told(pairs())],
      ['apps/d', told(pairs('/apps/d/1'))],
    ]);
    const out = inOrder(parts);
    expect(out.map((p) => p.key)).toEqual(['/apps/a/1', '/apps/a/2', '/apps/b/1', '/apps/b/2', '/apps/d/1']);
    expect(keyOrderIsKnown(out)).toBe(true);
    expect(toSnapshot(out).pairs).toBe(out);
  });

  it('does not tell it for a part out of order, nor for parts that overlap: toSnapshot then sorts them, each key once', () => {
    const unsorted = new Map([
      ['apps/a', pairs('/apps/a/2', '/apps/a/1')],
      ['apps/b', told(pairs('/apps/b/1'))],
    ]);
    const out = inOrder(unsorted);
    expect(keyOrderIsKnown(out)).toBe(false);
    expect(toSnapshot(out).pairs.map((p) => p.key)).toEqual(['/apps/a/1', '/apps/a/2', '/apps/b/1']);
    // Parts read across a change of parts: the same key in two of them, or one's end past the next's start.
    for (const [a, b] of [
      [pairs('/apps/a/1', '/apps/b/1'), pairs('/apps/b/1', '/apps/b/2')],
      [pairs('/apps/a/1', '/apps/c/1'), pairs('/apps/b/1')],
    ]) {
      const overlapping = inOrder(
        new Map([
          ['apps/a', told(a!)],
          ['apps/b', told(b!)],
        ]),
      );
      expect(keyOrderIsKnown(overlapping)).toBe(false);
      const keys = toSnapshot(overlapping).pairs.map((p) => p.key);
      expect(keys).toEqual([...new Set(keys)].sort());
    }
  });
});
