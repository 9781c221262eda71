import type { RenderedResource } from './render.js';

/** A key whose value was added, removed or changed between two snapshots. */
export interface KeyChange {
  key: string;
  before?: string;
  after?: string;
}

/** A resource patched, and the servers per backend of the backends it changed. */
export interface ResourcePatch {
  resource: RenderedResource;
  backends: Record<string, number>;
}

/** A server line to take out (`was` alone), put in (`now` alone) or replace, by the key it comes from. */
export interface LineEdit {
  key: string;
  was?: string;
  now?: string;
}

/** Where a new line goes: after or before a line already in the text. */
export type Beside = (key: string, unplaced: ReadonlySet<string>) => { line: string; after: boolean } | undefined;

/** A part of a text by offsets (a backend's section). */
export type Region = (text: string) => { from: number; to: number } | undefined;

const whole: Region = (text) => ({ from: 0, to: text.length });

/**
 * `text` with each edit's line replaced or taken out where it is, and each new line put in
 * beside the line `beside` names (one already there: a line not added, or added before it).
 * Every line looked for must be in `region` exactly once; undefined when one is not.
 */
export function editLines(text: string, edits: readonly LineEdit[], beside: Beside, region: Region = whole): string | undefined {
  let out = text;
  const at = (line: string): number => {
    const r = region(out);
    if (!r) return -1;
    const needle = `\n${line}\n`;
    const i = out.indexOf(needle, Math.max(r.from - 1, 0));
    if (i < 0 || i + 1 >= r.to) return -1;
    const again = out.indexOf(needle, i + 1);
    return again >= 0 && again + 1 < r.to ? -1 : i + 1;
  };
  const added: LineEdit[] = [];
  for (const edit of edits) {
    if (edit.was === undefined) {
      added.push(edit);
      continue;
    }
    const i = at(edit.was);
    if (i < 0) return undefined;
    out = `${out.slice(0, i)}${edit.now === undefined ? '' : `${edit.now}\n`}${out.slice(i + edit.was.length + 1)}`;
  }
  const unplaced = new Set(added.map((a) => a.key));
  for (const { key, now } of added) {
    const place = beside(key, unplaced);
    const i = place ? at(place.line) : -1;
    if (!place || i < 0 || now === undefined) return undefined;
    const cut = place.after ? i + place.line.length + 1 : i;
    out = `${out.slice(0, cut)}${now}\n${out.slice(cut)}`;
    unplaced.delete(key);
  }
  return out;
}

/** The section that starts with the line `header` (`backend app`): to the next line that starts a section. */
export function sectionOf(header: string): Region {
  return (text) => {
    const start = text.indexOf(`\n${header}\n`);
    if (start < 0) return undefined;
    const next = /\n(?=[^\s#])/g;
    next.lastIndex = start + header.length + 2;
    const end = next.exec(text);
    return { from: start + 1, to: end ? end.index + 1 : text.length };
  };
}
