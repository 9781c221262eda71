import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';
import { toSnapshot } from '../../src/kv/keys.js';
import type { KvPair, KvSnapshot } from '../../src/kv/source.js';
import { DEFAULT_TEMPLATE, STACK_TEMPLATE } from '../../src/paths.js';
import { STACK_PATCH_DECLARATION } from '../../src/plan/patch-stack.js';
import { MOST_PATCHED, PATCH_DECLARATION, snapshotDelta } from '../../src/plan/patch.js';
import { patchSnapshot, renderSnapshot } from '../../src/plan/plan.js';
import { patchTrials, plain } from '../support/patch-trials.js';
import { compileTemplates } from '../../src/wiring/templates.js';
import { makeTempDir } from '../support/temp.js';

const OUT = '/etc/haproxy/haproxy.cfg';

async function rig(flags: Record<string, unknown> = {}, template = DEFAULT_TEMPLATE) {
  const settings = resolveSettings({ flags: { prefix: ['apps/x'], out: OUT, ...flags }, env: {}, cwd: '/', defaultTemplate: template, readSecret: () => '' });
  const templates = await compileTemplates(settings.resources);
  const render = (snapshot: KvSnapshot) => renderSnapshot(settings, templates, snapshot);
  /** The patch of `after` from `before`'s rendering (undefined: it renders in full). */
  /** `after` patched from `before`'s rendering (`rendering`: that one, a patch itself maybe; else `before` rendered in full). */
  const patch = (before: KvSnapshot, after: KvSnapshot, rendering = render(before)) =>
    patchSnapshot(settings, templates, { snapshot: before, rendering }, after);
  return { settings, templates, render, patch };
}

/** A small deterministic generator, so a failure comes back the same. */
function random(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

const server = (name: string, host: number, port = 8080): KvPair => ({ key: `/apps/x/${name}`, value: `10.0.${host >> 8}.${host & 255}:${port}` });

describe('patching a rendering with the server lines a change touched', () => {
  it('is declared by the shipped templates, each its own way', () => {
    expect(readFileSync(DEFAULT_TEMPLATE, 'utf8')).toContain(PATCH_DECLARATION);
    expect(readFileSync(STACK_TEMPLATE, 'utf8')).toContain(STACK_PATCH_DECLARATION);
    expect(readFileSync(STACK_TEMPLATE, 'utf8')).not.toContain(PATCH_DECLARATION);
  });

  it('gives the full render byte for byte on random adds, removes and moves, and patches most of them', async () => {
    const { render, patch } = await rig();
    const next = random(7);
    const byKey = new Map(Array.from({ length: 300 }, (_, i) => server(`s${String(i * 3).padStart(4, '0')}`, i)).map((p) => [p.key, p.value]));
    const snapshot = () => toSnapshot([...byKey].map(([key, value]) => ({ key, value })));
    const change = () => {
      for (let c = 1 + Math.floor(next() * 4); c > 0; c--) {
        const roll = next();
        const name = `s${String(Math.floor(next() * 1000)).padStart(4, '0')}`;
        if (roll < 0.4) byKey.set(`/apps/x/${name}`, server(name, Math.floor(next() * 60000)).value);
        else if (roll < 0.8) byKey.delete([...byKey.keys()][Math.floor(next() * byKey.size)]!);
        else byKey.set([...byKey.keys()][Math.floor(next() * byKey.size)]!, server(name, Math.floor(next() * 60000), 9000).value);
      }
      return snapshot();
    };
    expect(patchTrials(400, snapshot(), change, render, patch)).toBeGreaterThan(400 * 0.9);
  });

  it('places a server that sorts before or after every other, and one beside a skipped entry', async () => {
    const { render, patch } = await rig();
    const base = [server('m1', 1), { key: '/apps/x/m2', value: 'not an address' }, server('m3', 3)];
    for (const extra of [server('a0', 9), server('z9', 9), server('m2x', 9), server('m15', 9)]) {
      const after = toSnapshot([...base, extra]);
      const made = patch(toSnapshot(base), after);
      expect(made, extra.key).toBeDefined();
      expect(plain(made)).toEqual(render(after));
    }
  });

  it('renders in full what it cannot patch: a bad or renamed entry, a key below a server key, too many changes, a template without the declaration', async () => {
    const { patch } = await rig();
    const base = [server('a', 1), server('b', 2)];
    const cases: Array<[string, KvPair[]]> = [
      ['an entry that is skipped', [...base, { key: '/apps/x/c', value: 'nope' }]],
      ['a name that is changed for HAProxy', [...base, { key: '/apps/x/c d', value: '10.0.0.9:80' }]],
      ['a key below a server key', [...base, { key: '/apps/x/c/d', value: '10.0.0.9:80' }]],
      ['more changes than are patched', [...base, ...Array.from({ length: MOST_PATCHED + 1 }, (_, i) => server(`n${i}`, i))]],
    ];
    for (const [what, pairs] of cases) expect(patch(toSnapshot(base), toSnapshot(pairs)), what).toBeUndefined();
    const edited = join(makeTempDir(), 'undeclared.cfg.ejs');
    writeFileSync(edited, readFileSync(DEFAULT_TEMPLATE, 'utf8').replace(PATCH_DECLARATION, 'the declaration, deleted'));
    const other = await rig({}, edited);
    expect(other.patch(toSnapshot(base), toSnapshot([...base, server('c', 3)]))).toBeUndefined();
  });

  it('renders in full when the settings have two HAProxy configs (servers are counted over every one), and patches beside a config that is not HAProxy', async () => {
    const { settings } = await rig();
    const base = toSnapshot([server('a', 1), server('b', 2)]);
    const after = toSnapshot([server('a', 1), server('b', 2), server('c', 3)]);
    const second = { ...settings.resources[0]!, prefixes: ['apps/y'], destination: '/etc/haproxy/other.cfg' };
    for (const [haproxy, patched] of [
      [true, false],
      [false, true],
    ] as const) {
      const two = { ...settings, resources: [settings.resources[0]!, { ...second, haproxy }] };
      const templates = await compileTemplates(two.resources);
      const rendering = renderSnapshot(two, templates, base);
      const made = patchSnapshot(two, templates, { snapshot: base, rendering }, after);
      expect(made !== undefined, `a second config with haproxy: ${haproxy}`).toBe(patched);
      if (made) expect(plain(made)).toEqual(renderSnapshot(two, templates, after));
    }
  });

  it('makes a line with the same helpers as the full render: a line that reads another key gets its value', async () => {
    const template = join(makeTempDir(), 'weights.cfg.ejs');
    const weighed = '<%= s.address %> check weight <%= getv("/apps/w/" + s.name, "1") %>';
    writeFileSync(template, readFileSync(DEFAULT_TEMPLATE, 'utf8').replace('<%= s.address %> check', weighed));
    const { patch, render } = await rig({ prefix: ['apps/x', 'apps/w'] }, template);
    const base = [server('a', 1), { key: '/apps/w/b', value: '7' }];
    const after = toSnapshot([...base, server('b', 2)]);
    const made = patch(toSnapshot(base), after);
    expect(made?.resources[0]!.text).toContain('server b 10.0.0.2:8080 check weight 7');
    expect(plain(made)).toEqual(render(after));
  });

  it('removes the last server as the full render does', async () => {
    const { patch, render } = await rig();
    const made = patch(toSnapshot([server('a', 1)]), toSnapshot([]));
    expect(plain(made)).toEqual(render(toSnapshot([])));
  });

  it('keeps the rules: --min-servers counts the servers the patch left', async () => {
    const { patch, render } = await rig({ minServers: 2 });
    const base = [server('a', 1), server('b', 2)];
    const after = toSnapshot([server('a', 1)]);
    const made = patch(toSnapshot(base), after);
    expect(made?.shortfalls).toEqual([{ backend: 'nginx_80', servers: 1, min: 2 }]);
    expect(plain(made)).toEqual(render(after));
  });
});

describe('the keys two snapshots differ in', () => {
  it('lists adds, removes and changes in key order, and gives up on unsorted lists or too many', () => {
    const p = (key: string, value = 'v') => ({ key, value });
    const delta = (before: KvPair[], after: KvPair[], most: number) => snapshotDelta({ pairs: before }, { pairs: after }, most);
    expect(delta([p('a'), p('b'), p('d')], [p('b', 'w'), p('c'), p('d')], 10)).toEqual([
      { key: 'a', before: 'v' },
      { key: 'b', before: 'v', after: 'w' },
      { key: 'c', after: 'v' },
    ]);
    expect(delta([p('b'), p('a')], [p('b'), p('a')], 10)).toBeUndefined();
    expect(delta([], [p('a'), p('b')], 1)).toBeUndefined();
  });

  it('looks up only the keys a source names as changed, when it names them against the same list', () => {
    const p = (key: string, value = 'v') => ({ key, value });
    const before = { pairs: [p('a'), p('b'), p('c')] };
    const after = { pairs: [p('a'), p('b', 'w'), p('d')], since: { pairs: before.pairs, keys: ['d', 'b', 'x'] } };
    // 'c' is gone too, but the source said only d, b and x may differ: its word is taken.
    expect(snapshotDelta(before, after, 10)).toEqual([
      { key: 'b', before: 'v', after: 'w' },
      { key: 'd', after: 'v' },
    ]);
    // Named against another list: every pair is compared.
    expect(snapshotDelta({ pairs: [...before.pairs] }, after, 10)).toHaveLength(3);
  });
});
