import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { namesServed } from '../support/backends.js';
import { ROOT } from '../support/cli.js';
import { continuousLoad, waitFor } from '../support/haproxy-process.js';
import type { WatchProcess } from '../support/watch-process.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

const rig = useWatchRig();
const { servedBy, metric, workers, config } = rig;
const at = (i: number) => rig.address(i);
const store = { put: (k: string, v: string) => rig.store.put(k, v), delete: (k: string) => rig.store.delete(k) };

async function startWatch(extra: string[] = []): Promise<WatchProcess> {
  const w = rig.startWatch(rig.store.url, extra);
  await w.waitForLog(/^started haproxy/);
  return w;
}

/** A copy of the default template with one more line, driven by the store. */
function templateWith(line: string, after: RegExp): string {
  const template = join(rig.dir, 'haproxy.cfg.ejs');
  const text = readFileSync(join(ROOT, 'templates/haproxy.cfg.ejs'), 'utf8');
  writeFileSync(
    template,
    text.replace(after, (m) => `${m}\n${line}`),
  );
  return template;
}

describe('server changes through the runtime API', () => {
  it('adds, removes and re-addresses servers with no reload: the same worker serves throughout', async () => {
    store.put(`${PREFIX}/one`, at(0));
    const w = await startWatch();
    await servedBy(['a']);
    const before = await workers(w);

    store.put(`${PREFIX}/two`, at(1));
    await servedBy(['a', 'b']);
    store.put(`${PREFIX}/one`, at(2)); // re-addressed: set server addr
    await servedBy(['c', 'b']);
    store.delete(`${PREFIX}/two`);
    await servedBy(['c']);

    expect(await workers(w)).toEqual(before);
    await waitFor('three runtime updates', async () => (await metric('runtime_updates_total')) === 3);
    expect(await metric('reloads_total')).toBe(0);
    expect(w.count(/^applied through the runtime API, no reload/)).toBe(3);
    await waitFor(
      'the file to follow',
      () => readFileSync(config(), 'utf8').includes(`server one ${at(2)} check`) && !readFileSync(config(), 'utf8').includes('server two'),
    );
  });

  it('renders each store change once: the plan that skips the quiescence window is the one carried out', async () => {
    store.put(`${PREFIX}/one`, at(0));
    await startWatch();
    await servedBy(['a']);
    for (const [i, key] of ['two', 'three'].entries()) {
      const renders = await metric('renders_total');
      store.put(`${PREFIX}/${key}`, at(i + 1));
      await waitFor('the change to be applied', async () => (await metric('runtime_updates_total')) === i + 1);
      expect(await metric('renders_total')).toBe(renders + 1);
    }
  });

  it('skips the quiescence window: served long before a 20 s --wait would have allowed', async () => {
    store.put(`${PREFIX}/one`, at(0));
    await startWatch(['--wait', '20s:20s']);
    await servedBy(['a']);
    store.put(`${PREFIX}/two`, at(1));
    await waitFor('the new server, within 10 s', async () => new Set(await namesServed(rig.ports.frontend, 8)).has('b'), 10_000);
    await waitFor('the runtime update to be counted', async () => (await metric('runtime_updates_total')) === 1);
    expect(await metric('reloads_total')).toBe(0);
  });

  it('a change to anything else still goes by a verified reload', async () => {
    const template = templateWith('    timeout server <%= getv("/apps/web/timeout", "30s") %>', /timeout server 30s/);
    store.put(`${PREFIX}/one`, at(0));
    const w = await startWatch(['--template', template, '--prefix', 'apps/web/timeout']);
    await servedBy(['a']);
    const before = await workers(w);
    const from = w.logs.length;
    store.put('apps/web/timeout', '45s');
    await w.waitForLog(/^reloaded: worker/, from);
    expect(await workers(w)).not.toEqual(before);
    expect(readFileSync(config(), 'utf8')).toContain('timeout server 45s');
    await servedBy(['a']);
  });

  it('a runtime command HAProxy refuses: the change is applied by reload, nothing lost', async () => {
    // `cookie` is fine in a config file, but HAProxy 2.6 refuses it for servers added at runtime.
    const template = templateWith('    cookie SRV insert indirect nocache', /balance <%= settings.balance %>/);
    writeFileSync(template, readFileSync(template, 'utf8').replace('<%= s.address %> check', '<%= s.address %> check cookie <%= s.name %>'));
    store.put(`${PREFIX}/one`, at(0));
    const w = await startWatch(['--template', template]);
    await servedBy(['a']);
    const from = w.logs.length;
    store.put(`${PREFIX}/two`, at(1));
    await w.waitForLog(/the runtime API did not take the change .*cookie.*; reloading instead/, from);
    await w.waitForLog(/^reloaded: worker/, from);
    await servedBy(['a', 'b']);
    expect(await metric('runtime_fallbacks_total')).toBe(1);
    expect(readFileSync(config(), 'utf8')).toContain(`server two ${at(1)} check cookie two`);
  });

  it('a runtime change the new file cannot follow is undone by a reload: HAProxy serves what the file says', async () => {
    // A weight over 256 is refused by HAProxy at runtime and by haproxy -c alike.
    const template = join(rig.dir, 'weights.ejs');
    writeFileSync(
      template,
      readFileSync(join(ROOT, 'templates/haproxy.cfg.ejs'), 'utf8').replace(
        '<%= s.address %> check',
        '<%= s.address %> check weight <%= getv("/apps/web/weight/" + s.name, "1") %>',
      ),
    );
    store.put(`${PREFIX}/one`, at(0));
    store.put('apps/web/weight/three', '999');
    const w = await startWatch(['--template', template, '--prefix', 'apps/web/weight']);
    await servedBy(['a']);
    const from = w.logs.length;
    store.put(`${PREFIX}/two`, at(1));
    store.put(`${PREFIX}/three`, at(2));
    await w.waitForLog(/haproxy -c rejected the new config/, from);
    await servedBy(['a', 'b']);
    const file = readFileSync(config(), 'utf8');
    expect(file).toContain(`server two ${at(1)}`);
    expect(file).not.toContain('server three');
    // Whether HAProxy took weight 999 at runtime (then the file's check failed and a reload undid
    // it) or refused it (then the reload path ran into the same check): a reload set it straight.
    expect(w.count(/to undo a runtime change|reloading instead/)).toBeGreaterThanOrEqual(1);
  });

  it('100 server changes under continuous load: 0 failed requests, 0 reloads', async () => {
    store.put(`${PREFIX}/one`, at(0));
    const w = await startWatch();
    await servedBy(['a']);
    const before = await workers(w);
    const load = continuousLoad(rig.ports.frontend, 4);
    for (let i = 0; i < 100; i++) {
      // Alternately add a second server and take it away, moving it between backends.
      if (i % 2 === 0) store.put(`${PREFIX}/moving`, at(1 + ((i / 2) % 3)));
      else store.delete(`${PREFIX}/moving`);
      await waitFor('the change to be applied', async () => (await metric('runtime_updates_total')) === i + 1);
    }
    const stats = await load.stop();
    console.log(`runtime API under load: ${stats.ok} requests answered, ${stats.failed} failed during 100 server changes`);
    expect(stats.errors).toEqual([]);
    expect(stats.ok).toBeGreaterThan(100);
    expect(await metric('reloads_total')).toBe(0);
    expect(await workers(w)).toEqual(before);
  });
});
