import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';
import { haproxyControl } from '../../src/haproxy/control.js';
import { masterCommand } from '../../src/haproxy/master-cli.js';
import { reloadViaMasterSocket } from '../../src/haproxy/reload-master.js';
import { toSnapshot } from '../../src/kv/keys.js';
import { DEFAULT_TEMPLATE } from '../../src/paths.js';
import { renderSnapshot } from '../../src/plan/plan.js';
import { DriftKeeper } from '../../src/watch/drift-keeper.js';
import { Executor } from '../../src/watch/executor.js';
import { HaproxyView, installedPaths } from '../../src/watch/haproxy-view.js';
import { RenderingNotes } from '../../src/watch/notes.js';
import { Planner } from '../../src/watch/planner.js';
import { WatchState } from '../../src/watch/state.js';
import { syncOnce } from '../../src/watch/sync.js';
import { compileTemplates } from '../../src/wiring/templates.js';
import { Backend, namesServed } from '../support/backends.js';
import { freePort, HaproxyProcess, waitFor } from '../support/haproxy-process.js';
import { memoryLog } from '../support/memory-log.js';

/*
 * A look at HAProxy (drift-keeper.ts) and a store change, each a step of the executor: a look
 * that finds HAProxy apart from its files reloads it with them, and a runtime change decided
 * before that look must not be applied to the HAProxy it found apart (nor be undone by its
 * reload). Against a real HAProxy (master-worker, reloaded and reached through its master CLI),
 * the real view, planner, executor and drift keeper, in process.
 */
describe('a look and a store change', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function rig() {
    const backends = await Promise.all(['a', 'b'].map((name) => new Backend(name).start()));
    cleanup.push(async () => void (await Promise.all(backends.map((b) => b.stop()))));
    const port = await freePort();
    const haproxy = new HaproxyProcess(port, 'master-worker');
    const flags = { prefix: ['apps/x'], out: haproxy.config, bind: '127.0.0.1', frontendPort: String(port), statsPort: String(await freePort()) };
    const settings = resolveSettings({
      flags: { ...flags, adminSocket: join(haproxy.dir, 'admin.sock'), verifyInterval: '0' },
      env: {},
      cwd: haproxy.dir,
      defaultTemplate: DEFAULT_TEMPLATE,
      readSecret: () => '',
    });
    const templates = await compileTemplates(settings.resources);
    const control = haproxyControl({
      binary: 'haproxy',
      config: haproxy.config,
      reloadTimeoutMs: 20_000,
      strategy: { kind: 'master-socket', socket: haproxy.socket },
    });
    const { log } = memoryLog();
    const state = new WatchState();
    const view = new HaproxyView(control, settings.haproxy.config, { started: false });
    const executor = new Executor({ settings, control, log, view, reloaded: () => (state.counters.reloads += 1) });
    const keeper = new DriftKeeper({ settings: () => settings, view, executor, state, log });
    const planner = new Planner({ settings, templates }, view);
    const parts = { planner, executor, view, notes: new RenderingNotes(log, 'file:kv'), log };
    const rendering = (...names: string[]) =>
      renderSnapshot(settings, templates, toSnapshot(names.map((name) => ({ key: `/apps/x/${name}`, value: backends.find((b) => b.name === name)!.address }))));
    await view.init(installedPaths(settings));
    await syncOnce(parts, rendering('a')); // the first file, before HAProxy runs
    await haproxy.start();
    cleanup.push(() => haproxy.stop());
    view.startedNow();
    return { haproxy, view, executor, keeper, parts, state, rendering, served: async () => [...new Set(await namesServed(port, 12))].sort() };
  }

  it('a runtime change decided before a look found HAProxy apart goes by reload, and HAProxy, its file and the view then have it', async () => {
    const x = await rig();
    // Another tool reloads HAProxy on a config with a backend the installed one does not have.
    const installed = readFileSync(x.haproxy.config, 'utf8');
    x.haproxy.writeConfig(`${installed}\nbackend stray\n`);
    await reloadViaMasterSocket(x.haproxy.socket, async () => void (await masterCommand(x.haproxy.socket, 'reload', 5000)), 20_000);
    x.haproxy.writeConfig(installed);
    // The look starts first; the store change arrives while it reads HAProxy, and is decided before it ends.
    const look = x.keeper.verify();
    const change = syncOnce(x.parts, x.rendering('a', 'b'));
    expect(await look).toBe('reload');
    const outcome = await change;
    await x.executor.settled();
    // The look marked HAProxy apart within its step: the change queued behind it is not applied to that HAProxy, it goes by reload.
    expect(outcome).toMatchObject({ path: 'reload', runtimeFallback: expect.stringContaining('something else than the installed files now') });
    expect(readFileSync(x.haproxy.config, 'utf8')).toContain(`server b `);
    expect(x.view.state.apart).toBeUndefined();
    await waitFor('HAProxy to serve a and b', async () => (await x.served()).join() === 'a,b' || undefined);
    expect(await x.keeper.verify()).toBe('none');
  }, 60_000);
});
