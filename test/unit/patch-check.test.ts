import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';
import { toSnapshot } from '../../src/kv/keys.js';
import { DEFAULT_TEMPLATE } from '../../src/paths.js';
import { renderSnapshot } from '../../src/plan/plan.js';
import type { HaproxyView } from '../../src/watch/haproxy-view.js';
import { Planner } from '../../src/watch/planner.js';
import { compileTemplates } from '../../src/wiring/templates.js';
import { makeTempDir } from '../support/temp.js';

const server = (name: string, n: number) => ({ key: `/apps/x/${name}`, value: `10.0.0.${n}:80` });

/** A planner over `template`; the view is only asked for installed bundles, which these settings have none of. */
async function planner(template: string, checkSpacing?: number) {
  const settings = resolveSettings({
    flags: { prefix: ['apps/x'], out: '/etc/haproxy/haproxy.cfg' },
    env: {},
    cwd: '/',
    defaultTemplate: template,
    readSecret: () => '',
  });
  const templates = await compileTemplates(settings.resources);
  const counters = { renders: 0, patchedRenders: 0 };
  const view = { state: { installed: new Map() } } as unknown as HaproxyView;
  const text = (pairs: ReturnType<typeof server>[]) => renderSnapshot(settings, templates, toSnapshot(pairs)).resources[0]!.text;
  return { planner: new Planner({ settings, templates }, view, counters, checkSpacing), counters, text };
}

const textOf = (p: Planner) => {
  const latest = p.latest!;
  return 'rendering' in latest ? latest.rendering.resources[0]!.text : String(latest.failure);
};

describe("the check of patched renderings against full ones (watch's background check)", () => {
  it('finds nothing wrong with the shipped template, and waits for a quiet store before rendering in full', async () => {
    const { planner: p, counters } = await planner(DEFAULT_TEMPLATE);
    p.take(toSnapshot([server('a', 1), server('b', 2)]));
    void p.latest;
    p.take(toSnapshot([server('a', 1), server('b', 2), server('c', 3)]));
    void p.latest;
    expect(counters).toEqual({ renders: 2, patchedRenders: 1 });
    expect(p.checkPatch(performance.now())).toEqual([]);
    expect(counters.renders).toBe(2); // the store was not quiet: no check yet
    expect(p.checkPatch(performance.now() + 1500)).toEqual([]);
  });

  it('distrusts a template that declares its server lines but reads servers() elsewhere: full renders from then on', async () => {
    const path = join(makeTempDir(), 'counting.cfg.ejs');
    writeFileSync(path, readFileSync(DEFAULT_TEMPLATE, 'utf8').replace('global\n', 'global\n# <%= servers().length %> servers\n'));
    const { planner: p, counters, text } = await planner(path);
    const three = [server('a', 1), server('b', 2), server('c', 3)];
    p.take(toSnapshot(three.slice(0, 2)));
    void p.latest;
    p.take(toSnapshot(three));
    expect(textOf(p)).not.toBe(text(three)); // the patch kept "2 servers"
    expect(p.checkPatch(performance.now() + 1500)).toEqual([path]);
    expect(textOf(p)).toBe(text(three));
    p.take(toSnapshot([...three, server('d', 4)]));
    expect(textOf(p)).toBe(text([...three, server('d', 4)]));
    expect(counters.patchedRenders).toBe(1);
  });

  it('reads a patch of a large backend from its blocks: equal to the full render, or told apart by one line', async () => {
    const many = Array.from({ length: 450 }, (_, i) => server(`s${String(i).padStart(3, '0')}`, i % 250));
    const { planner: shipped } = await planner(DEFAULT_TEMPLATE);
    shipped.take(toSnapshot(many.slice(0, 449)));
    void shipped.latest;
    shipped.take(toSnapshot(many));
    const latest = shipped.latest!;
    expect('rendering' in latest && latest.rendering.resources[0]!.sections!.length).toBeGreaterThan(2);
    expect(shipped.checkPatch(performance.now() + 1500)).toEqual([]);
    const path = join(makeTempDir(), 'counting.cfg.ejs');
    writeFileSync(path, readFileSync(DEFAULT_TEMPLATE, 'utf8').replace('global\n', 'global\n# <%= servers().length %> servers\n'));
    const { planner: counting } = await planner(path);
    counting.take(toSnapshot(many.slice(0, 449)));
    void counting.latest;
    counting.take(toSnapshot(many));
    void counting.latest;
    expect(counting.checkPatch(performance.now() + 1500)).toEqual([path]);
  });

  it('spaces its checks by a thousand times their own render: a patch after a slow check waits up to 30 s, after a quick one a quiet second', async () => {
    // Patched and full renders agree up to three servers and differ from four: a template wrong only for some answers.
    const path = join(makeTempDir(), 'many.cfg.ejs');
    writeFileSync(path, readFileSync(DEFAULT_TEMPLATE, 'utf8').replace('global\n', 'global\n<% if (servers().length > 3) { %># many\n<% } %>'));
    const four = [server('a', 1), server('b', 2), server('c', 3), server('d', 4)];
    // Spacings of 1e9 and 1 times the last check's time: a check that took long (a full render at
    // 10,000 servers takes about 20 ms, × 1000) and one that took little, whatever this machine's speed.
    for (const [spacing, found] of [
      [1e9, []],
      [1, [path]],
    ] as const) {
      const { planner: p } = await planner(path, spacing);
      for (const n of [2, 3]) {
        p.take(toSnapshot(four.slice(0, n)));
        void p.latest;
      }
      const first = performance.now();
      expect(p.checkPatch(first + 1500)).toEqual([]); // checked: the patch to three servers agrees
      p.take(toSnapshot(four));
      void p.latest;
      // A quiet store 20 s later: due after a quick check, not after a slow one.
      expect(p.checkPatch(first + 20_000)).toEqual(found);
      // 30 s after the patch it is checked whatever the last check took.
      expect(p.checkPatch(performance.now() + 30_001)).toEqual(found.length ? [] : [path]);
    }
  });
});
