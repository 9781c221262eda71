import { describe, expect, it } from 'vitest';
import { seeded } from '../support/seeded.js';
import { blocksOf, BLOCK_LINES, editLines, editPieces, joinsTo, sectionsOf, type Beside, type LineEdit } from '../../src/plan/patch-lines.js';

/** The edits on one whole string, as editLines made them before it was cut into pieces: what both must give. */
function editWhole(text: string, edits: readonly LineEdit[], beside: Beside): string | undefined {
  let out = text;
  const at = (line: string) => {
    const i = out.indexOf(`\n${line}\n`);
    return i < 0 || out.indexOf(`\n${line}\n`, i + 1) >= 0 ? -1 : i + 1;
  };
  for (const edit of edits.filter((e) => e.was !== undefined)) {
    const i = at(edit.was!);
    if (i < 0) return undefined;
    out = `${out.slice(0, i)}${edit.now === undefined ? '' : `${edit.now}\n`}${out.slice(i + edit.was!.length + 1)}`;
  }
  const added = edits.filter((e) => e.was === undefined);
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

describe('a config edited in pieces (blocks of lines)', () => {
  it('gives what the same edits give on the whole text, line found once or not at all, wherever the pieces are cut', () => {
    const random = seeded(11);
    const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
    // Few distinct lines, so that a line is often there twice, and often at the start of a piece.
    const words = ['backend a', '    server s1 10.0.0.1:80', '    server s2 10.0.0.2:80', '    server s3 10.0.0.3:80', '# note', ''];
    for (let round = 0; round < 2000; round++) {
      const lines = Array.from({ length: 1 + Math.floor(random() * 8) }, () => pick(words));
      const text = `${lines.join('\n')}${random() < 0.8 ? '\n' : ''}`;
      // Cut after some of the newlines (a piece may be empty).
      const pieces: string[] = [];
      let from = 0;
      for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) {
        if (random() < 0.4) {
          pieces.push(text.slice(from, i + 1));
          from = i + 1;
        }
        if (random() < 0.1) pieces.push('');
      }
      pieces.push(text.slice(from));
      const edits: LineEdit[] = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, k) => {
        const kind = random();
        const line = `    server n${k} 10.0.1.${k}:80`;
        return kind < 0.4 ? { key: `k${k}`, was: pick(words) } : kind < 0.7 ? { key: `k${k}`, was: pick(words), now: line } : { key: `k${k}`, now: line };
      });
      // Where each new line goes: both sides ask in the same order, and get the same answers.
      const answers = Array.from({ length: 3 }, () => ({ line: pick(words), after: random() < 0.5 }));
      const beside = () => {
        let asked = 0;
        return () => answers[asked++];
      };
      const whole = editWhole(text, edits, beside());
      const inPieces = editPieces(pieces, edits, beside());
      expect(inPieces?.join(''), JSON.stringify({ pieces, edits })).toBe(whole);
      expect(editLines(text, edits, beside())).toBe(whole);
    }
  });

  it('cuts a large section into blocks of BLOCK_LINES lines that join to the text, and leaves small sections whole', () => {
    const servers = Array.from({ length: 450 }, (_, i) => `    server s${i} 10.0.0.1:${i}\n`).join('');
    const text = `global\n    daemon\nbackend big\n${servers}backend small\n    server x 10.0.0.9:80\n`;
    const blocks = blocksOf(text);
    expect(blocks.join('')).toBe(text);
    expect(blocks.map((b) => b.split('\n').length - 1)).toEqual([2, BLOCK_LINES, BLOCK_LINES, 51, 2]);
    expect(sectionsOf(text)).toHaveLength(3);
  });

  it('tells whether pieces join to a text, wherever they are cut and whatever one character differs', () => {
    const random = seeded(23);
    for (let round = 0; round < 500; round++) {
      const text = Array.from({ length: Math.floor(random() * 40) }, () => 'ab\n'[Math.floor(random() * 3)]).join('');
      const cuts = [0, ...Array.from({ length: Math.floor(random() * 5) }, () => Math.floor(random() * (text.length + 1))).sort((a, b) => a - b), text.length];
      const pieces = cuts.slice(1).map((to, i) => text.slice(cuts[i], to));
      expect(joinsTo(pieces, text), JSON.stringify(pieces)).toBe(true);
      const at = Math.floor(random() * (text.length + 1));
      const other = random() < 0.5 ? `${text.slice(0, at)}x${text.slice(at)}` : `${text.slice(0, at)}${text.slice(at + 1)}`;
      expect(joinsTo(pieces, other), JSON.stringify({ pieces, other })).toBe(other === text);
      expect(joinsTo([...pieces, 'a'], text)).toBe(false);
    }
  });
});
