import { inKeyOrder, keyOrderKnown, normalizeKey } from './keys.js';
import type { KvPair } from './source.js';
import { bodyKind } from './store-errors.js';

/**
 * A prefix's last listing, kept to read the next one against: its body, and per entry (folders
 * included) where it lies in the body, its key as Consul gives it, and its pair (null for a
 * folder). `laidOut` is false when the body's layout could not be confirmed: the next answers
 * are then read whole, and confirmed again every LAYOUT_RETRY answers.
 */
export interface KeptListing {
  body: Buffer;
  laidOut: boolean;
  /** Answers read whole since the layout was last tried. */
  untried: number;
  /** The pairs are in key order (as Consul sorts them), each key once. */
  ordered: boolean;
  starts: number[];
  ends: number[];
  keys: string[];
  pairs: Array<KvPair | null>;
}

type Entry = { key: string; pair: KvPair | null };

/**
 * A recursive listing's pairs: keys normalised, base64 values decoded (null: empty), folders
 * (keys ending in `/`) left out. `fail` makes the error of an answer that is no such listing,
 * given what it was ("an HTML page", "JSON that is not a list of keys").
 *
 * With `kept` (the last listing's), only the bytes that differ are read: Consul writes a listing
 * the same way each time (compact JSON, keys sorted), so one key changed among 10,000 changes a
 * few hundred bytes of 1.4 MB. The entries before and after the differing bytes are the last
 * listing's, the same pair objects; the few entries around them are parsed on their own. Each
 * entry's bytes must be exactly what JSON.stringify makes of it, and the separators around them
 * exactly Consul's, else the whole answer is parsed, as it is the first time.
 */
export function parseListing(body: Buffer, fail: (what: string) => Error, kept?: KeptListing): { pairs: KvPair[]; kept: KeptListing; changed?: string[] } {
  const read = kept?.laidOut ? changedOnly(body, kept) : undefined;
  const listing = read?.listing ?? wholeListing(body, fail, kept);
  // A copy either way (the kept arrays change in place with the next answer); a native one when no folder is among them.
  const pairs = listing.pairs.indexOf(null) < 0 ? (listing.pairs.slice() as KvPair[]) : listing.pairs.filter((p): p is KvPair => p !== null);
  if (listing.ordered) keyOrderKnown(pairs);
  return { pairs, kept: listing, ...(read && { changed: read.changed }) };
}

/** A body whose layout was not Consul's is tried again after this many answers (trying costs about a parse). */
const LAYOUT_RETRY = 16;

/** The whole answer parsed, and where each entry lies in it when the layout is Consul's own. */
function wholeListing(body: Buffer, fail: (what: string) => Error, kept?: KeptListing): KeptListing {
  let entries: unknown;
  try {
    entries = JSON.parse(body.toString('utf8'));
  } catch {
    throw fail(bodyKind(body) === 'an HTML page' ? 'an HTML page, which is not JSON' : 'something that is not JSON');
  }
  if (!Array.isArray(entries)) throw fail('JSON that is not a list of keys');
  const read = entries.map((e: unknown) => {
    const entry = entryOf(e);
    if (!entry) throw fail('a list whose entries have no Key/Value');
    return entry;
  });
  const pairs = read.map((e) => e.pair);
  const listing: KeptListing = { body, laidOut: false, untried: 0, ordered: inKeyOrder(pairs), starts: [], ends: [], keys: read.map((e) => e.key), pairs };
  if (kept && !kept.laidOut && kept.untried + 1 < LAYOUT_RETRY) return { ...listing, untried: kept.untried + 1 };
  const spans = body[0] === 0x5b && body[body.length - 1] === 0x5d ? spansOf(body, 1, body.length - 1, entries) : undefined;
  if (spans) Object.assign(listing, { laidOut: true, starts: spans[0], ends: spans[1] });
  return listing;
}

/** An entry of the listing; undefined when it is none (no string Key, a Value neither string nor null). */
function entryOf(entry: unknown): Entry | undefined {
  const { Key: key, Value: value } = (entry ?? {}) as { Key?: unknown; Value?: unknown };
  if (typeof key !== 'string' || !(typeof value === 'string' || value === null || value === undefined)) return undefined;
  if (key.endsWith('/')) return { key, pair: null };
  return { key, pair: { key: normalizeKey(key), value: value ? fromBase64(value) : '' } };
}

/**
 * Where each of `entries` lies in body[from, to), when that range is exactly their compact JSON
 * joined by commas; undefined when it is not.
 */
function spansOf(body: Buffer, from: number, to: number, entries: unknown[]): [number[], number[]] | undefined {
  const starts: number[] = [];
  const ends: number[] = [];
  let at = from;
  for (const [i, entry] of entries.entries()) {
    if (i > 0 && body[at++] !== 0x2c) return undefined;
    let text: string;
    try {
      text = JSON.stringify(entry);
    } catch {
      return undefined; // nested deeper than JSON.stringify goes (JSON.parse goes deeper): read whole
    }
    const length = Buffer.byteLength(text);
    if (at + length > to || body.toString('utf8', at, at + length) !== text) return undefined;
    starts.push(at);
    ends.push((at += length));
  }
  return at === to ? [starts, ends] : undefined;
}

/**
 * The listing read against the last one, parsing only the entries whose bytes changed, and the
 * keys (normalised) that may differ from it; undefined when the answer is not laid out as the
 * last one was (the caller parses it whole).
 */
function changedOnly(body: Buffer, kept: KeptListing): { listing: KeptListing; changed: string[] } | undefined {
  const last = kept.body;
  const n = kept.starts.length;
  if (body[0] !== 0x5b || body[body.length - 1] !== 0x5d) return undefined;
  const shift = body.length - last.length;
  const prefix = samePrefix(last, body);
  const suffix = sameSuffix(last, body, Math.min(last.length, body.length) - prefix);
  // Entries wholly within the same leading bytes, and wholly within the same trailing ones.
  const a = countBelow(kept.ends, prefix + 1);
  const b = countBelow(kept.starts, last.length - suffix);
  if (b < a) return undefined;
  const from = a === 0 ? 1 : kept.ends[a - 1]!;
  const to = b === n ? body.length - 1 : kept.starts[b]! + shift;
  const mid = between(body, from, to, a > 0, b < n);
  if (!mid) return undefined;
  const changed = [...new Set([...kept.keys.slice(a, b), ...mid.entries.map((e) => e.key)])].map(normalizeKey);
  // The last listing's arrays, changed in place (it is not read again): new arrays of 10,000
  // entries per answer would each outlive a young collection and fill the old generation.
  for (const offsets of [kept.starts, kept.ends]) for (let i = b; i < n; i++) offsets[i]! += shift;
  kept.starts.splice(a, b - a, ...mid.starts);
  kept.ends.splice(a, b - a, ...mid.ends);
  kept.keys.splice(a, b - a, ...mid.entries.map((e) => e.key));
  kept.pairs.splice(a, b - a, ...mid.entries.map((e) => e.pair));
  const { starts, ends, keys, pairs } = kept;
  // In order if the last one was and the entries read now are, against their neighbours (the others did not move); else looked at whole.
  const ordered = kept.ordered ? inKeyOrder(pairs, a, a + mid.entries.length) : inKeyOrder(pairs);
  return { listing: { body, laidOut: true, untried: 0, ordered, starts, ends, keys, pairs }, changed };
}

/**
 * The entries in body[from, to), between kept entries (`after`: one comes before, `before`: one
 * comes after): nothing, the one comma between the two kept entries, or entries in Consul's
 * layout with a comma on each side that has a kept entry. Undefined when it is anything else.
 */
function between(body: Buffer, from: number, to: number, after: boolean, before: boolean): { entries: Entry[]; starts: number[]; ends: number[] } | undefined {
  const comma = (at: number) => body[at] === 0x2c;
  const bare = after && before ? 1 : 0;
  if (to - from === bare) return bare === 0 || comma(from) ? { entries: [], starts: [], ends: [] } : undefined;
  const [start, end] = [from + (after ? 1 : 0), to - (before ? 1 : 0)];
  if (end <= start || (after && !comma(from)) || (before && !comma(to - 1))) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(`[${body.toString('utf8', start, end)}]`);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return undefined;
  const entries = parsed.map(entryOf);
  if (entries.some((e) => e === undefined)) return undefined;
  const spans = spansOf(body, start, end, parsed);
  if (!spans) return undefined;
  return { entries: entries as Entry[], starts: spans[0], ends: spans[1] };
}

/** How many of the sorted `offsets` are below `limit`. */
function countBelow(offsets: readonly number[], limit: number): number {
  let [lo, hi] = [0, offsets.length];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (offsets[mid]! < limit) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Block sizes compared natively, largest first: a 1.4 MB answer is gone over in about 40 calls,
 * not 350, and fewer than 16 bytes are left to compare one by one (up to 4,095 with the two
 * largest alone: 30 µs a scan of a 12.7 KB answer, against 6 with all four, measured).
 */
const BLOCKS = [65_536, 4096, 256, 16];

/** How many leading bytes two buffers share. */
function samePrefix(x: Buffer, y: Buffer): number {
  const most = Math.min(x.length, y.length);
  let at = 0;
  for (const block of BLOCKS) while (at + block <= most && x.compare(y, at, at + block, at, at + block) === 0) at += block;
  while (at < most && x[at] === y[at]) at++;
  return at;
}

/** How many trailing bytes two buffers share, at most `most`. */
function sameSuffix(x: Buffer, y: Buffer, most: number): number {
  let n = 0;
  for (const block of BLOCKS)
    while (n + block <= most && x.compare(y, y.length - n - block, y.length - n, x.length - n - block, x.length - n) === 0) n += block;
  while (n < most && x[x.length - 1 - n] === y[y.length - 1 - n]) n++;
  return n;
}

/** Decoding room reused for every value: a listing of 10,000 keys would otherwise make 10,000 buffers. */
const scratch = Buffer.allocUnsafe(64 * 1024);

/** Consul's base64 value as UTF-8 text. */
function fromBase64(value: string): string {
  if (value.length > (scratch.length / 3) * 4) return Buffer.from(value, 'base64').toString('utf8');
  return scratch.toString('utf8', 0, scratch.write(value, 0, 'base64'));
}
