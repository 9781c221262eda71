import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { EtcdServer } from '../support/etcd-server.js';
import { waitFor } from '../support/haproxy-process.js';
import { SCALE_PREFIX, ScaleRig } from '../support/scale-rig.js';
import { localHaproxyArgs } from '../support/watch-args.js';

const SERVERS = 2000;

/**
 * A change of a few servers is patched into the last rendering (src/plan/patch.ts), not rendered
 * over every server (issue 24). Here a real etcd and a real HAProxy with 2,000 servers: each
 * change reaches HAProxy through the runtime API, and the file that follows is what a full
 * `occs-lb render` of the same store gives, byte for byte.
 */
describe(`server changes at ${SERVERS} servers, patched`, () => {
  const rig = new ScaleRig({ backends: 1, servers: SERVERS }, [], undefined, { store: new EtcdServer() });

  beforeAll(() => rig.start(), 180_000);
  afterAll(() => rig.stop(), 60_000);

  it('adds, removes and moves servers through the runtime API with patched renders; the file equals a full render', async () => {
    const [patched, reloads] = [await rig.metric('renders_patched_total'), await rig.metric('reloads_total')];
    const added = `s${SERVERS}`;
    await rig.store.put(`${SCALE_PREFIX}/containers/${added}`, rig.address);
    await waitFor('the added server in HAProxy', async () => (await rig.servers()).has(added), 20_000);
    await rig.store.delete(rig.key(5));
    await waitFor('the removed server gone from HAProxy', async () => !(await rig.servers()).has('s00005'), 20_000);
    await rig.store.put(rig.key(7), '127.0.0.1:1');
    await waitFor('the moved server at its new port', async () => (await rig.servers()).get('s00007')?.port === 1, 20_000);

    expect((await rig.metric('renders_patched_total')) - patched).toBeGreaterThanOrEqual(3);
    expect(await rig.metric('reloads_total')).toBe(reloads);
    const args = ['--kv', rig.store.url, '--prefix', `${SCALE_PREFIX}/containers`, '--template', join(rig.dir, 'scale.cfg.ejs')];
    const full = await runCli(['render', ...args, ...localHaproxyArgs(rig.ports, rig.dir)]);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toContain(`server ${added} `);
    await waitFor('the file of the last change installed', () => readFileSync(rig.config, 'utf8') === full.stdout, 20_000);
  }, 120_000);
});

/** The same in stack mode: a server, a weight and a state change in one app of a stack, patched into the last config. */
describe('server, weight and state changes in a stack of 6 apps × 50 servers, patched', () => {
  const rig = new ScaleRig({ backends: 6, servers: 50 }, [], undefined, { store: new EtcdServer() });

  beforeAll(() => rig.start(), 180_000);
  afterAll(() => rig.stop(), 60_000);

  it('goes through the runtime API with patched renders; the file equals a full render', async () => {
    const [patched, reloads] = [await rig.metric('renders_patched_total'), await rig.metric('reloads_total')];
    const app = rig.backend(2);
    await rig.store.put(rig.key(77, 2), rig.address);
    await waitFor('the added server in HAProxy', async () => (await rig.servers(app)).has('s00077'), 20_000);
    await rig.store.delete(rig.key(3, 2));
    await waitFor('the removed server gone', async () => !(await rig.servers(app)).has('s00003'), 20_000);
    await rig.store.put(`lb/weights/${app}/s00004`, '7');
    await rig.store.put(`lb/state/${app}/s00005`, 'maint');
    await waitFor('the server in maintenance', async () => (await rig.servers(app)).get('s00005')?.ready === false, 20_000);

    expect((await rig.metric('renders_patched_total')) - patched).toBeGreaterThanOrEqual(3);
    expect(await rig.metric('reloads_total')).toBe(reloads);
    const out = join(rig.dir, 'full', 'haproxy.cfg');
    mkdirSync(dirname(out));
    const args = ['--kv', rig.store.url, '--stack', SCALE_PREFIX, '--template', join(rig.dir, 'scale.cfg.ejs'), '--out', out];
    const full = await runCli(['render', ...args, ...localHaproxyArgs(rig.ports, rig.dir)]);
    expect(full.code, full.stderr).toBe(0);
    // The map files are named after the config, beside it: the one difference a full render elsewhere has.
    const expected = readFileSync(out, 'utf8').replaceAll(`${rig.dir}/full/`, `${rig.dir}/`);
    expect(expected).toContain('server s00004 ');
    await waitFor('the file of the last change installed', () => readFileSync(rig.config, 'utf8') === expected, 20_000);
  }, 120_000);
});
