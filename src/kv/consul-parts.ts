/**
 * The most parts a prefix is watched in. Each part is a blocking query, and each blocking query
 * holds a connection of its own; Consul closes the connections of an address past
 * `limits.http_max_conns_per_client` (200 by default), and while SIGHUP swaps stores two sources
 * watch for a moment. 64 parts, two folder listings and the other prefixes stay well under half.
 */
export const MAX_PARTS = 64;

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
  return parts.map((p) => p.prefix).sort();
}

/** Whether two prefixes' reads can hold the same key: one starts with the other. */
export const overlap = (a: string, b: string): boolean => a.startsWith(b) || b.startsWith(a);
