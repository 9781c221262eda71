import { lowerBound, prefixRange, valueAt } from './merged-pairs.js';
import type { KvPair, KvSnapshot, KvWatchListener } from './source.js';

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

/** Whether a key is the prefix itself or lies in it as in a directory (`apps/x` holds `/apps/x/one`, not `/apps/xy`). */
export const inDirectory = (key: string, prefix: string): boolean => prefix === '' || key === `/${prefix}` || key.startsWith(`/${prefix}/`);

/** In pairs sorted by key: the first key under `prefix` (string-prefix rule), found by halving, not by a walk of every pair. */
export function firstKeyUnder(pairs: readonly KvPair[], prefix: string): string | undefined {
  const key = pairs[lowerBound(pairs, `/${prefix}`)]?.key;
  return key?.startsWith(`/${prefix}`) ? key : undefined;
}

/** In pairs sorted by key: whether one is the prefix itself or lies in it as in a directory (`inDirectory`), found by halving. */
export function holdsDirectory(pairs: readonly KvPair[], prefix: string): boolean {
  if (prefix === '') return pairs.length > 0;
  return valueAt(pairs, `/${prefix}`) !== undefined || firstKeyUnder(pairs, `${prefix}/`) !== undefined;
}

/** Lists of pairs their maker has seen to be in key order, each key once (by keyOrderKnown). */
const KEY_ORDERED = new WeakSet<readonly KvPair[]>();

/**
 * Tells toSnapshot that `list` is in key order, each key once, so that it need not look: a
 * reader that checked only what changed since a list it knew in order (a Consul listing read
 * against the last one) saves a look at every key on every change. The list must not change.
 */
export function keyOrderKnown(list: readonly KvPair[]): void {
  KEY_ORDERED.add(list);
}

/** Whether `list` was told to be in key order (keyOrderKnown). */
export const keyOrderIsKnown = (list: readonly KvPair[]): boolean => KEY_ORDERED.has(list);

/** Merges pairs from several reads: keys unique (last one wins), sorted by key. */
export function toSnapshot(pairs: Iterable<KvPair>): KvSnapshot {
  // An array is taken as it is (a snapshot's pairs are never changed), not copied: 10,000 pairs on every change.
  const list = Array.isArray(pairs) ? (pairs as readonly KvPair[]) : [...pairs];
  // Stores answer in key order: then there is nothing to merge or sort.
  if (KEY_ORDERED.has(list) || inKeyOrder(list)) return { pairs: list };
  const byKey = new Map<string, string>();
  for (const pair of list) byKey.set(pair.key, pair.value);
  const keys = [...byKey.keys()].sort();
  return { pairs: keys.map((key) => ({ key, value: byKey.get(key)! })) };
}

/**
 * The part of a snapshot under any of the prefixes. Each prefix's keys are one run of the sorted
 * pairs, found by halving; when the runs cover every pair (a snapshot read for these prefixes),
 * the pairs are taken as they are, not copied (10,000 of them at each full render).
 */
export function filterSnapshot(snapshot: KvSnapshot, prefixes: readonly string[]): KvSnapshot {
  const under = (key: string) => prefixes.some((prefix) => isUnderPrefix(key, prefix));
  const notices = snapshot.notices?.filter((n) => under(n.key));
  return { pairs: pairsUnder(snapshot.pairs, prefixes), ...(notices?.length && { notices }) };
}

/** The pairs (sorted by key) under any of the prefixes, in their order, each once. */
function pairsUnder(pairs: readonly KvPair[], prefixes: readonly string[]): readonly KvPair[] {
  const runs = prefixes.map((prefix) => prefixRange(pairs, prefix === '' ? '' : `/${prefix}`)).sort((a, b) => a[0] - b[0]);
  const kept: KvPair[][] = [];
  let start = 0;
  let end = 0;
  for (const run of runs) {
    if (run[0] >= run[1]) continue;
    // Runs that overlap (a prefix within another) or touch are one.
    if (run[0] <= end && end > start) end = Math.max(end, run[1]);
    else {
      if (end > start) kept.push(pairs.slice(start, end));
      start = run[0];
      end = run[1];
    }
  }
  if (start === 0 && end === pairs.length) return pairs;
  if (end > start) kept.push(pairs.slice(start, end));
  return kept.length === 1 ? kept[0]! : ([] as KvPair[]).concat(...kept);
}

/** Whether the pairs (null: none there) are in key order, each key once: from `from` on, up to and with the first pair at `to` or after, against the last one before `from`. */
export function inKeyOrder(list: ReadonlyArray<KvPair | null>, from = 0, to = list.length): boolean {
  let i = from - 1;
  while (i >= 0 && list[i] === null) i--;
  let last = i >= 0 ? list[i]!.key : undefined;
  for (let j = from; j < list.length; j++) {
    const key = list[j]?.key;
    if (key === undefined) continue;
    if (last !== undefined && !(last < key)) return false;
    last = key;
    if (j >= to) break;
  }
  return true;
}

/**
 * Whether two snapshots hold the same pairs (both are sorted). `keys`, when known, are the only
 * keys that may differ between them: only those are looked up, by halving.
 */
export function sameSnapshot(a: KvSnapshot, b: KvSnapshot, keys?: readonly string[]): boolean {
  if (a.pairs.length !== b.pairs.length) return false;
  if (keys) return keys.every((key) => valueAt(a.pairs, key) === valueAt(b.pairs, key));
  for (let i = 0; i < a.pairs.length; i++) if (a.pairs[i]!.key !== b.pairs[i]!.key || a.pairs[i]!.value !== b.pairs[i]!.value) return false;
  return true;
}

/**
 * Reports the pairs `collect` gathers (undefined: not ready yet) as a snapshot, unless they are
 * what was last reported. Every source compares with the last report, never with an earlier
 * read: after a reconnect, a re-read that equals an old read can still be news. `changed`, when
 * the source can tell it, gives the keys that may differ since it was last asked (undefined: not
 * known); the snapshot then names them against the last one (`since`).
 */
export function reporter(
  listener: KvWatchListener,
  collect: () => Iterable<KvPair> | undefined,
  /** What the source tells besides its pairs (a file's duplicated key, the directories beside an empty prefix), reported with them. */
  besides: () => Omit<KvSnapshot, 'pairs'> | undefined = () => undefined,
  changed: () => readonly string[] | undefined = () => undefined,
): () => void {
  let last: KvSnapshot | undefined;
  return () => {
    const pairs = collect();
    if (!pairs) return;
    // Asked only for pairs that are reported or compared: keys asked for and left unused would be lost to the next report.
    const keys = changed();
    const { notices, siblings } = besides() ?? {};
    const since = last && keys && { pairs: last.pairs, keys };
    const snapshot = { ...toSnapshot(pairs), ...(notices?.length && { notices }), ...(siblings && { siblings }), ...(since && { since }) };
    if (last && sameSnapshot(last, snapshot, since ? keys : undefined)) return;
    last = snapshot;
    listener.snapshot(snapshot);
  };
}
