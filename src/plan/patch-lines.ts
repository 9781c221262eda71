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
  return editPieces([text], edits, beside)?.[0];
}

/**
 * editLines on a text kept as pieces that each start at a line (sectionsOf, blocksOf): the same
 * edits and checks on the text they join to, but only the pieces an edit touches are made again
 * (a change of one server in a backend of 10,000 makes a block of lines, not the config).
 */
export function editPieces(pieces: readonly string[], edits: readonly LineEdit[], beside: Beside): string[] | undefined {
  const out = [...pieces];
  // The piece and offset of a whole line that is there exactly once (a line at the start of a piece follows the newline that ends the text before it).
  const at = (line: string): [number, number] | undefined => {
    const [needle, first] = [`\n${line}\n`, `${line}\n`];
    let found: [number, number] | undefined;
    let after = false;
    for (let k = 0; k < out.length; k++) {
      const piece = out[k]!;
      const starts = after && piece.startsWith(first) ? [-1] : [];
      for (let i = piece.indexOf(needle); i >= 0; i = piece.indexOf(needle, i + 1)) starts.push(i);
      if (starts.length > (found ? 0 : 1)) return undefined;
      if (starts.length === 1) found = [k, starts[0]! + 1];
      after ||= piece.length > 0;
    }
    return found;
  };
  const put = ([k, i]: [number, number], cut: number, line: string) => (out[k] = `${out[k]!.slice(0, i)}${line}${out[k]!.slice(cut)}`);
  const added: LineEdit[] = [];
  for (const edit of edits) {
    if (edit.was === undefined) {
      added.push(edit);
      continue;
    }
    const found = at(edit.was);
    if (!found) return undefined;
    put(found, found[1] + edit.was.length + 1, edit.now === undefined ? '' : `${edit.now}\n`);
  }
  const unplaced = new Set(added.map((a) => a.key));
  for (const { key, now } of added) {
    const place = beside(key, unplaced);
    const found = place && at(place.line);
    if (!place || !found || now === undefined) return undefined;
    const cut = place.after ? found[1] + place.line.length + 1 : found[1];
    put([found[0], cut], cut, `${now}\n`);
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

/** Lines a piece holds at most (blocksOf): a block of a large backend, about 15 KB of server lines. */
export const BLOCK_LINES = 200;

/** The config as its sections (sectionsOf), a large one cut further into blocks of BLOCK_LINES lines. */
export function blocksOf(text: string): string[] {
  return sectionsOf(text).flatMap((section) => {
    const lines = section.split(/(?<=\n)/);
    if (lines.length <= BLOCK_LINES) return [section];
    const blocks: string[] = [];
    for (let i = 0; i < lines.length; i += BLOCK_LINES) blocks.push(lines.slice(i, i + BLOCK_LINES).join(''));
    return blocks;
  });
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

/** Whether pieces join to `text`, read in place: neither is copied (a check of a patch at 10,000 servers compares 700 KB). */
export function joinsTo(pieces: readonly string[], text: string): boolean {
  let at = 0;
  for (const piece of pieces) {
    if (!text.startsWith(piece, at)) return false;
    at += piece.length;
  }
  return at === text.length;
}

/** The index of the section whose header line is `header` (never the lines before the first section), or -1. */
export function sectionAt(pieces: readonly string[], header: string): number {
  return pieces.findIndex((piece, i) => i > 0 && piece.startsWith(`${header}\n`));
}
