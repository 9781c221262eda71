import type { KvPair, KvSnapshot } from './source.js';

/** `apps/x/` or `/apps/x` → `apps/x`: the form prefixes are compared and requested in. */
export function normalizePrefix(prefix: string): string {
  return prefix.replace(/^\/+/, '').replace(/\/+$/, '');
}

/** `apps/x/one` → `/apps/x/one`: the form templates see, whatever the store spells. */
export function normalizeKey(key: string): string {
  return key.startsWith('/') ? key : `/${key}`;
}

/** Whether a normalised key lies under a normalised prefix, with the store's string-prefix rule. */
export function isUnderPrefix(key: string, prefix: string): boolean {
  return prefix === '' || key.startsWith(`/${prefix}`);
}

/** Merges pairs from several reads: keys unique (last one wins), sorted by key. */
export function toSnapshot(pairs: Iterable<KvPair>): KvSnapshot {
  const byKey = new Map<string, string>();
  for (const pair of pairs) byKey.set(pair.key, pair.value);
  const keys = [...byKey.keys()].sort();
  return { pairs: keys.map((key) => ({ key, value: byKey.get(key)! })) };
}

/** The part of a snapshot under any of the prefixes. */
export function filterSnapshot(snapshot: KvSnapshot, prefixes: readonly string[]): KvSnapshot {
  return { pairs: snapshot.pairs.filter((p) => prefixes.some((prefix) => isUnderPrefix(p.key, prefix))) };
}
