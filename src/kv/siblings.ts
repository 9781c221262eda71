import { nearest } from '../util/nearest.js';
import { firstKeyUnder } from './keys.js';
import type { KvPair, KvSnapshot, KvWatchListener } from './source.js';

/**
 * The directories beside a prefix that holds no key, so a typo in it (`apps/ngnix`) can be told
 * with the directory meant (`apps/nginx`). The file source knows every key; Consul/OCCS is asked
 * its parent's children (`?keys&separator=/`). etcd is not asked: a prefix's range holds nothing
 * of its parent, and listing the parent's keys means reading every key under it.
 */

/** `apps/ngnix` → `apps`; `ngnix` → `` (the store's root). */
export const parentOf = (prefix: string): string => prefix.slice(0, Math.max(0, prefix.lastIndexOf('/')));

/** The prefixes under which no key lies at all, not even a longer name's (`apps/ngin` has `/apps/nginx/…`); `pairs` are sorted by key. */
export function barePrefixes(pairs: readonly KvPair[], prefixes: readonly string[]): string[] {
  return prefixes.filter((prefix) => prefix !== '' && firstKeyUnder(pairs, prefix) === undefined);
}

/** The directories directly in `parent` that hold keys (`apps/nginx` in `apps`), from every key of a store. */
export function directoriesIn(pairs: readonly KvPair[], parent: string): string[] {
  const start = parent === '' ? '/' : `/${parent}/`;
  const found = new Set<string>();
  for (const { key } of pairs) {
    const end = key.startsWith(start) ? key.indexOf('/', start.length) : -1;
    if (end > start.length) found.add(key.slice(1, end));
  }
  return [...found];
}

/** The bare prefixes of a snapshot, each with the directories beside it: from every pair of the store (a file's). */
export function siblingsFrom(all: readonly KvPair[], snapshot: KvSnapshot, prefixes: readonly string[]): KvSnapshot {
  const bare = barePrefixes(snapshot.pairs, prefixes);
  if (bare.length === 0) return snapshot;
  return { ...snapshot, siblings: Object.fromEntries(bare.map((prefix) => [prefix, directoriesIn(all, parentOf(prefix))])) };
}

/** The directory beside `prefix` whose name is nearest to its last name (`apps/nginx` for `apps/ngnix`), if one is near enough. */
export function nearSibling(prefix: string, siblings: readonly string[]): string | undefined {
  const byName = new Map(siblings.map((s) => [s.slice(s.lastIndexOf('/') + 1), s]));
  const name = nearest(prefix.slice(prefix.lastIndexOf('/') + 1), [...byName.keys()]);
  return name === undefined ? undefined : byName.get(name);
}

/** The directories among the names Consul lists in a folder (`?keys&separator=/`: `apps/nginx/`, `apps/leaf`), without their `/`. */
export function listedDirectories(names: readonly string[]): string[] {
  return names.filter((name) => name.endsWith('/')).map((name) => name.replace(/\/+$/, ''));
}

/**
 * Asks a store for the directories beside each bare prefix, once while the prefix stays bare
 * (never again on every sync); a listing that fails gives none, and the hint is left out.
 */
export class SiblingLister {
  private readonly known = new Map<string, Promise<string[]>>();

  constructor(private readonly list: (parent: string, signal?: AbortSignal) => Promise<string[]>) {}

  /** The snapshot, with the directories beside its bare prefixes. */
  async add(snapshot: KvSnapshot, prefixes: readonly string[], signal?: AbortSignal): Promise<KvSnapshot> {
    const bare = barePrefixes(snapshot.pairs, prefixes);
    for (const prefix of this.known.keys()) if (!bare.includes(prefix)) this.known.delete(prefix);
    if (bare.length === 0) return snapshot;
    const siblings: Record<string, readonly string[]> = {};
    for (const prefix of bare) {
      let listing = this.known.get(prefix);
      if (!listing) this.known.set(prefix, (listing = this.list(parentOf(prefix), signal).catch(() => [])));
      siblings[prefix] = await listing;
    }
    return { ...snapshot, siblings };
  }

  /** A listener that adds the siblings to each snapshot before passing it on, in order. */
  listening(listener: KvWatchListener, prefixes: readonly string[], signal: AbortSignal): KvWatchListener {
    let queue = Promise.resolve();
    return {
      snapshot: (snapshot) => {
        queue = queue.then(async () => {
          const told = await this.add(snapshot, prefixes, signal);
          if (!signal.aborted) listener.snapshot(told);
        });
      },
      alive: (scope) => listener.alive(scope),
      error: (error, scope) => listener.error(error, scope),
    };
  }
}
