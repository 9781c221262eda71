import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';
import { toSnapshot } from '../../src/kv/keys.js';
import type { KvPair, KvSnapshot } from '../../src/kv/source.js';
import { STACK_TEMPLATE } from '../../src/paths.js';
import { joinPieces, sectionAt, sectionsOf } from '../../src/plan/patch-lines.js';
import { patchSnapshot, renderSnapshot } from '../../src/plan/plan.js';
import { patchTrials, plain } from '../support/patch-trials.js';
import { seeded } from '../support/seeded.js';
import { compileTemplates } from '../../src/wiring/templates.js';

async function rig(config?: Record<string, unknown>) {
  const settings = resolveSettings({
    flags: { stack: 'apps', out: '/etc/haproxy/haproxy.cfg' },
    env: {},
    cwd: '/',
    defaultTemplate: STACK_TEMPLATE,
    readSecret: () => '',
    file: config && { path: '/etc/occs-lb.config.json', config },
  });
  const templates = await compileTemplates(settings.resources);
  const render = (snapshot: KvSnapshot) => renderSnapshot(settings, templates, snapshot);
  /** `after` patched from `before`'s rendering (`rendering`: that one, a patch itself maybe; else `before` rendered in full). */
  const patch = (before: KvSnapshot, after: KvSnapshot, rendering = render(before)) =>
    patchSnapshot(settings, templates, { snapshot: before, rendering }, after);
  return { render, patch };
}

const APPS = ['alpha', 'beta', 'gamma', 'delta'];
const ROUTES = ['alpha.example.com', 'shared.example.com /api', '/static', 'a.example.com b.example.com', 'bad route !!', 'beta.example.com/x'];

describe('patching a stack rendering with the server lines a change touched', () => {
  it('gives the full render byte for byte on random server, weight, state and route changes, and patches most of them', async () => {
    const { render, patch } = await rig();
    const next = seeded(11);
    const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
    const store = new Map<string, string>();
    for (const app of APPS) {
      store.set(`/lb/routes/${app}`, `${app}.example.com`);
      for (let i = 0; i < 30; i++) store.set(`/apps/${app}/containers/s${i * 2}`, `10.1.${APPS.indexOf(app)}.${i}:80`);
    }
    const snapshot = () => toSnapshot([...store].map(([key, value]) => ({ key, value })));
    const change = () => {
      for (let c = 1 + Math.floor(next() * 3); c > 0; c--) {
        const [app, server] = [pick(APPS), `s${Math.floor(next() * 70)}`];
        const roll = next();
        if (roll < 0.35)
          store.set(`/apps/${app}/containers/${server}`, `10.2.${Math.floor(next() * 9)}.${Math.floor(next() * 200)}:8${Math.floor(next() * 9)}`);
        else if (roll < 0.65) store.delete(`/apps/${app}/containers/${server}`);
        else if (roll < 0.85) store.set(`/lb/weights/${app}/${server}`, String(Math.floor(next() * 256)));
        else if (roll < 0.9) store.set(`/lb/state/${app}/${server}`, pick(['ready', 'drain', 'maint']));
        else if (roll < 0.93) store.delete(`/lb/${pick(['weights', 'state'])}/${app}/${server}`);
        // Routes: taken, shared with another app, of an app that is not there, bad, or gone.
        else if (roll < 0.99) store.set(`/lb/routes/${pick([...APPS, 'ghost'])}`, pick(ROUTES));
        else store.delete(`/lb/routes/${pick(APPS)}`);
      }
      return snapshot();
    };
    expect(patchTrials(300, snapshot(), change, render, patch)).toBeGreaterThan(300 * 0.8);
  });

  it('patches a route change: the maps change, the config does not', async () => {
    const { patch, render } = await rig();
    const base: KvPair[] = [
      { key: '/apps/a/containers/one', value: '10.0.0.1:80' },
      { key: '/lb/routes/a', value: 'a.example.com' },
    ];
    const after = toSnapshot([base[0]!, { key: '/lb/routes/a', value: 'other.example.com' }, { key: '/lb/routes/gone', value: 'x.example.com' }]);
    const made = patch(toSnapshot(base), after);
    expect(made?.resources[0]!.companions?.[0]?.text).toContain('other.example.com/ a');
    expect(plain(made)).toEqual(render(after));
  });

  it('renders in full a new app, an app left with no server, and a weight that does not parse', async () => {
    const { patch } = await rig();
    const base: KvPair[] = [
      { key: '/apps/a/containers/one', value: '10.0.0.1:80' },
      { key: '/apps/b/containers/one', value: '10.0.0.2:80' },
      { key: '/lb/routes/a', value: 'a.example.com' },
    ];
    const cases: Array<[string, KvPair[]]> = [
      ['a new app', [...base, { key: '/apps/c/containers/one', value: '10.0.0.3:80' }]],
      ['an app with no server', base.slice(1)],
      ['a weight that does not parse', [...base, { key: '/lb/weights/a/one', value: 'heavy' }]],
    ];
    for (const [what, pairs] of cases) expect(patch(toSnapshot(base), toSnapshot(pairs)), what).toBeUndefined();
  });

  it("renders in full when two services read one directory (a config-file service naming an app's servers): both print them", async () => {
    const { patch, render } = await rig({ stack: { services: [{ name: 'www', prefix: 'apps/web/containers', routes: ['www.example.com'] }] } });
    const base: KvPair[] = [{ key: '/apps/web/containers/one', value: '10.0.0.1:80' }];
    const after = toSnapshot([...base, { key: '/apps/web/containers/two', value: '10.0.0.2:80' }]);
    expect(render(after).resources[0]!.text.match(/server two /g)).toHaveLength(2);
    expect(patch(toSnapshot(base), after)).toBeUndefined();
  });
});

describe("a config's sections, what a stack patch edits and the file is written from", () => {
  it('join to the text; each after the first starts at a section line; a header is found only there', () => {
    const text =
      '# made by occs-lb\nglobal\n    daemon\n\n# the apps\nbackend web\n    server a 10.0.0.1:80\nbackend web2\n    # backend web\n    server b 10.0.0.2:80';
    const pieces = sectionsOf(text);
    expect(pieces.join('')).toBe(text);
    expect(pieces.map((p) => p.split('\n')[0])).toEqual(['# made by occs-lb', 'global', 'backend web', 'backend web2']);
    expect(joinPieces(pieces)).toBe(text);
    expect(sectionAt(pieces, 'backend web')).toBe(2);
    expect(sectionAt(pieces, 'backend web2')).toBe(3);
    expect(sectionAt(pieces, '# made by occs-lb')).toBe(-1);
    expect(sectionsOf('backend x\n')).toEqual(['backend x\n']);
    expect(sectionAt(sectionsOf('backend x\n'), 'backend x')).toBe(-1);
  });
});
