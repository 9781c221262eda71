import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HaproxyControl } from '../../src/haproxy/control.js';
import type { RenderedResource } from '../../src/plan/render.js';
import { HaproxyView } from '../../src/watch/haproxy-view.js';
import { makeTempDir } from '../support/temp.js';

const CONFIG = '/etc/haproxy/haproxy.cfg';
const HOSTS = '/etc/haproxy/haproxy.hosts.map';
const control: HaproxyControl = {
  description: 'no HAProxy',
  check: async () => ({ valid: true, messages: [], output: '' }),
  reload: async () => undefined,
  runtime: () => undefined,
  running: async () => undefined,
};
/** A stack rendering: the same config, and a hosts map that holds `routes`. */
const rendered = (routes: string): RenderedResource => ({
  resource: { template: 'stack.cfg.ejs', destination: CONFIG, prefixes: ['apps'], haproxy: true },
  text: 'the config, the same for every route\n',
  diagnostics: { skipped: [], renamed: [] },
  companions: [{ path: HOSTS, text: routes, kind: 'map', entries: [], loaded: true }],
});
const unitsOf = (r: RenderedResource) => [...r.companions!.map((c) => ({ path: c.path, content: c.text })), { path: CONFIG, content: r.text }];

describe('the view of what HAProxy runs', () => {
  it('a runtime change whose file still follows stays what HAProxy runs when an older file with the same config is installed', () => {
    const view = new HaproxyView(control, CONFIG);
    const older = rendered('a.example/ web\n');
    const newer = rendered('a.example/ web\nb.example/ api\n');
    view.runsAhead(older);
    view.runsAhead(newer);
    // The older change's file is installed (its config text is the newer one's too: only the map differs).
    view.filesInstalled(unitsOf(older));
    expect(view.state.installed.get(HOSTS)).toBe(newer.companions![0]!.text);
    view.filesInstalled(unitsOf(newer));
    expect(view.state.installed.get(HOSTS)).toBe(newer.companions![0]!.text);
    expect(view.onDisk.get(HOSTS)).toBe(newer.companions![0]!.text);
  });

  it('tells that HAProxy runs a config once the installed files are read, when watch does not start HAProxy itself (it runs already)', async () => {
    const told: string[] = [];
    const installed = join(makeTempDir(), 'haproxy.cfg');
    // No config installed yet: HAProxy runs none of ours.
    const none = new HaproxyView(control, installed);
    none.whenRunning(() => told.push('none'));
    await none.init([installed]);
    writeFileSync(installed, 'global\n');
    const view = new HaproxyView(control, installed);
    view.whenRunning(() => told.push('running'));
    await view.init([installed]);
    expect(told).toEqual(['running']);
    view.reloaded();
    expect(told).toEqual(['running', 'running']);
    // A supervised HAProxy is told of when watch starts it, not before.
    const supervised = new HaproxyView({ ...control, supervisor: {} as NonNullable<HaproxyControl['supervisor']> }, installed);
    supervised.whenRunning(() => told.push('supervised'));
    await supervised.init([installed]);
    expect(told).toEqual(['running', 'running']);
    supervised.startedNow();
    expect(told).toEqual(['running', 'running', 'supervised']);
  });

  it('hands out one snapshot until something changes, and a new one after', () => {
    const view = new HaproxyView(control, CONFIG);
    const first = view.state;
    expect(view.state).toBe(first);
    view.runsAhead(rendered('x/ web\n'));
    expect(view.state).not.toBe(first);
    expect(view.state.version).toBeGreaterThan(first.version);
  });
});
