import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveSettings, type Flags } from '../../src/config/settings.js';
import { diffConfigs } from '../../src/haproxy/config-diff.js';
import { toSnapshot } from '../../src/kv/keys.js';
import { DEFAULT_TEMPLATE, STACK_TEMPLATE } from '../../src/paths.js';
import { decideChange, refusalOf, renderSnapshot } from '../../src/plan/plan.js';
import { stackMaps } from '../../src/stack/maps.js';
import { buildStack } from '../../src/stack/model.js';
import { parseRoutes, parseServerState, parseWeight } from '../../src/values/routes.js';
import { compileTemplates } from '../../src/wiring/templates.js';
import { haproxyState } from '../support/haproxy-state.js';
import { makeTempDir } from '../support/temp.js';

const OUT = '/etc/haproxy/haproxy.cfg';
const MAPS = { hosts: '/etc/haproxy/haproxy.hosts.map', paths: '/etc/haproxy/haproxy.paths.map' };
const settingsOf = (flags: Flags, config?: Record<string, unknown>) =>
  resolveSettings({
    flags: { out: OUT, ...flags },
    env: {},
    cwd: '/',
    defaultTemplate: DEFAULT_TEMPLATE,
    readSecret: () => '',
    file: config && { path: '/etc/occs-lb.config.json', config },
  });
// A snapshot's pairs, sorted by key as buildStack takes them.
const pairs = (entries: Record<string, string>) => toSnapshot(Object.entries(entries).map(([key, value]) => ({ key: `/${key}`, value }))).pairs;
const stackOf = (entries: Record<string, string>, services: unknown[] = []) =>
  buildStack(pairs(entries), { apps: 'apps', control: 'lb', services: services as never[], maps: MAPS }, 'roundrobin');

describe('route, weight and state values', () => {
  it('takes hosts (lower-cased), host/path and /path routes', () => {
    expect(parseRoutes(' WWW.Example.com\texample.com/api\n/status 10.0.0.1 ')).toEqual({
      routes: [{ host: 'www.example.com', path: '/' }, { host: 'example.com', path: '/api' }, { path: '/status' }, { host: '10.0.0.1', path: '/' }],
      problems: [],
    });
  });

  it.each([
    ['example.com:8080', 'names a port'],
    ['*.example.com', 'wildcard'],
    ['example.com/a?b', 'query'],
    ['example.com/a;b', 'holds ";"'],
    ['/a"b', 'holds """'],
    ['exa_mple.com', 'not a host name'],
    ['ex\u00e4mple.com', 'not a host name'],
    ['/a\u202eb', 'U+202E'],
    [`/${'a'.repeat(1100)}`, 'longer than 1024'],
    ['/a%zz', 'not an escape'],
    ['example.com/100%', 'not an escape'],
    ['[::1]/x', 'IPv6 hosts are not supported'],
  ])('refuses %s, saying why', (route, why) => {
    const parsed = parseRoutes(route);
    expect(parsed.routes).toEqual([]);
    expect(parsed.problems[0]).toContain(why);
  });

  it('refuses an empty value, weights outside 0-256 and unknown states', () => {
    expect(parseRoutes('  ').problems[0]).toContain('holds no route');
    expect([parseWeight('0'), parseWeight('256')]).toEqual([
      { ok: true, value: 0 },
      { ok: true, value: 256 },
    ]);
    for (const bad of ['257', '-1', '1e2', '10 ', '', '0x1']) expect(parseWeight(bad).ok, bad).toBe(false);
    for (const bad of ['up', 'MAINT', 'drain ', '']) expect(parseServerState(bad).ok, bad).toBe(false);
  });
});

describe('reading a stack from the store', () => {
  it('makes every app a service with its servers, weights and states; drain is weight 0', () => {
    const stack = stackOf({
      'apps/web/containers/w1': '10.0.0.1:80',
      'apps/web/containers/w2': '10.0.0.2:80',
      'apps/api/containers/a1': '10.0.0.3:80',
      'lb/weights/web/w2': '10',
      'lb/state/web/w1': 'maint',
      'lb/state/api/a1': 'drain',
      'lb/weights/web/gone': '5', // kept for when w "gone" appears: no warning
    });
    expect(stack.services.map((s) => [s.name, s.servers.map((x) => `${x.name}:${x.weight}:${x.state}`)])).toEqual([
      ['api', ['a1:0:drain']],
      ['web', ['w1:100:maint', 'w2:10:ready']],
    ]);
    expect(stack.skipped).toEqual([]);
  });

  it('reads the servers directly in each app, beside apps whose names sort around it and keys in deeper directories', () => {
    const stack = stackOf({
      'apps/web/containers/w1': '10.0.0.1:80',
      'apps/web/containers/deeper/w9': '10.0.0.9:80',
      'apps/web/containers/w2': '10.0.0.2:80',
      'apps/web-1/containers/x1': '10.0.1.1:80',
      'apps/web.2/containers/y1': '10.0.2.1:80',
      'apps/web0/containers/z1': '10.0.3.1:80',
      'apps/web/other/o1': '10.0.4.1:80',
      'apps/web1': 'a key beside the apps',
      'lb/weights/web-1/x1': '7',
      'lb/state/web0/z1': 'drain',
    });
    expect(stack.services.map((s) => [s.name, s.servers.map((x) => `${x.name}:${x.address}:${x.weight}:${x.state}`)])).toEqual([
      ['web-1', ['x1:10.0.1.1:80:7:ready']],
      ['web.2', ['y1:10.0.2.1:80:100:ready']],
      ['web', ['w1:10.0.0.1:80:100:ready', 'w2:10.0.0.2:80:100:ready']],
      ['web0', ['z1:10.0.3.1:80:0:drain']],
    ]);
    expect(stack.skipped).toEqual([]);
  });

  it('gives a server name HAProxy would refuse a unique one, after every valid name, and looks up its weight by its key', () => {
    const stack = stackOf({
      'apps/web/containers/a b': '10.0.0.1:80',
      'apps/web/containers/a_b': '10.0.0.2:80',
      'apps/web/containers/bad': 'not an address',
      'lb/weights/web/a b': '3',
    });
    expect(stack.services[0]!.servers.map((x) => `${x.key}=${x.name}:${x.weight}`)).toEqual([
      '/apps/web/containers/a b=a_b-2:3',
      '/apps/web/containers/a_b=a_b:100',
    ]);
    expect(stack.renamed).toEqual([{ key: '/apps/web/containers/a b', from: 'a b', to: 'a_b-2' }]);
    expect(stack.skipped.map((s) => s.key)).toEqual(['/apps/web/containers/bad']);
  });

  it('routes each host/path to one app: the config file first, then the store in key order; the rest is skipped, named', () => {
    const stack = stackOf(
      {
        'apps/api/containers/a1': '10.0.0.3:80',
        'apps/web/containers/w1': '10.0.0.1:80',
        'lb/routes/api': 'example.com/api shop.example.com',
        'lb/routes/web': 'example.com example.com/api',
        'lb/routes/ghost': 'ghost.example.com example.com/',
        'lb/routes/aaa': 'example.com/api',
        'lb/route/web': 'x.example.com',
      },
      [{ name: 'shop', prefix: 'shop/servers', routes: [{ host: 'shop.example.com', path: '/' }] }],
    );
    // An app with no server (ghost, aaa) keeps its routes from falling through to another app's
    // shorter route: they answer 404, unless an app that is there holds them.
    expect(stack.routes.map((r) => `${r.host ?? ''}${r.path} ${r.service}`)).toEqual([
      'example.com/ web',
      'example.com/api api',
      'ghost.example.com/ occs_lb_no_route',
      'shop.example.com/ shop',
    ]);
    expect(stack.skipped.map((s) => s.key)).toEqual(['/lb/route/web', '/lb/routes/aaa', '/lb/routes/api', '/lb/routes/ghost', '/lb/routes/web']);
    expect(stack.skipped[2]!.reason).toContain('already routed to shop (by the config file)');
    expect(stack.skipped[3]!.reason).toBe(
      'no app "ghost": nothing under apps/ghost/ and no such service in the config file: its routes answer 404 until it has servers',
    );
    expect(stack.skipped[4]!.reason).toContain('already routed to api (by /lb/routes/api)');
    expect(stackMaps(stack, new Set()).map((m) => m.text.split('\n').slice(1).join('|'))).toEqual([
      'example.com/ web|example.com/api api|ghost.example.com/ occs_lb_no_route|shop.example.com/ shop|',
      '',
    ]);
  });

  it('refuses app names that cannot name a backend or are the template own', () => {
    const stack = stackOf({ 'apps/stats/containers/x': '10.0.0.1:80', 'apps/a b/containers/x': '10.0.0.1:80' });
    expect(stack.services).toEqual([]);
    expect(stack.skipped.map((s) => s.key)).toEqual(['/apps/a b', '/apps/stats']);
  });

  it('refuses app and server names longer than 253 wherever they come from, each named with its key; 253 is taken', () => {
    const [atCap, long] = ['a'.repeat(253), 'x'.repeat(70_000)];
    const stack = stackOf({
      [`apps/${long}/containers/x`]: '10.0.0.1:80',
      [`apps/${atCap}/containers/${atCap}`]: '10.0.0.2:80',
      [`apps/web/containers/${long}`]: '10.0.0.3:80',
      'apps/web/containers/w1': '10.0.0.4:80',
      [`lb/routes/${long}`]: 'long.example.com',
      [`lb/routes/${atCap}`]: 'cap.example.com',
      [`lb/weights/${long}/x`]: '5',
      [`lb/state/web/${long}`]: 'drain',
      [`lb/weights/${atCap}/${atCap}`]: '7',
    });
    expect(stack.services.map((s) => [s.name, s.servers.map((x) => `${x.name}:${x.weight}`)])).toEqual([
      [atCap, [`${atCap}:7`]],
      ['web', ['w1:100']],
    ]);
    expect(stack.routes.map((r) => `${r.host} ${r.service}`)).toEqual([`cap.example.com ${atCap}`]);
    const app = 'app name is 70000 characters long, more than the 253 a name may have';
    expect(stack.skipped.map((s) => [s.key.slice(0, 12), s.key.length, s.reason])).toEqual([
      ['/apps/web/co', 70_021, 'server name is 70000 characters long, more than the 253 a name may have'],
      ['/apps/xxxxxx', 70_006, app],
      ['/lb/routes/x', 70_011, app],
      ['/lb/state/we', 70_014, 'server name is 70000 characters long, more than the 253 a name may have'],
      ['/lb/weights/', 70_014, app],
    ]);
  });
});

describe('stack mode settings', () => {
  it('puts the map files beside the config and reads the apps and the control prefix', () => {
    const s = settingsOf({ stack: '/apps/' });
    expect(s.stack).toMatchObject({ apps: 'apps', control: 'lb', maps: MAPS });
    expect(s.resources[0]!.prefixes).toEqual(['apps', 'lb']);
  });

  it.each([
    [{ controlPrefix: 'ctl' }, undefined, '--control-prefix is a setting of stack mode'],
    [{ stack: 'apps', prefix: ['apps/web/containers'] }, undefined, '--prefix has no place'],
    [{ stack: 'apps', out: '/etc/ha proxy/haproxy.cfg' }, undefined, 'runtime API cannot name'],
    [{}, { stack: { services: [{ name: 'web', prefix: 'x', routes: ['a.com:80'] }] } }, 'stack.services[0].routes[0]: route "a.com:80": it names a port'],
    [{}, { stack: { services: [{ name: 'stats', prefix: 'x' }] } }, '"stats" cannot name a backend'],
    [{}, { stack: {} }, 'needs an apps prefix or services'],
  ])('refuses %j %j', (flags, config, message) => {
    expect(() => settingsOf(flags as Flags, config)).toThrow(message);
  });

  it('refuses a service or default service named with more than 253 characters (a usage error), taking 253', () => {
    const service = (name: string) => ({ stack: { services: [{ name, prefix: 'x' }] } });
    expect(() => settingsOf({}, service('s'.repeat(254)))).toThrow('stack.services[0].name: the service name is 254 characters long, more than the 253');
    expect(() => settingsOf({ stack: 'apps', defaultService: 's'.repeat(70_000) })).toThrow(
      "--default-service: the default service's name is 70000 characters long",
    );
    expect(settingsOf({ stack: 'apps', defaultService: 's'.repeat(253) }, service('s'.repeat(253))).stack?.defaultService).toBe('s'.repeat(253));
  });
});

describe('planning stack changes', () => {
  it('a route change swaps the maps at runtime; a weight or state change sets the server; a new app reloads', async () => {
    const settings = settingsOf({ stack: 'apps' });
    const templates = await compileTemplates(settings.resources);
    const render = (entries: Record<string, string>) => renderSnapshot(settings, templates, toSnapshot(pairs(entries)));
    const base = { 'apps/web/containers/w1': '10.0.0.1:80', 'lb/routes/web': 'example.com' };
    const installed = render(base).resources[0]!;
    const on = new Map([[OUT, installed.text], ...installed.companions!.map((c) => [c.path, c.text] as const)]);
    const change = (entries: Record<string, string>) => decideChange(settings, haproxyState(on), render({ ...base, ...entries }));

    expect(change({ 'lb/routes/web': 'example.com /api' })).toMatchObject({
      kind: 'runtime',
      backends: [],
      maps: [{ path: MAPS.paths, entries: [['/api', 'web']] }],
    });
    expect(change({ 'lb/weights/web/w1': '7' })).toMatchObject({
      kind: 'runtime',
      maps: [],
      backends: [{ shaped: [{ name: 'w1', options: ['check', 'weight', '7'] }] }],
    });
    expect(change({ 'lb/state/web/w1': 'maint' })).toMatchObject({
      kind: 'runtime',
      backends: [{ shaped: [{ options: ['check', 'weight', '100', 'disabled'] }] }],
    });
    expect(change({ 'apps/api/containers/a1': '10.0.0.2:80' })).toMatchObject({ kind: 'reload', reason: expect.stringContaining('sections') });
    expect(decideChange(settings, haproxyState(new Map([[OUT, installed.text]])), render(base))).toMatchObject({
      kind: 'reload',
      reason: 'a map file is new',
    });
    // A template of one's own that does not load the paths map: HAProxy has no such map to swap.
    const dir = makeTempDir();
    const template = join(dir, 'mine.cfg.ejs');
    writeFileSync(template, readFileSync(STACK_TEMPLATE, 'utf8').replaceAll('<%= stack.maps.paths %>', '/elsewhere.map'));
    const mineSettings = settingsOf({ stack: 'apps', template });
    const mineTemplates = await compileTemplates(mineSettings.resources);
    const renderMine = (entries: Record<string, string>) => renderSnapshot(mineSettings, mineTemplates, toSnapshot(pairs(entries)));
    const mineInstalled = renderMine(base).resources[0]!;
    const mineOn = new Map([[OUT, mineInstalled.text], ...mineInstalled.companions!.map((c) => [c.path, c.text] as const)]);
    const mine = renderMine({ ...base, 'lb/routes/web': 'example.com /api' });
    expect(mine.resources[0]!.text).not.toContain(MAPS.paths);
    expect(decideChange(mineSettings, haproxyState(mineOn), mine)).toMatchObject({
      kind: 'reload',
      reason: `the config does not load ${MAPS.paths}`,
    });
  });

  it('--min-servers counts an app a route names but that has no server, and a stack of no app, as backends with none', async () => {
    const settings = settingsOf({ stack: 'apps', minServers: '1' });
    const templates = await compileTemplates(settings.resources);
    const refused = (entries: Record<string, string>) => refusalOf(renderSnapshot(settings, templates, toSnapshot(pairs(entries))))?.message;
    const web = { 'apps/web/containers/w1': '10.0.0.1:80', 'lb/routes/web': 'example.com' };
    expect(refused(web)).toBeUndefined();
    expect(refused({ ...web, 'lb/routes/api': 'api.example.com' })).toBe(
      "refused the store's answer: backend api would have 0 servers, fewer than --min-servers 1",
    );
    expect(refused({ 'lb/routes/web': 'example.com' })).toContain('backend web would have 0 servers');
    expect(refused({})).toBe("refused the store's answer: backend apps/* would have 0 servers, fewer than --min-servers 1");
    expect(refused({ ...web, 'lb/routes/bad name': 'x.example.com' })).toBeUndefined();
  });

  it('a server changing weight or maintenance alone is no new server; another option still reloads', () => {
    const cfg = (line: string) => `backend b\n    balance roundrobin\n    server s ${line}\n`;
    expect(diffConfigs(cfg('10.0.0.1:80 check weight 100'), cfg('10.0.0.1:80 check weight 100 disabled'))).toMatchObject({
      kind: 'servers',
      backends: [{ shaped: [{ name: 's' }] }],
    });
    expect(diffConfigs(cfg('10.0.0.1:80 check weight 1'), cfg('10.0.0.2:80 check weight 9'))).toMatchObject({
      kind: 'servers',
      backends: [{ shaped: [{ name: 's' }], moved: [{ to: { host: '10.0.0.2' } }] }],
    });
    expect(diffConfigs(cfg('10.0.0.1:80 weight 1'), cfg('10.0.0.1:80 check weight 9'))).toMatchObject({ kind: 'reload' });
  });
});
