import type { KvPair } from './source.js';

/** Up to this many keys changed at once are patched in one by one; more are merged in one pass. */
const PATCH_ONE_BY_ONE = 32;

/**
 * The pairs of several key ranges as one list sorted by key, kept up to date key by key: what a
 * change costs follows the size of the change, not the number of keys (no sort of every key, no
 * new object for every pair). A pair that did not change stays the same object from one list to
 * the next, so later stages can compare and remember per pair cheaply. `valueOf` says a key's
 * value now, after the rule that picks among ranges holding the same key.
 */
export class MergedPairs {
  private pairs: readonly KvPair[] = [];
  private readonly touched = new Set<string>();
  private changed = true; // the first list is news, even when empty
  /** The list taken last, and the keys that may differ from it in the list now. */
  private taken?: readonly KvPair[];
  private since = new Set<string>();

  constructor(private readonly valueOf: (key: string) => string | undefined) {}

  /** The key's value may have changed (been set, replaced or deleted). */
  touch(key: string): void {
    this.touched.add(key);
  }

  /**
   * The sorted pairs if they differ from those taken last (the first time: always), else
   * undefined, with the keys that may differ from those. A list taken is never changed afterwards.
   */
  take(): { pairs: readonly KvPair[]; since?: { pairs: readonly KvPair[]; keys: readonly string[] } } | undefined {
    if (this.touched.size > 0) {
      const keys = [...this.touched];
      this.touched.clear();
      for (const key of keys) this.since.add(key);
      const next = keys.length <= PATCH_ONE_BY_ONE ? this.patched(keys) : this.merged(keys.sort());
      if (next) {
        this.pairs = next;
        this.changed = true;
      }
    }
    if (!this.changed) return undefined;
    this.changed = false;
    const since = this.taken && { pairs: this.taken, keys: [...this.since] };
    this.taken = this.pairs;
    this.since = new Set();
    return { pairs: this.pairs, ...(since && { since }) };
  }

  /** The pairs with a few keys patched in by binary search; undefined if none of them changed. */
  private patched(keys: readonly string[]): KvPair[] | undefined {
    let next: KvPair[] | undefined;
    for (const key of keys) {
      const list = next ?? this.pairs;
      const at = lowerBound(list, key);
      const found = list[at]?.key === key ? list[at] : undefined;
      const value = this.valueOf(key);
      if (found?.value === value) continue;
      const pair = value === undefined ? undefined : { key, value };
      // The first change copies the list (pointers only) in one allocation of its new length: a
      // list handed out stays as it was. Later ones change that copy in place.
      if (!next) next = pair ? (found ? list.with(at, pair) : list.toSpliced(at, 0, pair)) : list.toSpliced(at, 1);
      else if (!pair) next.splice(at, 1);
      else if (found) next[at] = pair;
      else next.splice(at, 0, pair);
    }
    return next;
  }

  /** The pairs with many keys (sorted) merged in, in one pass; undefined if none of them changed. */
  private merged(keys: readonly string[]): KvPair[] | undefined {
    const old = this.pairs;
    const next: KvPair[] = [];
    let i = 0;
    let changed = false;
    for (const key of keys) {
      while (i < old.length && old[i]!.key < key) next.push(old[i++]!);
      const found = old[i]?.key === key ? old[i++] : undefined;
      const value = this.valueOf(key);
      if (found?.value === value) {
        if (found) next.push(found);
        continue;
      }
      changed = true;
      if (value !== undefined) next.push({ key, value });
    }
    while (i < old.length) next.push(old[i++]!);
    return changed ? next : undefined;
  }
}

/** The index of the first pair whose key is not below `key` (in the order of `<`, as `sort()` orders strings). */
export function lowerBound(pairs: ReadonlyArray<{ key: string }>, key: string): number {
  let low = 0;
  let high = pairs.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (pairs[mid]!.key < key) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * In pairs sorted by key: the indexes [start, end) of the keys that start with `prefix` (one run,
 * as sorting puts them together), found by halving: from `prefix` up to the first key past every
 * key it starts (its last character one higher).
 */
export function prefixRange(pairs: ReadonlyArray<{ key: string }>, prefix: string): [number, number] {
  const start = lowerBound(pairs, prefix);
  const last = prefix.charCodeAt(prefix.length - 1);
  if (prefix === '' || last === 0xffff) {
    let end = start;
    while (end < pairs.length && pairs[end]!.key.startsWith(prefix)) end += 1;
    return [start, end];
  }
  return [start, lowerBound(pairs, prefix.slice(0, -1) + String.fromCharCode(last + 1))];
}

/** The pairs (sorted by key) whose keys start with `prefix`: their run, or the pairs themselves when it is all of them. */
export function pairsStarting<T extends { key: string }>(pairs: readonly T[], prefix: string): readonly T[] {
  const [from, to] = prefixRange(pairs, prefix);
  return from === 0 && to === pairs.length ? pairs : pairs.slice(from, to);
}

/** A key's value in pairs sorted by key, by binary search (undefined: no such key). */
export function valueAt(pairs: readonly KvPair[], key: string): string | undefined {
  const at = pairs[lowerBound(pairs, key)];
  return at?.key === key ? at.value : undefined;
}
