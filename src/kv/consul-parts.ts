import { inKeyOrder, keyOrderIsKnown, keyOrderKnown } from './keys.js';
import type { KvPair } from './source.js';

/**
 * The most parts a prefix is watched in. Each part is a blocking query, and each blocking query
 * holds a connection of its own; Consul closes the connections of an address past
 * `limits.http_max_conns_per_client` (200 by default), and all the watchers behind one address
 * (one host talking to its local agent, a NAT) share that. 32 parts, two listings and the other
 * prefixes are under 40 connections a watcher, twice that while parts are swapped or SIGHUP
 * swaps stores.
 */
export const MAX_PARTS = 32;

/**
 * How much longer than the prefix watched a part's prefix may be: a name is the store's to choose,
 * and a 70,000-character one would make a request line no server takes. Room for any app name
 * (253 characters at most) and its `/`.
 */
export const MAX_PART_NAME = 256;

interface Part {
  prefix: string;
  /** The names under it, sorted. */
  names: string[];
}

/** The longest string every name starts with (the names sorted: the first and last decide). */
function common(names: readonly string[]): string {
  const [first, last] = [names[0]!, names.at(-1)!];
  let n = 0;
  while (n < first.length && first[n] === last[n]) n++;
  return first.slice(0, n);
}

/** The names in one part, read with the longest prefix they share, cut to `longest` (never inside a character: a URL cannot carry half of one). */
function partOf(names: string[], longest: number): Part {
  const prefix = common(names).slice(0, longest);
  return { prefix: /[\uD800-\uDBFF]$/.test(prefix) ? prefix.slice(0, -1) : prefix, names };
}

/** A part cut by the character after its prefix: each run of names sharing it, a part of its own. */
function cut(part: Part, longest: number): Part[] {
  const runs: string[][] = [];
  const at = part.prefix.length;
  for (const name of part.names) {
    const run = runs.at(-1);
    if (run && run[0]!.codePointAt(at) === name.codePointAt(at)) run.push(name);
    else runs.push([name]);
  }
  return runs.map((run) => partOf(run, longest));
}

/**
 * Cuts the names Consul lists in a folder (`?keys&separator=/`: `apps/web/` for a folder,
 * `apps/readme` for a key) into at most `limit` string prefixes, as Consul's recursive reads take
 * them: every name starts with exactly one, and none starts with another, so their reads hold each
 * key once. It starts from all names in one part and cuts the part with the most names by the
 * character after its prefix, while the count stays within the limit. A part whose prefix is one
 * of its names (the folder itself) is not cut: Consul cannot be asked for less than a folder.
 * Each part is the longest prefix its names share, so one folder is read as `apps/web/`, and at
 * most MAX_PART_NAME characters longer than `root`, which every name starts with.
 */
export function partsOf(root: string, listed: readonly string[], limit = MAX_PARTS): string[] {
  const names = [...new Set(listed)].filter((name) => name.startsWith(root)).sort();
  if (names.length === 0) return [];
  // A name no URL can carry (half a character): the prefix is read whole.
  if (names.some((name) => /\p{Cs}/u.test(name))) return [root];
  const longest = root.length + MAX_PART_NAME;
  let parts = [partOf(names, longest)];
  for (let cutOne = true; cutOne;) {
    cutOne = false;
    // Room for the character after the prefix, two UTF-16 units at most, within `longest`.
    const cuttable = (p: Part) => p.names.length > 1 && !p.names.includes(p.prefix) && p.prefix.length + 2 <= longest;
    const largest = parts.filter(cuttable).sort((a, b) => b.names.length - a.names.length);
    for (const part of largest) {
      const pieces = cut(part, longest);
      if (pieces.length < 2 || parts.length - 1 + pieces.length > limit) continue;
      parts = parts.flatMap((p) => (p === part ? pieces : [p]));
      cutOne = true;
      break;
    }
  }
  const prefixes = parts.map((p) => p.prefix).sort();
  // A `.`, `..` or empty segment is resolved away on the way (by the URL, or by the store's own
  // path cleaning), so such a part would read another place, the store's root for `apps/..`.
  return prefixes.some(walks) ? [root] : prefixes;
}

/** Whether a key path has a `.`, `..` or empty segment (a trailing `/` aside). */
function walks(prefix: string): boolean {
  const segments = prefix.split('/');
  return segments.some((s, i) => s === '.' || s === '..' || (s === '' && i < segments.length - 1));
}

/** Whether two prefixes' reads can hold the same key: one starts with the other. */
export const overlap = (a: string, b: string): boolean => a.startsWith(b) || b.startsWith(a);

/** A part as a swap sees it: its prefix, whether its pairs are in the report, and its last reading. */
export interface PartState {
  prefix: string;
  reporting: boolean;
  reading?: { pairs: readonly KvPair[] };
}

/** The new (not reporting) and old (reporting, unwanted) parts, in groups that overlap one another through any chain: each group is swapped at once. */
export function groups<P extends PartState>(incoming: readonly P[], outgoing: readonly P[]): P[][] {
  const all = [...incoming, ...outgoing];
  const seen = new Set<P>();
  const found: P[][] = [];
  for (const first of all) {
    if (seen.has(first)) continue;
    const group = [first];
    seen.add(first);
    for (let i = 0; i < group.length; i++) {
      for (const other of all) {
        if (seen.has(other) || !overlap(group[i]!.prefix, other.prefix)) continue;
        seen.add(other);
        group.push(other);
      }
    }
    found.push(group);
  }
  return found;
}

/** Which of the prefixes (sorted, none starting with another) a key (`/apps/web/x`) lies under, found by halving. */
function under(prefixes: readonly string[], key: string): string | undefined {
  let [low, high] = [0, prefixes.length];
  while (low < high) {
    const mid = (low + high) >> 1;
    if (`/${prefixes[mid]!}` <= key) low = mid + 1;
    else high = mid;
  }
  const prefix = prefixes[low - 1];
  return prefix !== undefined && key.startsWith(`/${prefix}`) ? prefix : undefined;
}

/**
 * Whether a group's new parts can take over from its old ones without a key going missing or back
 * in time: every new part has read; every pair of the old parts lies under a new part (a key the
 * listings do not know yet waits for them, and an app the listings say is gone leaves once its own
 * part has read it gone); and where old and new parts overlap, they hold the same pairs (a part
 * that read before the last change waits for its next answer, which that change brings at once).
 */
export function agree(group: readonly PartState[]): boolean {
  const incoming = group.filter((p) => !p.reporting);
  if (!incoming.every((p) => p.reading)) return false;
  const outgoing = group.filter((p) => p.reporting);
  const [news, olds] = [incoming, outgoing].map((parts) => parts.map((p) => p.prefix).sort());
  const old = outgoing.flatMap((p) => p.reading!.pairs);
  if (!old.every((pair) => under(news!, pair.key) !== undefined)) return false;
  const taking = incoming.flatMap((p) => p.reading!.pairs).filter((pair) => under(olds!, pair.key) !== undefined);
  const byKey = new Map(old.map((pair) => [pair.key, pair.value]));
  return taking.length === old.length && taking.every((pair) => byKey.get(pair.key) === pair.value);
}

/**
 * The pairs of the reporting parts, in key order (their prefixes never start with one another),
 * told so to toSnapshot when each part's pairs are in order and each part's end before the next
 * one's start: then no key is looked at again (10,000 on every change).
 */
export function inOrder(parts: ReadonlyMap<string, readonly KvPair[]>): readonly KvPair[] {
  // A prefix read whole is one part: its pairs as they are (a reading's pairs are never changed).
  if (parts.size === 1) return parts.values().next().value!;
  const lists = [...parts.keys()].sort().map((p) => parts.get(p)!);
  // One array of the final length, copied by the engine: a loop of ours over 10,000 pairs took 360 µs
  // without V8's optimizing compiler (util/memory.ts), concat 10 µs.
  const out = ([] as KvPair[]).concat(...lists);
  if (lists.every((list) => keyOrderIsKnown(list) || inKeyOrder(list)) && partsInOrder(lists)) keyOrderKnown(out);
  return out;
}

/** Whether each list (in order itself) ends before the next one that holds a pair begins. */
function partsInOrder(lists: ReadonlyArray<readonly KvPair[]>): boolean {
  let last: string | undefined;
  for (const list of lists) {
    if (list.length === 0) continue;
    if (last !== undefined && !(last < list[0]!.key)) return false;
    last = list[list.length - 1]!.key;
  }
  return true;
}
