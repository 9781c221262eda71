import { describe, expect, it } from 'vitest';
import { parseListing } from '../../src/kv/consul-answers.js';

const listing = (entries: Record<string, string | null>) =>
  Buffer.from(
    JSON.stringify(Object.entries(entries).map(([Key, v]) => ({ Key, Value: v === null ? null : Buffer.from(v).toString('base64'), ModifyIndex: 1 }))),
  );
const fail = (what: string) => new Error(what);

describe("a Consul listing read against the last one's pairs", () => {
  it('keeps the pair object of each value as it was, and decodes only what changed', () => {
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
    expect([...second.kept.keys()]).toEqual(['apps/x/a', 'apps/x/b', 'apps/x/d']);
  });
});
