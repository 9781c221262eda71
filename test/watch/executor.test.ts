import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';
import { reloadError } from '../../src/errors.js';
import { checkConfigFile } from '../../src/haproxy/check.js';
import type { HaproxyControl } from '../../src/haproxy/control.js';
import { toSnapshot } from '../../src/kv/keys.js';
import { DEFAULT_TEMPLATE } from '../../src/paths.js';
import { renderSnapshot } from '../../src/plan/plan.js';
import { Executor } from '../../src/watch/executor.js';
import { HaproxyView, installedPaths } from '../../src/watch/haproxy-view.js';
import { Planner } from '../../src/watch/planner.js';
import { syncOnce } from '../../src/watch/sync.js';
import { RenderingNotes } from '../../src/watch/notes.js';
import { compileTemplates } from '../../src/wiring/templates.js';
import { failure } from '../support/failure.js';
import { aftermath, clearFaults, contents, failedPart, injectFault, INSTALL_FAULTS, leftovers } from '../support/install-faults.js';
import { memoryLog } from '../support/memory-log.js';
import { makeTempDir } from '../support/temp.js';

const snapshot = (...names: string[]) => toSnapshot(names.map((name, i) => ({ key: `/apps/x/${name}`, value: `10.0.0.${i + 1}:80` })));

/** An executor over a temp dir, checking with the real haproxy -c; `reload` is what a reload does. */
async function executor(extraFlags: Record<string, string> = {}) {
  const dir = makeTempDir();
  const out = join(dir, 'haproxy.cfg');
  const settings = resolveSettings({
    flags: { ...(extraFlags.stack ? {} : { prefix: ['apps/x'] }), out, bind: '127.0.0.1', ...extraFlags },
    env: {},
    cwd: dir,
    defaultTemplate: DEFAULT_TEMPLATE,
    readSecret: () => '',
  });
  const { log, lines } = memoryLog();
  const templates = await compileTemplates(settings.resources);
  let reload = async (): Promise<void> => {};
  let reloads = 0;
  const control: HaproxyControl = {
    description: 'a test HAProxy',
    running: async () => undefined,
    check: (file) => checkConfigFile('haproxy', file),
    reload: async () => {
      await reload();
      reloads += 1;
      return { strategy: 'command', before: [], after: [], ms: 0 };
    },
    runtime: () => undefined,
  };
  const view = new HaproxyView(control, settings.haproxy.config);
  const e = new Executor({ settings, control, log, view, reloaded: () => {} });
  await view.init(installedPaths(settings));
  const planner = new Planner({ settings, templates }, view);
  /** The watch loop's one pass over `snap`: decided against what HAProxy runs and carried out (`forced`: SIGHUP). */
  const apply = (snap: ReturnType<typeof snapshot>, forced?: string) =>
    syncOnce({ planner, executor: e, view, notes: new RenderingNotes(log, 'file:kv'), log }, renderSnapshot(settings, templates, snap), forced !== undefined);
  return {
    e,
    view,
    out,
    dir,
    lines,
    log,
    settings,
    templates,
    apply,
    reloads: () => reloads,
    onReload: (fn: () => Promise<void>) => (reload = fn),
  };
}

describe('Executor (the install half of watch)', () => {
  it('installs a change, skips an identical render, and reloads only when the config changed', async () => {
    const x = await executor();
    expect((await x.apply(snapshot('one'))).installed).toEqual([x.out]);
    expect((await x.apply(snapshot('one'))).installed).toEqual([]);
    expect(x.reloads()).toBe(1);
    await x.apply(snapshot('one'), 'asked for');
    expect(x.reloads()).toBe(2);
    expect(readFileSync(x.out, 'utf8')).toContain('server one 10.0.0.1:80 check');
  });

  it('puts the previous file back when the reload fails', async () => {
    const x = await executor();
    await x.apply(snapshot('one'));
    const good = readFileSync(x.out, 'utf8');
    x.onReload(async () => {
      expect(readFileSync(x.out, 'utf8')).toContain('server two');
      throw reloadError('RELOAD_REJECTED', 'HAProxy rejected the reload');
    });
    const error = await failure(x.apply(snapshot('one', 'two')));
    expect(error.code).toBe('RELOAD_REJECTED');
    expect(readFileSync(x.out, 'utf8')).toBe(good);
    expect(readdirSync(x.dir)).toEqual(['haproxy.cfg']);
    // The next change is tried afresh.
    x.onReload(async () => {});
    expect((await x.apply(snapshot('one', 'two'))).installed).toEqual([x.out]);
  });

  it('stack mode: puts the previous map files back too when the reload fails', async () => {
    const x = await executor({ stack: 'apps' });
    const routed = (route: string) =>
      toSnapshot([
        { key: '/apps/web/containers/w1', value: '10.0.0.1:80' },
        { key: '/lb/routes/web', value: route },
      ]);
    await x.apply(routed('one.example.com'));
    const hosts = join(x.dir, 'haproxy.hosts.map');
    const good = readFileSync(hosts, 'utf8');
    x.onReload(async () => {
      expect(readFileSync(hosts, 'utf8')).toContain('two.example.com/ web');
      throw reloadError('RELOAD_REJECTED', 'HAProxy rejected the reload');
    });
    expect((await failure(x.apply(routed('two.example.com')))).code).toBe('RELOAD_REJECTED');
    expect(readFileSync(hosts, 'utf8')).toBe(good);
  });

  it('--min-servers refuses a thin answer and leaves the file alone', async () => {
    const x = await executor({ minServers: '2' });
    await x.apply(snapshot('one', 'two'));
    const good = readFileSync(x.out, 'utf8');
    const error = await failure(x.apply(snapshot('one')));
    expect(error.code).toBe('MIN_SERVERS');
    expect(readFileSync(x.out, 'utf8')).toBe(good);
  });

  it('tells skipped entries once per change of the set, not on every render', async () => {
    const x = await executor();
    const bad = toSnapshot([
      { key: '/apps/x/bad', value: '10.0.0.1:80 backup' },
      { key: '/apps/x/ok', value: '10.0.0.2:80' },
    ]);
    const notes = new RenderingNotes(x.log, 'file:kv');
    notes.entriesOf(renderSnapshot(x.settings, x.templates, bad));
    notes.entriesOf(renderSnapshot(x.settings, x.templates, bad));
    expect(x.lines.filter((l) => l.includes('skipped /apps/x/bad'))).toHaveLength(1);
  });
});

describe('Executor in stack mode: a file of a change that cannot be installed (issue 20)', () => {
  afterEach(() => clearFaults());
  const first = toSnapshot([
    { key: '/apps/web/containers/w1', value: '10.0.0.1:80' },
    { key: '/lb/routes/web', value: 'www.example.com /status' },
  ]);
  // Differs from the first in all three files.
  const second = toSnapshot([
    { key: '/apps/web/containers/w1', value: '10.0.0.1:80' },
    { key: '/apps/api/containers/a1', value: '10.0.0.3:80' },
    { key: '/lb/routes/web', value: 'www.example.com shop.example.com' },
    { key: '/lb/routes/api', value: 'api.example.com /api' },
  ]);
  const NAMES = ['haproxy.hosts.map', 'haproxy.paths.map', 'haproxy.cfg'];

  describe.each(INSTALL_FAULTS)('$fault', ({ fault, code, errno }) => {
    it.each(NAMES)(`at %s: ${code} naming that file, every file and what watch plans against as they were, no reload; installed once cleared`, async (name) => {
      const x = await executor({ stack: 'apps' });
      const files = NAMES.map((n) => join(x.dir, n));
      await x.apply(first);
      const installed = new Map(x.view.state.installed);
      const failing = join(x.dir, name);
      injectFault(fault, failing);
      const before = contents(files);

      const error = await failure(x.apply(second));
      expect(error.code).toBe(code);
      const what = failedPart(error.message, errno);
      expect(what).toMatch(new RegExp(`^cannot install ${failing}: .* \\(${errno}\\)$`));
      for (const other of files.filter((f) => f !== failing)) expect(what).not.toContain(other);
      expect(error.message.slice(what.length)).toBe(`; ${aftermath(fault, files, NAMES.indexOf(name))}`);
      expect(contents(files)).toEqual(before);
      expect(leftovers(files)).toEqual([]);
      expect(x.view.state.installed).toEqual(installed);
      expect(x.reloads()).toBe(1);

      clearFaults();
      expect((await x.apply(second)).installed).toEqual(files);
      expect(readFileSync(join(x.dir, 'haproxy.cfg'), 'utf8')).toContain('server a1 10.0.0.3:80');
      expect(readFileSync(join(x.dir, 'haproxy.paths.map'), 'utf8')).toContain('/api api');
      expect(x.reloads()).toBe(2);
    });
  });
});
