import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';
import { waitFor } from '../support/haproxy-process.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

const rig = useWatchRig();

/**
 * A template copied from the shipped one keeps its declaration that server lines may be
 * patched; this one breaks it (its maxconn counts the servers). watch patches a change, then
 * finds out once the store is quiet: it says so, renders that template in full from then on,
 * and applies the full render.
 */
describe('a template whose declaration of patchable server lines is wrong', () => {
  it('is found out by the full render after a quiet second: told as an error, rendered in full from then on, HAProxy set right', async () => {
    const template = join(rig.dir, 'counting.cfg.ejs');
    const shipped = readFileSync(join(ROOT, 'templates/haproxy.cfg.ejs'), 'utf8');
    writeFileSync(template, shipped.replace('    maxconn 4096', '    maxconn <%= 1000 + servers().length %>'));
    rig.store.put(`${PREFIX}/one`, rig.address(0));
    const w = rig.startWatch(rig.store.url, ['--template', template]);
    await w.waitForLog(/^started haproxy/);
    await rig.servedBy(['a']);
    const from = w.logs.length;

    rig.store.put(`${PREFIX}/two`, rig.address(1));
    await rig.servedBy(['a', 'b']);
    expect(await rig.metric('renders_patched_total')).toBe(1);
    const told = await w.waitForLog(/declares "occs-lb: one server line per servers\(\) entry", but its full render differs/, from, 10_000);
    expect(told.level).toBe('error');
    await waitFor('the full render installed', () => readFileSync(rig.config(), 'utf8').includes('maxconn 1002'), 10_000);
    await w.waitForLog(/^reloaded: /, from, 10_000);

    rig.store.put(`${PREFIX}/three`, rig.address(2));
    await rig.servedBy(['a', 'b', 'c']);
    await waitFor('the third server in the file', () => readFileSync(rig.config(), 'utf8').includes('maxconn 1003'), 10_000);
    expect(await rig.metric('renders_patched_total')).toBe(1);
  });
});
