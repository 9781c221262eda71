import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveSettings, type Settings } from '../../src/config/settings.js';
import { toSnapshot } from '../../src/kv/keys.js';
import type { KvPair } from '../../src/kv/source.js';
import { DEFAULT_TEMPLATE } from '../../src/paths.js';
import { decideChange, refusalOf, renderSnapshot, type Change, type Rendering } from '../../src/plan/plan.js';
import { emptyPrefixLine } from '../../src/plan/rules.js';
import { compileTemplates } from '../../src/wiring/templates.js';
import { haproxyState } from '../support/haproxy-state.js';
import { makeTempDir } from '../support/temp.js';

const OUT = '/etc/haproxy/haproxy.cfg';
const servers = (...addresses: string[]): KvPair[] => addresses.map((a, i) => ({ key: `/apps/x/s${i + 1}`, value: a }));

async function planner(flags: Record<string, unknown> = {}, template = DEFAULT_TEMPLATE) {
  const settings = resolveSettings({ flags: { prefix: ['apps/x'], out: OUT, ...flags }, env: {}, cwd: '/', defaultTemplate: template, readSecret: () => '' });
  const templates = await compileTemplates(settings.resources);
  return {
    settings,
    render: (...pairs: KvPair[]) => renderSnapshot(settings, templates, toSnapshot(pairs)),
    /** The change from the installed rendering `from` (undefined: nothing installed) to `to`. */
    change: (from: Rendering | undefined, to: Rendering, options: { force?: string; runtime?: boolean } = {}): Change =>
      decideChange(settings, haproxyState(new Map([[OUT, from?.resources[0]!.text]]), { runtime: options.runtime ?? true, apart: options.force }), to),
  };
}

describe('the planner: one rendering, the rules, one decision', () => {
  let p: Awaited<ReturnType<typeof planner>>;
  beforeAll(async () => {
    p = await planner();
  });

  it('renders the servers and counts them per backend', () => {
    const r = p.render(...servers('10.0.0.1:80', '10.0.0.2:80'));
    expect(r.backends).toEqual({ nginx_80: 2 });
    expect(r.resources[0]!.text).toContain('server s2 10.0.0.2:80 check');
    expect([r.skipped, r.renamed, r.emptyPrefixes, r.shortfalls, r.strict]).toEqual([[], [], [], [], undefined]);
  });

  it('nothing changed: none; a forced run writes every file again and reloads anyway, saying why', () => {
    const r = p.render(...servers('10.0.0.1:80'));
    expect(p.change(r, r)).toEqual({ kind: 'none' });
    expect(p.change(r, r, { force: 'asked for (SIGHUP)' })).toMatchObject({ kind: 'reload', reason: 'asked for (SIGHUP)', files: r.resources });
  });

  it('servers added or moved: runtime, and cheap enough to skip the quiescence window', () => {
    const before = p.render(...servers('10.0.0.1:80'));
    const added = p.change(before, p.render(...servers('10.0.0.1:80', '10.0.0.2:80')));
    expect(added).toMatchObject({ kind: 'runtime', immediate: true, backends: [{ backend: 'nginx_80', added: [{ name: 's2' }], removed: [], moved: [] }] });
    const moved = p.change(before, p.render(...servers('10.0.0.9:80')));
    expect(moved).toMatchObject({ kind: 'runtime', immediate: true, backends: [{ moved: [{ to: { host: '10.0.0.9' } }] }] });
  });

  it('a server removed: runtime, but it waits out the quiescence window (its sessions are cut)', () => {
    const before = p.render(...servers('10.0.0.1:80', '10.0.0.2:80'));
    expect(p.change(before, p.render(...servers('10.0.0.1:80')))).toMatchObject({
      kind: 'runtime',
      immediate: false,
      backends: [{ removed: [{ name: 's2' }] }],
    });
  });

  it('the runtime API off, or nothing installed yet: a reload, with the reason', () => {
    const before = p.render(...servers('10.0.0.1:80'));
    const after = p.render(...servers('10.0.0.1:80', '10.0.0.2:80'));
    expect(p.change(before, after, { runtime: false })).toMatchObject({ kind: 'reload', reason: 'the runtime API is not used' });
    expect(p.change(undefined, after)).toMatchObject({ kind: 'reload', reason: 'sections were added, removed, renamed or re-parented' });
  });

  it('a changed directive needs a reload; a non-dynamic balance too', async () => {
    const dir = makeTempDir();
    const template = join(dir, 't.ejs');
    writeFileSync(
      template,
      '<% const t = getv("/apps/x/timeout", "30s"); -%>defaults\n    timeout client <%= t %>\nbackend b\n    balance source\n<% for (const s of servers()) { -%>\n    server <%= s.name %> <%= s.address %>\n<% } -%>\n',
    );
    const q = await planner({}, template);
    const base = q.render(...servers('10.0.0.1:80'));
    const timeout = q.render(...servers('10.0.0.1:80'), { key: '/apps/x/timeout', value: '45s' });
    expect(q.change(base, timeout)).toMatchObject({ kind: 'reload', reason: 'defaults : a directive changed' });
    expect(q.change(base, q.render(...servers('10.0.0.1:80', '10.0.0.2:80')))).toMatchObject({
      kind: 'reload',
      reason: expect.stringContaining('balance source does not take servers at runtime'),
    });
  });

  it('--strict refuses an answer with a skipped entry, worded once for every command', async () => {
    const strict = await planner({ strict: true });
    const r = strict.render(...servers('10.0.0.1:80', 'not-an-address'));
    expect(r.skipped).toEqual([{ key: '/apps/x/s2', reason: 'missing ":port"' }]);
    expect(refusalOf(r)).toMatchObject({ code: 'ENTRIES_REJECTED', exitCode: 5, message: '1 key/value entry was rejected (--strict)' });
    // Without --strict: skipped, not refused.
    expect(refusalOf(p.render(...servers('10.0.0.1:80', 'not-an-address')))).toBeUndefined();
  });

  it('--min-servers refuses an answer that leaves a backend thinner, naming it', async () => {
    const min = await planner({ minServers: '2' });
    const r = min.render(...servers('10.0.0.1:80'));
    expect(r.shortfalls).toEqual([{ backend: 'nginx_80', servers: 1, min: 2 }]);
    expect(refusalOf(r)).toMatchObject({
      code: 'MIN_SERVERS',
      message: "refused the store's answer: backend nginx_80 would have 1 server, fewer than --min-servers 2",
    });
    expect(refusalOf(min.render(...servers('10.0.0.1:80', '10.0.0.2:80')))).toBeUndefined();
  });

  it('a prefix that holds no keys is found, with the directory the user probably meant', () => {
    const r = p.render({ key: '/apps/xy/one', value: '10.0.0.1:80' });
    expect(r.emptyPrefixes).toEqual([{ prefix: 'apps/x', near: 'apps/xy' }]);
    expect(r.backends).toEqual({ nginx_80: 0 });
    expect(emptyPrefixLine('file:kv', r.emptyPrefixes[0]!)).toBe(
      'prefix "apps/x" holds no keys at file:kv: a backend it fills has no servers (did you mean "apps/xy"?)',
    );
  });

  it('is pure: the same inputs give the same plan', () => {
    const settings: Readonly<Settings> = p.settings;
    const before = p.render(...servers('10.0.0.1:80'));
    const after = p.render(...servers('10.0.0.1:80', '10.0.0.2:80'));
    expect(p.change(before, after)).toEqual(p.change(before, after));
    expect(settings).toBe(p.settings);
  });
});
