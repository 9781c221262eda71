import { expect } from 'vitest';
import { diffConfigs, type ConfigDiff } from '../../src/haproxy/config-diff.js';
import type { KvSnapshot } from '../../src/kv/source.js';
import type { Rendering } from '../../src/plan/plan.js';

/** A rendering without what a patch adds to it (the texts its diff is made from, the sections its text is made of). */
export const plain = (r: Rendering | undefined) => r && { ...r, resources: r.resources.map(({ patch: _, sections: __, ...rest }) => rest) };

/** A diff's server lists in name order (a diff of the whole texts lists them in the texts' order). */
export function byName(diff: ConfigDiff) {
  if (diff.kind !== 'servers') return diff;
  const sort = <T>(list: T[], name: (x: T) => string) => [...list].sort((a, b) => (name(a) < name(b) ? -1 : 1));
  return diff.backends.map((b) => ({
    ...b,
    added: sort(b.added, (s) => s.name),
    removed: sort(b.removed, (s) => s.name),
    moved: sort(b.moved, (m) => m.to.name),
    shaped: b.shaped && sort(b.shaped, (s) => s.name),
  }));
}

/**
 * `trials` random changes (`change` makes the next snapshot), each patched from the last
 * rendering, patched or not, as watch does: every patch must be the full render, and its own
 * diff the diff of the whole texts (a patch that changed no line leaves the text as it was), and
 * its sections, when it has them, the text.
 * Returns how many were patched.
 */
export function patchTrials(
  trials: number,
  first: KvSnapshot,
  change: () => KvSnapshot,
  render: (s: KvSnapshot) => Rendering,
  patch: (before: KvSnapshot, after: KvSnapshot, rendering: Rendering) => Rendering | undefined,
): number {
  let [before, last, patched] = [first, render(first), 0];
  for (let t = 0; t < trials; t++) {
    const after = change();
    const made = patch(before, after, last);
    last = made ?? render(after);
    const was = before;
    before = after;
    if (!made) continue;
    patched++;
    expect(plain(made)).toEqual(render(after));
    const { patch: p, text, sections } = made.resources[0]!;
    if (sections) expect(sections.join('')).toBe(text);
    if (p) expect(byName(diffConfigs(p.before, p.after))).toEqual(byName(diffConfigs(p.base, text)));
    else expect(text).toBe(render(was).resources[0]!.text);
  }
  return patched;
}
