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

/**
 * `text` with each edit's line replaced or taken out where it is, and each new line put in
 * beside the line `beside` names (one already there: a line not added, or added before it).
 * Every line looked for must be in the text exactly once; undefined when one is not.
 */
export function editLines(text: string, edits: readonly LineEdit[], beside: Beside): string | undefined {
  let out = text;
  const at = (line: string): number => {
    const needle = `\n${line}\n`;
    const i = out.indexOf(needle);
    return i < 0 || out.indexOf(needle, i + 1) >= 0 ? -1 : i + 1;
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

/**
 * A config as its sections: the lines before the first section, then each section from its
 * header line (`backend app`) up to the next. They join to the text, and each is a slice of it.
 */
export function sectionsOf(text: string): string[] {
  const pieces: string[] = [];
  const next = /\n(?=[^\s#])/g;
  let from = 0;
  for (let m = next.exec(text); m; m = next.exec(text)) {
    pieces.push(text.slice(from, m.index + 1));
    from = m.index + 1;
  }
  pieces.push(text.slice(from));
  return pieces;
}

/**
 * The pieces as one string that refers to them, not a copy: a config of 10,000 servers patched
 * for one is not copied whole (700 KB, and the old generation it fills) until something reads
 * it whole. What is on the way of a change reads the pieces (the file is written from them).
 */
export function joinPieces(pieces: readonly string[]): string {
  let text = '';
  for (const piece of pieces) text += piece;
  return text;
}

/** The index of the section whose header line is `header` (never the lines before the first section), or -1. */
export function sectionAt(pieces: readonly string[], header: string): number {
  return pieces.findIndex((piece, i) => i > 0 && piece.startsWith(`${header}\n`));
}
