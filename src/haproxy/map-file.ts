/** HAProxy's map files: one `key value` per line, `#` comments; what `show map` prints back. */

export type MapEntry = readonly [key: string, value: string];

/** A map file: a comment saying what it is, then one entry per line, in the order given. */
export function mapText(what: string, entries: readonly MapEntry[]): string {
  return `# ${what}\n${entries.map(([key, value]) => `${key} ${value}\n`).join('')}`;
}

/** The entries of a map file (comments and blank lines aside). */
export function mapEntries(text: string): MapEntry[] {
  const out: MapEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [key = '', value = ''] = line.split(/\s+/, 2);
    out.push([key, value]);
  }
  return out;
}

/** Whether two lists hold the same entries in the same order. */
export function sameEntries(a: readonly MapEntry[], b: readonly MapEntry[]): boolean {
  return a.length === b.length && a.every((e, i) => e[0] === b[i]![0] && e[1] === b[i]![1]);
}

/** One line of `show map`: `0xADDRESS key value`. */
const SHOWN_ENTRY = /^0x[0-9a-f]+ (\S+) (\S+)$/;

/** The entries `show map FILE` lists: `0xADDRESS key value` per line. */
export function shownEntries(answer: string): MapEntry[] {
  const out: MapEntry[] = [];
  for (const line of answer.split('\n')) {
    const m = SHOWN_ENTRY.exec(line.trim());
    if (m) out.push([m[1]!, m[2]!]);
  }
  return out;
}
