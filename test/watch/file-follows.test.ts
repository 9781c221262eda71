import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';
import { checkConfigFile, type CheckResult } from '../../src/haproxy/check.js';
import type { HaproxyControl } from '../../src/haproxy/control.js';
import { masterCommand } from '../../src/haproxy/master-cli.js';
import { reloadViaMasterSocket } from '../../src/haproxy/reload-master.js';
import { runtimeChannel } from '../../src/haproxy/runtime-channel.js';
import { toSnapshot } from '../../src/kv/keys.js';
import { DEFAULT_TEMPLATE } from '../../src/paths.js';
import { decideChange, renderSnapshot } from '../../src/plan/plan.js';
import { Executor } from '../../src/watch/executor.js';
import { FOLLOW_LAG_MS } from '../../src/watch/file-follower.js';
import { HaproxyView, installedPaths } from '../../src/watch/haproxy-view.js';
import { compileTemplates } from '../../src/wiring/templates.js';
import { Backend, namesServed } from '../support/backends.js';
import { freePort, HaproxyProcess, waitFor } from '../support/haproxy-process.js';
import { memoryLog } from '../support/memory-log.js';

/**
 * The file that records a runtime change follows in the background: a change reaches HAProxy
 * without waiting for `haproxy -c` of an earlier file, changes that come during one check are
 * checked as one (the newest), and a file that fails its check sets HAProxy back to the installed
 * file. Against a real HAProxy (master-worker, its admin socket for the runtime API) and real
 * backends; only the check is held, with a gate, to make "during a check" happen on purpose.
 */
describe('the file of a runtime change follows in the background', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  /** `changesDone`: when the store changes after each one are carried out (a burst ends). */
  async function rig(changesDone?: () => Promise<void>) {
    const backends = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((name) => new Backend(name).start()));
    cleanup.push(async () => void (await Promise.all(backends.map((b) => b.stop()))));
    const port = await freePort();
    const haproxy = new HaproxyProcess(port, 'master-worker');
    const settings = resolveSettings({
      flags: {
        prefix: ['apps/x'],
        out: haproxy.config,
        bind: '127.0.0.1',
        frontendPort: String(port),
        statsPort: String(await freePort()),
        adminSocket: join(haproxy.dir, 'admin.sock'),
      },
      env: {},
      cwd: haproxy.dir,
      defaultTemplate: DEFAULT_TEMPLATE,
      readSecret: () => '',
    });
    const templates = await compileTemplates(settings.resources);
    /** The text of each file given to `haproxy -c`, in order. */
    const checked: string[] = [];
    /** Whether each check ran off the serving path (at a lower priority). */
    const background: boolean[] = [];
    let gate: Promise<void> = Promise.resolve();
    let verdict: (text: string) => CheckResult | undefined = () => undefined;
    let reloads = 0;
    let channelGate: Promise<void> = Promise.resolve();
    let channelUsed = false;
    const control: HaproxyControl = {
      description: 'a test HAProxy',
      running: async () => undefined,
      check: async (file, offPath) => {
        const text = readFileSync(file, 'utf8');
        checked.push(text);
        background.push(offPath === true);
        await gate;
        return verdict(text) ?? checkConfigFile('haproxy', file);
      },
      reload: async () => {
        const result = await reloadViaMasterSocket(haproxy.socket, async () => void (await masterCommand(haproxy.socket, 'reload', 5000)), 20_000);
        reloads += 1;
        return { strategy: 'master-socket', ...result, ms: 0 };
      },
      runtime: () => {
        const inner = runtimeChannel('admin', join(haproxy.dir, 'admin.sock'));
        const held = async <T>(f: () => Promise<T>) => {
          channelUsed = true;
          await channelGate;
          return f();
        };
        return {
          description: inner.description,
          send: (c: string) => held(() => inner.send(c)),
          sendPayload: (c: string, p: string, k?: never) => held(() => inner.sendPayload(c, p, k)),
          sendAll: (c: readonly string[]) => held(() => inner.sendAll(c)),
        };
      },
    };
    const failed: unknown[] = [];
    const view = new HaproxyView(control, settings.haproxy.config, { started: false });
    const e = new Executor({ settings, control, log: memoryLog().log, view, reloaded: () => {}, fileFailed: (error) => failed.push(error), changesDone });
    await view.init(installedPaths(settings));
    /** The store holding servers `names` (each at its backend), decided against what HAProxy runs. */
    const plan = (names: string[]) => {
      const snap = toSnapshot(names.map((name) => ({ key: `/apps/x/${name}`, value: backends.find((b) => b.name === name)!.address })));
      return decideChange(settings, view.state, renderSnapshot(settings, templates, snap));
    };
    const apply = (...names: string[]) => e.execute(plan(names));
    await e.execute(plan(['a'])); // the first file, before HAProxy runs
    view.startedNow();
    await haproxy.start();
    cleanup.push(() => haproxy.stop());
    expect(background).toEqual([false]); // the first install is on the serving path: HAProxy waits for it
    checked.length = 0; // from here on: the files of runtime changes
    background.length = 0;
    /** The pid of HAProxy's worker (a reload changes it); the master's CLI may take a moment to come up. */
    const worker = () =>
      waitFor('the master CLI to answer', async () => /^(\d+)\s+worker/m.exec(await masterCommand(haproxy.socket, 'show proc', 5000).catch(() => ''))?.[1]);
    return {
      e,
      apply,
      checked,
      background,
      failed,
      config: haproxy.config,
      reloads: () => reloads,
      worker,
      served: async () => new Set(await namesServed(port, 12)),
      /** Holds every check from now until the returned function is called. */
      hold(): () => void {
        let open!: () => void;
        gate = new Promise<void>((resolve) => (open = resolve));
        return open;
      },
      rejectWhen: (fn: (text: string) => CheckResult | undefined) => (verdict = fn),
      view,
      /** Holds every runtime command from now until the returned function is called. */
      holdChannel(): () => void {
        let open!: () => void;
        channelUsed = false;
        channelGate = new Promise<void>((resolve) => (open = resolve));
        return open;
      },
      channelUsed: () => channelUsed,
    };
  }

  it('a change is served while the check of an earlier file is still running, and changes made meanwhile are checked as one', async () => {
    const x = await rig();
    const worker = await x.worker();
    const open = x.hold();
    expect((await x.apply('a', 'b')).path).toBe('runtime');
    // The check of the file with b is held; c and d still reach HAProxy at once, one after the other.
    expect((await x.apply('a', 'b', 'c')).path).toBe('runtime');
    expect((await x.apply('a', 'b', 'c', 'd')).path).toBe('runtime');
    expect(await x.served()).toEqual(new Set(['a', 'b', 'c', 'd']));
    expect(readFileSync(x.config, 'utf8')).not.toMatch(/server [bcd] /);
    // The file with b is staged (written and synced) before its check starts: on a busy machine, after c and d are served.
    await waitFor('the check of the file with b to start', () => (x.checked.length > 0 ? true : undefined));
    expect(x.checked).toHaveLength(1);
    open();
    await x.e.settled();
    // Two checks in all: the file with b (under way), then only the newest (c's file was never checked).
    expect(x.checked).toHaveLength(2);
    expect(x.checked[1]).toMatch(/server d /);
    // Off the serving path, both checks ran at a lower priority.
    expect(x.background).toEqual([true, true]);
    expect(readFileSync(x.config, 'utf8')).toMatch(/server d 127\.0\.0\.1:\d+ check/);
    expect((await checkConfigFile('haproxy', x.config)).valid).toBe(true);
    expect(x.reloads()).toBe(0);
    expect(await x.worker()).toBe(worker);
  }, 60_000);

  it('during a burst the file waits for the changes after it, then one check of the newest file records them all', async () => {
    let burstEnds!: () => void;
    const burst = new Promise<void>((resolve) => (burstEnds = resolve));
    const x = await rig(() => burst);
    const worker = await x.worker();
    for (const names of [
      ['a', 'b'],
      ['a', 'b', 'c'],
      ['a', 'b', 'c', 'd'],
    ])
      expect((await x.apply(...names)).path).toBe('runtime');
    expect(await x.served()).toEqual(new Set(['a', 'b', 'c', 'd']));
    burstEnds();
    await x.e.settled();
    // Not one check per change while they came (haproxy -c of a large config takes a core from HAProxy): one, of the newest file.
    expect(x.checked).toHaveLength(1);
    expect(x.checked[0]).toMatch(/server d /);
    expect(readFileSync(x.config, 'utf8')).toMatch(/server d 127\.0\.0\.1:\d+ check/);
    expect(x.reloads()).toBe(0);
    expect(await x.worker()).toBe(worker);
  }, 60_000);

  it('a resync during a burst installs the waiting file first, without waiting for the burst to end', async () => {
    const x = await rig(() => new Promise(() => {}));
    expect((await x.apply('a', 'b')).path).toBe('runtime');
    const started = performance.now();
    await x.e.resync();
    // Not after the longest a file waits for a burst.
    expect(performance.now() - started).toBeLessThan(FOLLOW_LAG_MS);
    expect(x.checked).toHaveLength(1);
    expect(readFileSync(x.config, 'utf8')).toMatch(/server b 127\.0\.0\.1:\d+ check/);
  }, 60_000);

  it('a runtime change under way when the file before it fails its check: HAProxy is set back, and its file is not installed (HAProxy no longer runs it)', async () => {
    const x = await rig(() => Promise.resolve());
    x.rejectWhen((text) => (/server e /.test(text) ? { valid: false, messages: [{ level: 'alert', message: 'rejected on purpose' }], output: '' } : undefined));
    const openCheck = x.hold();
    expect((await x.apply('a', 'e')).path).toBe('runtime'); // its file will fail its check
    await waitFor('the check of that file to start', () => (x.checked.length > 0 ? true : undefined));
    const openChannel = x.holdChannel();
    const next = x.apply('a', 'c'); // decided against the first change, its runtime step under way
    await waitFor('the next change to reach the runtime API', () => (x.channelUsed() ? true : undefined));
    openCheck(); // the first file fails while the next change is being applied
    await waitFor('the first file to be found failing', () => (x.view.state.apart ? true : undefined));
    openChannel();
    expect((await next).path).toBe('runtime');
    await x.e.settled();
    expect(x.failed).toHaveLength(1);
    const onDisk = [...readFileSync(x.config, 'utf8').matchAll(/server (\w) 127/g)].map((m) => m[1]).sort();
    // What HAProxy serves is what the installed file (and the view) says: the next sync applies the store again.
    expect({ served: [...(await x.served())].sort(), onDisk, apart: x.view.state.apart }).toEqual({ served: onDisk, onDisk, apart: undefined });
  }, 60_000);

  it('a file that fails its check is not installed, and HAProxy is reloaded with the installed file', async () => {
    const x = await rig();
    await x.apply('a', 'b');
    await x.e.settled();
    const installed = readFileSync(x.config, 'utf8');
    x.rejectWhen((text) => (/server e /.test(text) ? { valid: false, messages: [{ level: 'alert', message: 'rejected on purpose' }], output: '' } : undefined));
    expect((await x.apply('a', 'b', 'e')).path).toBe('runtime');
    expect(await x.served()).toEqual(new Set(['a', 'b', 'e']));
    await x.e.settled();
    expect(x.failed).toHaveLength(1);
    expect(x.reloads()).toBe(1);
    expect(readFileSync(x.config, 'utf8')).toBe(installed);
    // HAProxy serves what the file says again: e is gone.
    await waitFor('HAProxy to serve the installed file', async () => ((await x.served()).has('e') ? undefined : true), 10_000);
    expect(await x.served()).toEqual(new Set(['a', 'b']));
  }, 60_000);
});
