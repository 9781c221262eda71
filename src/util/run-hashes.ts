/** Rolling hashes of a text's windows, looked up among the hashes of a set of runs: src/util/redact.ts's quick look for a secret. */

/**
 * Whether a window of `length` characters of `compacted` may be one of the runs (each run is that long): each window
 * is hashed as the one before it rolls on, and only a window whose hash some run has is one
 * (then the caller looks at the text the slow way). What every log line passes through, so it
 * makes no string per window (src/util/redact.ts: a log line of 300 characters made about 20 KB of garbage the slow way).
 */
export function mayHoldRun(compacted: string, sets: ReadonlyArray<ReadonlySet<string>>, length: number): boolean {
  const known = sets.map(hashesOf);
  const top = weightOfFirst(length);
  let hash = 0;
  for (let at = 0; at < compacted.length; at++) {
    if (at >= length) hash = (hash - Math.imul(compacted.charCodeAt(at - length), top)) | 0;
    hash = (Math.imul(hash, HASH_BASE) + compacted.charCodeAt(at)) | 0;
    if (at < length - 1) continue;
    for (let k = 0; k < known.length; k++) if (known[k]!.has(hash)) return true;
  }
  return false;
}

const HASH_BASE = 31;
/** HASH_BASE to the power `length` - 1, as 32-bit arithmetic has it: the weight of the character that leaves the window. */
function weightOfFirst(length: number): number {
  let weight = 1;
  for (let i = 1; i < length; i++) weight = Math.imul(weight, HASH_BASE);
  return weight;
}

/** The hashes of a set's runs, made again when the set grew (a secret added). */
const hashed = new WeakMap<ReadonlySet<string>, { size: number; hashes: Set<number> }>();
function hashesOf(runs: ReadonlySet<string>): Set<number> {
  const kept = hashed.get(runs);
  if (kept?.size === runs.size) return kept.hashes;
  const hashes = new Set<number>();
  for (const run of runs) {
    let hash = 0;
    for (let i = 0; i < run.length; i++) hash = (Math.imul(hash, HASH_BASE) + run.charCodeAt(i)) | 0;
    hashes.add(hash);
  }
  hashed.set(runs, { size: runs.size, hashes });
  return hashes;
}
