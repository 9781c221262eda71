import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';
import type { HaproxyControl } from '../../src/haproxy/control.js';
import { toSnapshot } from '../../src/kv/keys.js';
import { DEFAULT_TEMPLATE } from '../../src/paths.js';
import { renderSnapshot } from '../../src/plan/plan.js';
import { Executor } from '../../src/watch/executor.js';
import { HaproxyView, installedPaths } from '../../src/watch/haproxy-view.js';
import { RenderingNotes } from '../../src/watch/notes.js';
import { Planner } from '../../src/watch/planner.js';
import { syncOnce } from '../../src/watch/sync.js';
import { compileTemplates } from '../../src/wiring/templates.js';
import { failure } from '../support/failure.js';
import { FakeRuntime } from '../support/fake-runtime.js';
import { serverLines } from '../support/haproxy.js';
import { clearFaults, injectFault } from '../support/install-faults.js';
import { memoryLog } from '../support/memory-log.js';
import { makeTempDir } from '../support/temp.js';

const servers = (...names: string[]) => toSnapshot(names.map((name, i) => ({ key: `/apps/x/${name}`, value: `10.0.0.${i + 1}:80` })));

/**
 * The watch loop's one pass, in process: the real planner, view, executor and installer, files
 * in a temp dir, no HAProxy spawned. Checks always pass; a reload makes the fake runtime API
 * serve what the installed file says, as HAProxy would. `events` is what reached HAProxy, in order.
 */
async function rig() {
  const dir = makeTempDir();
  const out = join(dir, 'haproxy.cfg');
  const settings = resolveSettings({
    flags: { prefix: ['apps/x'], out, bind: '127.0.0.1' },
    env: {},
    cwd: dir,
    defaultTemplate: DEFAULT_TEMPLATE,
    readSecret: () => '',
  });
  const templates = await compileTemplates(settings.resources);
  const runtime = new FakeRuntime();
  const events: string[] = [];
  const { log, lines } = memoryLog();
  const control: HaproxyControl = {
    description: 'a test HAProxy',
    running: async () => true,
    check: async () => (events.push('check'), { valid: true, messages: [], output: '' }),
    reload: async () => {
      events.push('reload');
      const names = serverLines(readFileSync(out, 'utf8')).map((l) => l.split(' ').slice(1, 3).join(' '));
      runtime.load({ nginx_80: names });
      return { strategy: 'command', before: [], after: [], ms: 0 };
    },
    runtime: () => runtime,
  };
  const view = new HaproxyView(control, settings.haproxy.config);
  const failed: unknown[] = [];
  const executor = new Executor({ settings, control, log, view, reloaded: () => {}, fileFailed: (e) => failed.push(e) });
  await view.init(installedPaths(settings));
  const planner = new Planner({ settings, templates }, view);
  const parts = { planner, executor, view, notes: new RenderingNotes(log, 'file:kv'), log };
  const sent = () => runtime.sent.splice(0).map((c) => c.split(' ').slice(0, 2).join(' '));
  const sync = async (snap: ReturnType<typeof servers>, forced = false) => {
    const outcome = await syncOnce(parts, renderSnapshot(settings, templates, snap), forced);
    await executor.settled();
    events.push(...sent().map((c) => `runtime ${c}`));
    return outcome;
  };
  return { out, view, executor, planner, settings, templates, runtime, events, failed, lines, sync };
}

describe('one pass of the watch loop, in process: the order of runtime, file, reload and retry', () => {
  afterEach(() => clearFaults());
  it('a new server goes through the runtime API first, then its file is checked and installed; SIGHUP reloads', async () => {
    const x = await rig();
    expect((await x.sync(servers('a'))).path).toBe('reload');
    // Once HAProxy runs a config, its runtime API is warmed up (its server ids learned) off the serving path.
    expect(x.events.splice(0)).toEqual(['check', 'reload', 'runtime show servers']);
    const outcome = await x.sync(servers('a', 'b'));
    expect(outcome.path).toBe('runtime');
    // Applied and read back before its file was even checked; the file then follows.
    expect(x.runtime.sent).toEqual([]);
    expect(x.events.splice(0)).toEqual(['check', 'runtime add server', 'runtime enable health', 'runtime enable server', 'runtime show servers']);
    expect(readFileSync(x.out, 'utf8')).toContain('server b 10.0.0.2:80');
    expect(x.view.state.installed.get(x.out)).toBe(readFileSync(x.out, 'utf8'));
    // Forced: every file written again (unchanged here, so nothing to check) and HAProxy reloaded.
    expect((await x.sync(servers('a', 'b'), true)).path).toBe('reload');
    expect(x.events.splice(0)).toEqual(['reload', 'runtime show servers']);
  });

  it('HAProxy refuses a runtime command: the view hears it may hold part of the change, and the decision made again reloads', async () => {
    const x = await rig();
    await x.sync(servers('a'));
    x.runtime.refuse = /^add server/;
    const epoch = x.view.state.epoch;
    const outcome = await x.sync(servers('a', 'b'));
    expect(outcome).toMatchObject({ path: 'reload', runtimeFallback: expect.stringContaining('Refused by the test') });
    expect(x.lines.some((l) => l.includes('the runtime API did not take the change'))).toBe(true);
    expect(x.view.state).toMatchObject({ apart: undefined, epoch: epoch + 1 });
    x.runtime.refuse = undefined;
    x.events.length = 0;
    expect((await x.sync(servers('a', 'b', 'c'))).path).toBe('runtime');
  });

  it('a runtime change decided before HAProxy was reloaded is stale: carried out, it is refused and goes by reload', async () => {
    const x = await rig();
    await x.sync(servers('a'));
    const rendering = renderSnapshot(x.settings, x.templates, servers('a', 'b'));
    const stale = x.planner.changeFor(rendering);
    expect(stale.kind).toBe('runtime');
    await x.sync(servers('a'), true); // SIGHUP: a reload
    expect((await failure(x.executor.execute(stale))).message).toContain('reloaded with the installed config meanwhile');
    expect(x.planner.changeFor(rendering).kind).toBe('runtime'); // decided again: against the HAProxy that runs now
  });

  it('HAProxy set back to its files twice at once (a look and a failed change both ask): reloaded once', async () => {
    const x = await rig();
    await x.sync(servers('a'));
    x.events.length = 0;
    x.view.apart('a look found HAProxy apart from its files');
    await Promise.all([x.executor.resync(), x.executor.resync()]);
    expect(x.events).toEqual(['reload']);
    expect(x.view.state.apart).toBeUndefined();
  });

  it('an install that fails holds the runtime API back and reloads HAProxy back to the installed file, until an install succeeds', async () => {
    const x = await rig();
    await x.sync(servers('a'));
    x.events.length = 0;
    // The file of the next runtime change cannot be installed: its file system is full.
    injectFault('full', x.out);
    expect((await x.sync(servers('a', 'b'))).path).toBe('runtime');
    expect(x.failed.map((e) => (e as { code: string }).code)).toEqual(['INSTALL_NO_SPACE']);
    // HAProxy was set back with a reload (the file it has is the one installed before).
    expect(x.events).toContain('reload');
    expect(x.view.state).toMatchObject({ installFailing: true, apart: undefined });
    // While installs fail, a change that could go at runtime goes install-first, by reload.
    expect(x.planner.changeFor(renderSnapshot(x.settings, x.templates, servers('a', 'c')))).toMatchObject({
      kind: 'reload',
      reason: 'an install failed and none succeeded since: the files go first',
    });
    const error = await failure(x.sync(servers('a', 'c')));
    expect(error.code).toBe('INSTALL_NO_SPACE');
    expect(error.policy.retry).toBe(true);
    clearFaults();
    expect((await x.sync(servers('a', 'c'))).path).toBe('reload');
    expect(x.view.state.installFailing).toBe(false);
    expect((await x.sync(servers('a', 'c', 'd'))).path).toBe('runtime');
  });
});
