import { describe, expect, it } from 'vitest';
import { describeDrift, driftOf } from '../../src/haproxy/drift.js';
import { cachedExpectedState, expectedState, runtimeLine } from '../../src/haproxy/expected-state.js';
import { liveStateOf } from '../../src/haproxy/live-state.js';
import { thrown } from '../support/failure.js';

const MAP = '/etc/haproxy/lb.hosts.map';
const MAP_TEXT = '# routes\na.example/ app1\nb.example/ app2\nc.example/x app3\n';

/** The config the answers below were recorded from (HAProxy 2.6.12, just started; nothing listens on 18001-18004). */
const CONFIG = [
  'global',
  '    stats socket /tmp/admin.sock mode 600 level admin',
  'defaults',
  '    mode http',
  '    timeout connect 2s',
  'frontend main',
  '    bind 127.0.0.1:18555',
  `    http-request set-var(txn.b) req.fhdr(host),map_beg(${MAP})`,
  '    default_backend web',
  'backend web',
  '    server s1 127.0.0.1:18001 check inter 1s',
  '    server s2 127.0.0.1:18002 weight 100',
  '    server s3 127.0.0.1:18003 disabled',
  '    server s4 127.0.0.1:18004 check disabled # checked once set ready',
  'backend empty',
  'listen stats',
  '    bind 127.0.0.1:18556',
  '    stats enable',
  'backend tmpl',
  '    server-template t 3 127.0.0.1:18010',
  '',
].join('\n');

const HEADER =
  '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n';

/** `show servers state` of that config as HAProxy answered it: s1 DOWN (its check fails), s3 and s4 in maintenance (admin 5). */
const FRESH = [
  '3 web 1 s1 127.0.0.1 0 0 1 1 2 8 2 0 6 0 0 0 - 18001 - 0 0 - - 0',
  '3 web 2 s2 127.0.0.1 2 0 100 100 2 1 0 2 0 0 0 0 - 18002 - 0 0 - - 0',
  '3 web 3 s3 127.0.0.1 0 5 1 1 2 1 0 0 8 0 0 0 - 18003 - 0 0 - - 0',
  '3 web 4 s4 127.0.0.1 0 5 1 1 2 1 0 0 14 0 0 0 - 18004 - 0 0 - - 0',
  '6 tmpl 1 t1 127.0.0.1 2 0 1 1 2 1 0 2 0 0 0 0 - 18010 - 0 0 - - 0',
  '6 tmpl 2 t2 127.0.0.1 2 0 1 1 2 1 0 2 0 0 0 0 - 18010 - 0 0 - - 0',
  '6 tmpl 3 t3 127.0.0.1 2 0 1 1 2 1 0 2 0 0 0 0 - 18010 - 0 0 - - 0',
];
const BACKENDS = ['web', 'empty', 'stats', 'tmpl'];
const SHOWN_MAP = '0x55af3fc3a310 a.example/ app1\n0x55af3fc3a360 b.example/ app2\n0x55af3fc3a3b0 c.example/x app3\n\n';

/** A line of `show servers state` for web/NAME with these fields changed. */
const line = (name: string, at: { addr?: string; port?: number; admin?: number; weight?: number } = {}) =>
  `3 web 9 ${name} ${at.addr ?? '127.0.0.1'} 2 ${at.admin ?? 0} ${at.weight ?? 1} 1 2 1 0 2 0 0 0 0 - ${at.port ?? 18001} - 0 0 - - 0`;

function live({ lines = FRESH, backends = BACKENDS, map = SHOWN_MAP }: { lines?: string[]; backends?: string[]; map?: string } = {}) {
  return liveStateOf(`# name\n${backends.join('\n')}\n\n`, `${HEADER}${lines.join('\n')}\n\n`, new Map([[MAP, map]]));
}
const replace = (name: string, by: string[]) => FRESH.flatMap((l) => (l.split(' ')[3] === name ? by : [l]));
const expected = (config = CONFIG, maps = new Map([[MAP, MAP_TEXT]])) => expectedState(config, maps);

describe('expectedState', () => {
  it('reads each server, every backend (listen and empty ones too) and the maps the config loads', () => {
    const state = expectedState(
      CONFIG,
      new Map([
        [MAP, MAP_TEXT],
        ['/etc/haproxy/unused.map', 'x y\n'],
      ]),
    );
    expect([...state.backends.keys()]).toEqual(['web', 'empty', 'stats', 'tmpl']);
    expect([...state.backends.get('web')!.servers.values()].map(({ words: _, ...s }) => s)).toEqual([
      { name: 's1', address: { host: '127.0.0.1', port: 18001 }, weight: 1, disabled: false, agent: false },
      { name: 's2', address: { host: '127.0.0.1', port: 18002 }, weight: 100, disabled: false, agent: false },
      { name: 's3', address: { host: '127.0.0.1', port: 18003 }, weight: 1, disabled: true, agent: false },
      { name: 's4', address: { host: '127.0.0.1', port: 18004 }, weight: 1, disabled: true, agent: false },
    ]);
    expect(state.maps).toEqual(
      new Map([
        [
          MAP,
          [
            ['a.example/', 'app1'],
            ['b.example/', 'app2'],
            ['c.example/x', 'app3'],
          ],
        ],
      ]),
    );
    expect(state.unverifiable).toEqual(['backend tmpl: its server-template servers are not compared', '/etc/haproxy/unused.map: the config does not load it']);
  });

  it('compares IPv6 as HAProxy prints it, and gives the line add server takes, comments aside', () => {
    const state = expectedState(`backend web\n    server a [2001:DB8::0001]:80 check weight 5 # new\n`, new Map());
    const web = state.backends.get('web')!;
    expect(web.servers.get('a')).toMatchObject({ address: { host: '2001:db8::1', port: 80 }, weight: 5 });
    expect(runtimeLine(web, web.servers.get('a')!)).toEqual({ name: 'a', host: '2001:DB8::0001', port: 80, options: ['check', 'weight', '5'] });
  });

  it('takes default-server settings into account, and marks what the runtime API cannot do', () => {
    const config = [
      'defaults',
      '    default-server weight 20',
      'backend hashed',
      '    balance source',
      '    server a 10.0.0.1:80',
      'backend web',
      '    default-server disabled',
      '    server b 10.0.0.2:80 weight 3',
      '    server c 10.0.0.3:80 enabled',
      '    server n web.internal:80 init-addr last,libc,none agent-check agent-port 9000',
      'backend saved',
      '    load-server-state-from-file global',
      '',
    ].join('\n');
    const state = expectedState(config, new Map());
    const web = state.backends.get('web')!;
    expect(state.backends.get('hashed')).toMatchObject({ fixed: 'balance source does not take servers at runtime' });
    expect(state.backends.get('hashed')!.servers.get('a')).toMatchObject({ weight: 20, disabled: false });
    expect(web.servers.get('b')).toMatchObject({ weight: 3, disabled: true });
    expect(web.servers.get('c')).toMatchObject({ weight: 20, disabled: false });
    // A host name: HAProxy resolves it, an agent sets its weight and admin state: none is compared.
    expect(web.servers.get('n')!.address).toBeUndefined();
    expect(web.servers.get('n')!).toMatchObject({ weight: undefined, agent: true });
    expect(runtimeLine(web, web.servers.get('b')!)).toMatch(/default-server/);
    expect(state.backends.get('saved')!.unverifiable).toMatch(/load-server-state-from-file/);
  });

  it('is cheap on 10,000 servers: each line split once, none parsed as add server would until needed', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `    server s${i} 10.1.${i >> 8}.${i & 255}:80 check weight 10`).join('\n');
    const state = expectedState(`backend web\n${many}\n`, new Map());
    expect(state.backends.get('web')!.servers.size).toBe(10_000);
    expect(state.backends.get('web')!.servers.get('s9999')).toMatchObject({ address: { host: '10.1.39.15', port: 80 }, weight: 10 });
  });
});

describe('cachedExpectedState', () => {
  it('reads the texts again only when one of them changed', () => {
    const expectedOf = cachedExpectedState();
    const first = expectedOf(CONFIG, new Map([[MAP, MAP_TEXT]]));
    expect(expectedOf(`${CONFIG}`, new Map([[MAP, MAP_TEXT]]))).toBe(first);
    const edited = expectedOf(CONFIG, new Map([[MAP, `${MAP_TEXT}d.example/ app4\n`]]));
    expect(edited).not.toBe(first);
    expect(edited.maps.get(MAP)).toHaveLength(4);
    expect(
      expectedOf(CONFIG.replace('weight 100', 'weight 50'), new Map([[MAP, MAP_TEXT]]))
        .backends.get('web')!
        .servers.get('s2')!.weight,
    ).toBe(50);
  });

  it('a config changed by one server reads only that line again; default-server lines still reach the servers after them', () => {
    const expectedOf = cachedExpectedState();
    const config = (extra: string, defaults: string) =>
      `backend web\n    server s1 10.0.0.1:80 weight 5\n    server s2 10.0.0.2:80\n${extra}backend api\n${defaults}    server s3 10.0.0.3:80\n`;
    const first = expectedOf(config('', ''), new Map());
    const second = expectedOf(config('    server s4 10.0.0.4:80 disabled\n', '    default-server weight 7\n'), new Map());
    const [web1, web2] = [first.backends.get('web')!.servers, second.backends.get('web')!.servers];
    // The lines that stayed give the same servers, not copies; the new line is read.
    expect(web2.get('s1')).toBe(web1.get('s1'));
    expect(web2.get('s2')).toBe(web1.get('s2'));
    expect(web2.get('s4')).toMatchObject({ address: { host: '10.0.0.4', port: 80 }, disabled: true, weight: 1 });
    // The same line under a new default-server is read again with it.
    expect(second.backends.get('api')!.servers.get('s3')).toMatchObject({ weight: 7 });
    expect(first.backends.get('api')!.servers.get('s3')).toMatchObject({ weight: 1 });
    // And read as it is once the default-server goes: nothing kept from the backend it shaped.
    expect(expectedOf(config('', ''), new Map()).backends.get('api')!.servers.get('s3')).toMatchObject({ weight: 1 });
    // A line moved to another backend is that backend's server there and gone from the first.
    const moved = expectedOf('backend web\n    server s1 10.0.0.1:80 weight 5\nbackend api\n    server s2 10.0.0.2:80\n', new Map());
    expect([...moved.backends.get('web')!.servers.keys()]).toEqual(['s1']);
    expect(moved.backends.get('api')!.servers.get('s2')).toMatchObject({ address: { host: '10.0.0.2', port: 80 }, weight: 1 });
  });
});

describe('driftOf', () => {
  it('finds nothing on a HAProxy just started from the config: a server DOWN by its check and disabled ones are as the file says', () => {
    expect(driftOf(expected(), live())).toEqual({ kind: 'none' });
  });

  it.each([
    ['forced maintenance', replace('s1', [line('s1', { admin: 1 })]), 'web/s1 is in maintenance'],
    ['forced drain', replace('s1', [line('s1', { admin: 8 })]), 'web/s1 is draining'],
    ['a weight set by hand', replace('s2', [line('s2', { weight: 7, port: 18002 })]), 'web/s2 has weight 7, not 100'],
    ['a disabled server set ready', replace('s3', [line('s3', { admin: 4, port: 18003 })]), 'web/s3 is not in maintenance'],
  ])('%s: reshaped with the line of the file', (_, lines, found) => {
    const name = found.split(' ')[0]!.split('/')[1]!;
    expect(driftOf(expected(), live({ lines }))).toMatchObject({
      kind: 'runtime',
      found: [found],
      backends: [{ backend: 'web', added: [], removed: [], moved: [], shaped: [{ name }] }],
      maps: [],
    });
  });

  it('a server elsewhere is moved back; one deleted is added with its options; one added by hand is removed', () => {
    const lines = [...replace('s1', [line('s1', { addr: '10.0.0.9', port: 80 })]).filter((l) => !l.includes(' s2 ')), line('x', { port: 9999 })];
    const drift = driftOf(expected(), live({ lines }));
    expect(drift).toEqual({
      kind: 'runtime',
      found: ['web/s1 is at 10.0.0.9:80, not 127.0.0.1:18001', 'web/s2 is missing', 'web/x is not in the config'],
      backends: [
        {
          backend: 'web',
          added: [{ name: 's2', host: '127.0.0.1', port: 18002, options: ['weight', '100'] }],
          removed: [{ name: 'x', host: '127.0.0.1', port: 9999, options: [] }],
          moved: [
            {
              from: { name: 's1', host: '10.0.0.9', port: 80, options: ['check', 'inter', '1s'] },
              to: { name: 's1', host: '127.0.0.1', port: 18001, options: ['check', 'inter', '1s'] },
            },
          ],
        },
      ],
      maps: [],
    });
  });

  it('a map edited by hand is swapped whole; the same entries in another order are drift too (the first match wins)', () => {
    const edited = '0x1 a.example/ app1\n0x2 b.example/ zzz\n0x3 c.example/x app3\n0x4 d.example/ app4\n\n';
    expect(driftOf(expected(), live({ map: edited }))).toMatchObject({
      kind: 'runtime',
      found: [`${MAP}: 2 entries differ (b.example/, d.example/)`],
      maps: [
        {
          path: MAP,
          entries: [
            ['a.example/', 'app1'],
            ['b.example/', 'app2'],
            ['c.example/x', 'app3'],
          ],
        },
      ],
    });
    const reordered = '0x2 b.example/ app2\n0x3 c.example/x app3\n0x1 a.example/ app1\n\n';
    expect(driftOf(expected(), live({ map: reordered }))).toMatchObject({ found: [`${MAP}: its entries are in another order`] });
    expect(driftOf(expected(), live({ map: '0x1 a.example/ app1\n\n' }))).toMatchObject({ found: [`${MAP}: 2 entries differ (b.example/, c.example/x)`] });
  });

  it('names and map keys HAProxy gives back are shortened as keys are in logs: anyone may add a server or an entry by hand', () => {
    const long = 'k'.repeat(10_000);
    const drift = driftOf(expected(), live({ lines: [...FRESH, line(long)], map: `${SHOWN_MAP.trimEnd()}\n0x9 ${long} app1\n\n` }));
    expect(drift).toMatchObject({
      kind: 'runtime',
      found: [`web/${'k'.repeat(60)}… (10000 characters) is not in the config`, `${MAP}: 1 entry differs (${'k'.repeat(60)}… (10000 characters))`],
    });
    expect(driftOf(expected(), live({ backends: [...BACKENDS, long] }))).toMatchObject({
      found: [`backend ${'k'.repeat(60)}… (10000 characters) is not in the config`],
    });
  });

  it('what only a reload sets right: a backend missing or extra, a map not loaded', () => {
    expect(driftOf(expected(), live({ backends: ['web', 'stats', 'tmpl', 'old'] }))).toEqual({
      kind: 'reload',
      found: ['backend empty is missing', 'backend old is not in the config'],
      reason: 'backend empty is missing',
    });
    const noMap = liveStateOf(
      `# name\n${BACKENDS.join('\n')}\n`,
      `${HEADER}${FRESH.join('\n')}\n`,
      new Map([[MAP, 'Unknown map identifier. Please use #<id> or <file>.\n\n']]),
    );
    expect(driftOf(expected(), noMap)).toMatchObject({ kind: 'reload', reason: `${MAP} is not loaded by HAProxy` });
  });

  it('servers of a backend whose balance takes none at runtime, or that default-server shapes, are set right by reload', () => {
    const hashed = CONFIG.replace('\nbackend web\n', '\nbackend web\n    balance source\n');
    expect(driftOf(expected(hashed), live({ lines: FRESH.filter((l) => !l.includes(' s2 ')) }))).toMatchObject({
      kind: 'reload',
      found: ['web/s2 is missing'],
      reason: 'web/s2 is missing and backend web takes no servers at runtime: balance source does not take servers at runtime',
    });
    // A weight on a balance-source backend is still set at runtime.
    expect(driftOf(expected(hashed), live({ lines: replace('s1', [line('s1', { weight: 3 })]) }))).toMatchObject({ kind: 'runtime' });
    const shaped = CONFIG.replace('\nbackend web\n', '\nbackend web\n    default-server inter 3s\n');
    expect(driftOf(expected(shaped), live({ lines: replace('s1', [line('s1', { admin: 1 })]) }))).toMatchObject({
      kind: 'reload',
      reason: 'web/s1 is in maintenance and cannot be set right at runtime: default-server settings do not reach servers added or set at runtime',
    });
  });

  it('leaves server-template backends alone: their servers are not compared', () => {
    expect(driftOf(expected(), live({ lines: FRESH.filter((l) => !l.includes(' tmpl ')) }))).toEqual({ kind: 'none' });
  });
});

describe('liveStateOf', () => {
  it('refuses answers that are not what the commands print', () => {
    expect(thrown(() => liveStateOf('Unknown command\n', HEADER, new Map())).code).toBe('RUNTIME_REFUSED');
    expect(thrown(() => liveStateOf('# name\n', 'Permission denied\n', new Map())).message).toMatch(/show servers state.*Permission denied/);
    expect(thrown(() => liveStateOf('# name\n', HEADER, new Map([[MAP, 'Permission denied\n']]))).message).toMatch(/show map/);
    expect(thrown(() => liveStateOf('# name\n', `${HEADER}${FRESH[0]}\n3 web 2 s2 garbled\n`, new Map())).message).toMatch(/show servers state/);
    expect(thrown(() => liveStateOf('# name\n', `1\n# be_id be_name srv_name\n`, new Map())).message).toMatch(/show servers state/);
  });
});

describe('describeDrift', () => {
  it('names every difference up to a limit, then counts the rest', () => {
    expect(describeDrift(['web/s1 is missing'])).toBe('1 difference: web/s1 is missing');
    expect(describeDrift(['a', 'b', 'c'], 2)).toBe('3 differences: a; b; … and 1 more');
  });
});
