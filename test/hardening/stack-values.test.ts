import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { waitFor } from '../support/haproxy-process.js';
import { useStackRig } from '../support/stack-rig.js';

const stack = useStackRig();
const { rig } = stack;

/** Route values with no route in them that may pass: each tries to reach the config, a map or the runtime API as something else. */
const HOSTILE_ROUTES: Array<[string, string]> = [
  ['lb/routes/api', 'evil.test/;del evil.test:80 *.evil.test evil.test/a?b=1 ex\u00e4mple.test evil\u202e.test'],
  ['lb/routes/admin', `evil.test/"x\\ ${'x'.repeat(64)}.test evil.test/\u0000 /a#b`],
  ['lb/routes/ghost', 'ghost.test/;del'], // no such app, and no route either
];
const HOSTILE_WEIGHTS = ['1e2', '-1', '257', '10 check', '10\nserver evil 10.0.0.1:80', '0x10', ''];
const HOSTILE_STATES = ['up', 'MAINT', 'drain;', 'maint\n', 'ready check', ''];

const files = () => ['haproxy.cfg', 'haproxy.hosts.map', 'haproxy.paths.map'].map((f) => readFileSync(join(rig.dir, f), 'utf8'));

describe('stack mode with hostile routes, weights and states', () => {
  it('skips each with a warning naming its key: the config, the maps and HAProxy stay as they were', async () => {
    rig.store.putMany([
      ['apps/web/containers/w1', rig.address(0)],
      ['apps/api/containers/a1', rig.address(1)],
      ['apps/admin/containers/m1', rig.address(2)],
      ['lb/routes/web', 'www.example.test'],
    ]);
    const w = await stack.start(rig.store.url);
    await stack.servedAs('www.example.test', '/', ['a']);
    await waitFor('the first files', () => files().every(Boolean));
    const before = files();
    const routes = await stack.map('hosts');

    rig.store.putMany([
      ...HOSTILE_ROUTES,
      ...HOSTILE_WEIGHTS.map((v, i) => [`lb/weights/web/w${i === 0 ? 1 : `x${i}`}`, v] as const),
      ...HOSTILE_STATES.map((v, i) => [`lb/state/web/w${i === 0 ? 1 : `x${i}`}`, v] as const),
      ['lb/weights/web/w1/deeper', '10'],
      ['lb/other', 'x'],
    ]);
    const keys = [
      ...HOSTILE_ROUTES.map(([k]) => k),
      ...HOSTILE_WEIGHTS.map((_, i) => `lb/weights/web/w${i === 0 ? 1 : `x${i}`}`),
      ...HOSTILE_STATES.map((_, i) => `lb/state/web/w${i === 0 ? 1 : `x${i}`}`),
      'lb/weights/web/w1/deeper',
      'lb/other',
    ];
    for (const key of keys) await w.waitForLog(new RegExp(`^skipped /${key.replace(/\//g, '\\/')}: `));

    expect(files()).toEqual(before);
    expect(await stack.map('hosts')).toEqual(routes);
    expect(await stack.map('paths')).toEqual([]);
    expect(await stack.servers('web')).toEqual({ w1: { weight: 100, maint: false } });
    await stack.servedAs('www.example.test', '/', ['a']);
    await stack.servedAs('evil.test', '/', []);
    expect(await rig.metric('reloads_total')).toBe(0);
    expect(await rig.metric('runtime_updates_total')).toBe(0);
    // Named in the warnings escaped, never as a line of their own.
    expect(rig.watch!.raw).not.toMatch(/^server evil/m);

    // --strict refuses the same answer outright, every key named (exit 5), and writes nothing.
    const strict = await runCli(['render', '--kv', rig.store.url, '--stack', 'apps', '--strict', '--out', join(rig.dir, 'strict.cfg')]);
    expect(strict.code).toBe(5);
    for (const key of keys) expect(strict.stderr).toContain(`/${key}`);
    expect(() => readFileSync(join(rig.dir, 'strict.cfg'))).toThrow();
  });
});

describe('stack mode when the store loses the apps', () => {
  it('--min-servers 1 refuses an answer whose routed app has no server, or that has no app: the stack stays served, same worker', async () => {
    rig.store.putMany([
      ['apps/web/containers/w1', rig.address(0)],
      ['apps/api/containers/a1', rig.address(1)],
      ['lb/routes/web', 'www.example.test'],
      ['lb/routes/api', 'api.example.test'],
    ]);
    const w = await stack.start(rig.store.url, ['--min-servers', '1']);
    await stack.servedAs('api.example.test', '/', ['b']);
    const [workers, before] = [await rig.workers(w), files()];

    let logged = w.logs.length;
    rig.store.delete('apps/api', true);
    await w.waitForLog(/^refused the store's answer: backend api would have 0 servers, fewer than --min-servers 1/, logged);
    logged = w.logs.length;
    rig.store.delete('apps', true);
    await w.waitForLog(
      /^refused the store's answer: backend api would have 0 servers, backend web would have 0 servers, backend apps\/\* would have 0 servers/,
      logged,
    );

    await stack.servedAs('www.example.test', '/', ['a']);
    await stack.servedAs('api.example.test', '/', ['b']);
    expect(files()).toEqual(before);
    expect(await rig.workers(w)).toEqual(workers);
    expect(await rig.metric('refused_total')).toBe(2);
  });
});

describe('stack routing against hostile requests', () => {
  it('a Host that is no name cannot pose as a route path; an app with no server leaves its routes to 404, never to a shorter route', async () => {
    rig.store.putMany([
      ['apps/web/containers/w1', rig.address(0)],
      ['apps/api/containers/a1', rig.address(1)],
      ['apps/admin/containers/m1', rig.address(2)],
      ['lb/routes/web', 'example.com'],
      ['lb/routes/api', 'api.example.com example.com/api'],
      ['lb/routes/admin', 'example.com/admin/'],
    ]);
    await stack.start(rig.store.url);
    await stack.servedAs('example.com', '/admin/x', ['c']);
    await stack.servedAs('EXAMPLE.com:8080', '/api/x', ['b']);
    // A "/" in Host would otherwise make example.com/admin/ + /etc/secret a match for admin's route.
    await stack.servedAs('example.com/admin/', '/etc/secret', []);
    await stack.servedAs('example.com/api', '/x', []);
    // A comma list is no host: HAProxy must not route by one element while the app sees the other.
    await stack.servedAs('example.com, api.example.com', '/', []);
    await stack.servedAs('[::1]:80', '/', []);

    // api's last server goes: its routes answer 404; web's shorter example.com/ never takes /api.
    rig.store.delete('apps/api', true);
    await stack.servedAs('example.com', '/api/secret', []);
    await stack.servedAs('api.example.com', '/', []);
    await stack.servedAs('example.com', '/', ['a']);
    expect(await stack.map('hosts')).toContain('example.com/api occs_lb_no_route');
    rig.store.put('apps/api/containers/a1', rig.address(1));
    await stack.servedAs('example.com', '/api/secret', ['b']);
  });
});

describe('stack mode with names longer than HAProxy takes back', () => {
  const long = 'x'.repeat(70_000);
  /** A key as warnings show it: its first 60 characters and its length. */
  const shownKey = (key: string) => `${key.slice(0, 60)}… (${key.length} characters)`;
  const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it('skips a 70,000-character server name and app name with a short warning naming the key; a server added with them goes in through the runtime API', async () => {
    rig.store.putMany([
      ['apps/web/containers/w1', rig.address(0)],
      ['lb/routes/web', 'www.example.test'],
    ]);
    const w = await stack.start(rig.store.url);
    await stack.servedAs('www.example.test', '/', ['a']);
    const workers = await rig.workers(w);

    const before = w.logs.length;
    rig.store.putMany([
      [`apps/web/containers/${long}`, rig.address(2)],
      [`apps/${long}/containers/z1`, rig.address(3)],
      ['apps/web/containers/w2', rig.address(1)],
    ]);
    await stack.servedAs('www.example.test', '/', ['a', 'b']);
    for (const key of [`/apps/web/containers/${long}`, `/apps/${long}`]) {
      const warning = await w.waitForLog(
        new RegExp(`^skipped ${escaped(shownKey(key))}: (app|server) name is 70000 characters long, more than the 253 a name may have$`),
        before,
      );
      expect(warning.key).toBe(shownKey(key));
    }
    // Neither name reached HAProxy, its config or the logs; w2 went in through the runtime API.
    await waitFor('the file to follow', () => files()[0]!.includes('server w2 '));
    expect(files().join('')).not.toContain('x'.repeat(254));
    expect(rig.watch!.raw).not.toContain('x'.repeat(254));
    expect(await stack.servers('web')).toEqual({ w1: { weight: 100, maint: false }, w2: { weight: 100, maint: false } });
    await waitFor('the runtime change to be counted', async () => (await rig.metric('runtime_updates_total')) >= 1);
    expect(await rig.metric('reloads_total')).toBe(0);
    expect(await rig.workers(w)).toEqual(workers);

    // --strict refuses the same answer outright (exit 5), naming both keys as briefly.
    const strict = await runCli(['render', '--kv', rig.store.url, '--stack', 'apps', '--strict', '--out', join(rig.dir, 'strict.cfg')]);
    expect(strict.code).toBe(5);
    for (const key of [`/apps/web/containers/${long}`, `/apps/${long}`]) expect(strict.stderr).toContain(shownKey(key));
    expect(strict.stderr).not.toContain('x'.repeat(254));
  });

  it('an app and a server named with 253 characters, the cap, are served; a server added to them goes in through the runtime API and is read back; one character more is skipped', async () => {
    const [app, s1, s2, over] = ['a', 'b', 'c', 'd'].map((c) => c.repeat(253)) as [string, string, string, string];
    rig.store.putMany([
      [`apps/${app}/containers/${s1}`, rig.address(0)],
      [`lb/routes/${app}`, 'cap.example.test'],
    ]);
    const w = await stack.start(rig.store.url);
    await stack.servedAs('cap.example.test', '/', ['a']);
    const workers = await rig.workers(w);

    const before = w.logs.length;
    rig.store.putMany([
      [`apps/${app}/containers/${s2}`, rig.address(1)],
      [`apps/${app}/containers/${over}d`, rig.address(2)],
    ]);
    await stack.servedAs('cap.example.test', '/', ['a', 'b']);
    await w.waitForLog(/^skipped \/apps\/a+\/containers\/d+: server name is 254 characters long, more than the 253 a name may have$/, before);
    // Read back from HAProxy by the full names of backend and servers.
    expect(await stack.servers(app)).toEqual({ [s1]: { weight: 100, maint: false }, [s2]: { weight: 100, maint: false } });
    await waitFor('the runtime change to be counted', async () => (await rig.metric('runtime_updates_total')) >= 1);
    expect(await rig.metric('reloads_total')).toBe(0);
    expect(await rig.workers(w)).toEqual(workers);
  });
});
