import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConfigFile } from '../../src/haproxy/check.js';
import { masterCommand } from '../../src/haproxy/master-cli.js';
import { waitFor } from '../support/haproxy-process.js';
import { ScaleRig } from '../support/scale-rig.js';

const SERVERS = 10_000;

/**
 * One backend of 10,000 servers under a real HAProxy (each at a closed 127.0.0.1 port, checked
 * every 30 s: HAProxy only needs them to exist). Servers are added, moved and removed, one and
 * many at a time; after each change HAProxy's own state is read back, and no reload happened.
 */
describe(`watch with ${SERVERS} servers in one backend`, () => {
  const rig = new ScaleRig({ backends: 1, servers: SERVERS });
  let worker = '';

  /** The pid of HAProxy's current worker: a reload would change it. */
  const currentWorker = async () => /^(\d+)\s+worker/m.exec(await masterCommand(await rig.socket(), 'show proc', 5000))?.[1] ?? '';

  /** Servers in `expected` that HAProxy does not run as asked (undefined: must be gone). */
  const wrong = (running: Awaited<ReturnType<ScaleRig['servers']>>, expected: Map<string, number | undefined>) =>
    [...expected].filter(([name, port]) => {
      const s = running.get(name);
      return port === undefined ? s !== undefined : !(s?.addr === '127.0.0.1' && s.port === port && s.ready);
    });

  /** Makes a store change and waits until HAProxy runs `expected`; it got there through the runtime API, with no reload. */
  async function applied(change: () => void, expected: Map<string, number | undefined>): Promise<void> {
    const from = rig.watch!.logs.length;
    change();
    await waitFor(`HAProxy to run ${expected.size} servers as asked`, async () => wrong(await rig.servers(), expected).length === 0 || undefined, 60_000);
    await rig.watch!.waitForLog(/^applied through the runtime API, no reload/, from, 30_000);
    expect(rig.watch!.logs.slice(from).filter((l) => /^reloaded/.test(l.msg))).toEqual([]);
    expect(await currentWorker()).toBe(worker);
  }

  const name = (i: number) => `s${String(i).padStart(5, '0')}`;

  beforeAll(async () => {
    await rig.start();
    worker = await currentWorker();
  }, 180_000);
  afterAll(() => rig.stop(), 60_000);

  it('starts with every server in HAProxy', async () => {
    const running = await rig.servers();
    expect(running.size).toBe(SERVERS);
    expect([...running.values()].every((s) => s.ready && s.port === rig.port)).toBe(true);
    expect(worker).not.toBe('');
  });

  it('adds one server, then 500 at once, with no reload', async () => {
    await applied(() => rig.store.put(rig.key(20_000), rig.address), new Map([[name(20_000), rig.port]]));
    const many = Array.from({ length: 500 }, (_, i) => 30_000 + i);
    const from = rig.watch!.logs.length;
    for (const i of many) rig.store.put(rig.key(i), rig.address);
    // The store may answer while the writes are still coming: wait until HAProxy has them all.
    await waitFor('500 more servers', async () => (await rig.servers()).size === SERVERS + 501, 60_000);
    const running = await rig.servers();
    expect(many.every((i) => running.get(name(i))?.ready)).toBe(true);
    expect(rig.watch!.logs.slice(from).every((l) => !/^reloaded/.test(l.msg))).toBe(true);
    expect(await currentWorker()).toBe(worker);
  }, 120_000);

  it('moves servers to another address, with no reload', async () => {
    const port = rig.port === 1 ? 2 : rig.port - 1;
    await applied(() => rig.store.put(rig.key(5), `127.0.0.1:${port}`), new Map([[name(5), port]]));
    await applied(() => rig.store.put(rig.key(30_001), `127.0.0.1:${port}`), new Map([[name(30_001), port]]));
    // 200 at once, as one store change: each must be at its new address, the next one untouched.
    const moved = new Map(Array.from({ length: 200 }, (_, i) => [name(1000 + i), port] as [string, number]));
    await applied(() => rig.store.putMany(Array.from({ length: 200 }, (_, i) => [rig.key(1000 + i), `127.0.0.1:${port}`] as const)), moved);
    expect((await rig.servers()).get(name(1200))?.port).toBe(rig.port);
  }, 60_000);

  it('removes servers from the file and from the runtime alike, with no reload', async () => {
    await applied(() => rig.store.delete(rig.key(7)), new Map([[name(7), undefined]]));
    await applied(() => rig.store.delete(rig.key(20_000)), new Map([[name(20_000), undefined]]));
    // 300 at once, as one store change.
    await applied(
      () => rig.store.deleteMany(Array.from({ length: 300 }, (_, i) => rig.key(2000 + i))),
      new Map(Array.from({ length: 300 }, (_, i) => [name(2000 + i), undefined])),
    );
    expect((await rig.servers()).size).toBe(SERVERS + 501 - 302);
  }, 60_000);

  it('the installed file follows: it records every change, passes haproxy -c, and no reload ever happened', async () => {
    const port = rig.port === 1 ? 2 : rig.port - 1;
    await waitFor('the file to record the last change', () => !readFileSync(rig.config, 'utf8').includes(`server ${name(2299)} `), 60_000);
    const text = readFileSync(rig.config, 'utf8');
    expect(text).toContain(`server ${name(5)} 127.0.0.1:${port} check`);
    expect(text).toContain(`server ${name(30_499)} 127.0.0.1:${rig.port} check`);
    expect(text).not.toContain(`server ${name(7)} `);
    expect(text).not.toContain(`server ${name(2299)} `);
    expect(text).toContain(`server ${name(1199)} 127.0.0.1:${port} check`);
    expect(text.match(/^\s*server /gm)).toHaveLength(SERVERS + 501 - 302);
    expect((await checkConfigFile('haproxy', rig.config)).valid).toBe(true);
    expect(await rig.metric('reloads_total')).toBe(0);
    expect(await rig.metric('runtime_fallbacks_total')).toBe(0);
  }, 90_000);
});
