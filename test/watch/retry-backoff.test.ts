import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';
import { haproxyControl } from '../../src/haproxy/control.js';
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
import { memoryLog } from '../support/memory-log.js';
import { makeTempDir } from '../support/temp.js';

/*
 * A failure that is retried (errors.ts: an HAProxy that does not answer) is retried less and
 * less often, as the watch loop asks the view for the delay after each one. Each retry of a
 * reload installs the files again (a failed reload put the previous ones back): that install
 * is no success of the change, and must not start the backoff over.
 */
describe('the backoff of a reload that keeps failing', () => {
  it('grows from one retry to the next, though each retry installs the files again', async () => {
    const dir = makeTempDir();
    const out = join(dir, 'haproxy.cfg');
    const settings = resolveSettings({
      flags: { prefix: ['apps/x'], out, bind: '127.0.0.1', masterSocket: join(dir, 'master.sock'), runtimeApi: false },
      env: {},
      cwd: dir,
      defaultTemplate: DEFAULT_TEMPLATE,
      readSecret: () => '',
    });
    const templates = await compileTemplates(settings.resources);
    const rendering = (...names: string[]) =>
      renderSnapshot(settings, templates, toSnapshot(names.map((name, i) => ({ key: `/apps/x/${name}`, value: `10.0.0.${i + 1}:80` }))));
    // The config HAProxy ran before it was stopped; its master socket is gone.
    writeFileSync(out, rendering('a').resources[0]!.text);
    const control = haproxyControl({ binary: 'haproxy', config: out, reloadTimeoutMs: 1000, strategy: settings.haproxy.reload });
    const { log } = memoryLog();
    const view = new HaproxyView(control, out);
    await view.init(installedPaths(settings));
    const executor = new Executor({ settings, control, log, view, reloaded: () => {} });
    const parts = { planner: new Planner({ settings, templates }, view), executor, view, notes: new RenderingNotes(log, 'file:kv'), log };
    const delays: number[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const error = await failure(syncOnce(parts, rendering('a', 'b')));
      expect([error.code, error.policy.retry]).toEqual(['HAPROXY_NOT_RUNNING', true]);
      delays.push(view.retryDelay()); // as the watch loop asks, once per failure
    }
    // 1 s, 2 s, 4 s, each drawn between half and all of it.
    expect(delays[1]).toBeGreaterThanOrEqual(1000);
    expect(delays[2]).toBeGreaterThanOrEqual(2000);
  });
});
