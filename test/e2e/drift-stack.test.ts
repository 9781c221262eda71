import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeChannel } from '../../src/haproxy/runtime-channel.js';
import { waitFor } from '../support/haproxy-process.js';
import { useStackRig } from '../support/stack-rig.js';

/* Stack mode's routes edited by hand on the admin socket: watch puts the map entries back within one --verify-interval, with no reload. */

const stack = useStackRig();
const { rig } = stack;
const hosts = () => join(rig.dir, 'haproxy.hosts.map');
const operator = (...commands: string[]) => runtimeChannel('admin', join(rig.dir, 'admin.sock')).sendAll(commands);

describe('HAProxy that heals from drift: map entries (--verify-interval)', () => {
  it('a route changed, deleted or added by hand on the socket is set back', async () => {
    rig.store.put('apps/web/containers/w1', rig.address(0));
    rig.store.put('apps/api/containers/a1', rig.address(1));
    rig.store.put('lb/routes/web', 'www.example.test');
    rig.store.put('lb/routes/api', 'api.example.test');
    const w = await stack.start(rig.store.url, ['--verify-interval', '1s']);
    await stack.servedAs('api.example.test', '/', ['b']);
    const worker = await rig.workers(w);
    const before = await stack.map('hosts');
    // What the operator does is not looked at before watch undoes it: a look comes at most 1 s later.

    await operator(`set map ${hosts()} api.example.test/ web`);
    await w.waitForLog(
      /HAProxy drifted from the installed config \(1 difference: .*haproxy\.hosts\.map: 1 entry differs \(api\.example\.test\/\)\); set right/,
    );
    await stack.servedAs('api.example.test', '/', ['b']);

    await operator(`del map ${hosts()} www.example.test/`, `add map ${hosts()} shop.example.test/ api`);
    await stack.servedAs('shop.example.test', '/', []);
    await stack.servedAs('www.example.test', '/', ['a']);
    expect(await stack.map('hosts')).toEqual(before);

    await waitFor('both corrections to be counted', async () => (await rig.metric('drift_corrections_total{how="runtime"}')) >= 2);
    expect(await rig.workers(w)).toEqual(worker);
    expect(await rig.metric('reloads_total')).toBe(0);
  });
});
