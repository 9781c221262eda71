import { describe, expect, it } from 'vitest';
import { directoriesIn, listedDirectories, nearSibling, SiblingLister, siblingsFrom } from '../../src/kv/siblings.js';
import { editDistance, nearest } from '../../src/util/nearest.js';

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
