import { describe, expect, it } from 'vitest';
import { diffConfigs } from '../../src/haproxy/config-diff.js';
import { addServerWords } from '../../src/haproxy/runtime.js';
import { canonicalHost } from '../../src/haproxy/server-line.js';
import { runtimeCommand } from '../../src/haproxy/runtime-channel.js';
import { masterCommand } from '../../src/haproxy/master-cli.js';

const config = (servers: string[], extra = { balance: 'roundrobin', global: '', backend: '' }) =>
  [
    'global',
    '    maxconn 100',
    ...(extra.global ? [extra.global] : []),
    'defaults',
    '    mode http',
    'frontend main',
    '    bind 127.0.0.1:5000',
    '    default_backend web',
    'backend web',
    `    balance ${extra.balance}`,
    ...(extra.backend ? [extra.backend] : []),
    ...servers.map((s) => `    server ${s}`),
    '',
  ].join('\n');
const base = { balance: 'roundrobin', global: '', backend: '' };
/** A backend with no balance line of its own, under a defaults section that has one. */
const inheritsBalance = (balance: string, servers: string[]) =>
  `defaults\n    mode http\n    balance ${balance}\nbackend web\n${servers.map((s) => `    server ${s}\n`).join('')}`;

describe('diffConfigs', () => {
  it('finds servers added, removed and moved', () => {
    const diff = diffConfigs(config(['a 10.0.0.1:80 check', 'b 10.0.0.2:80 check']), config(['b 10.0.0.9:81 check', 'c 10.0.0.3:80 check']));
    expect(diff).toMatchObject({
      kind: 'servers',
      backends: [
        {
          backend: 'web',
          added: [{ name: 'c', host: '10.0.0.3', port: 80, options: ['check'] }],
          removed: [{ name: 'a' }],
          moved: [{ from: { name: 'b', host: '10.0.0.2' }, to: { name: 'b', host: '10.0.0.9', port: 81 } }],
        },
      ],
    });
  });

  it('looks only at what changed: 10,000 servers, one added and one removed, anywhere in the backend', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => `s${i} 10.1.${i >> 8}.${i & 255}:80 check`);
    const before = config(many);
    const after = config([...many.slice(1, 5000), 'new 10.9.9.9:80 check', ...many.slice(5000)]);
    expect(diffConfigs(before, after)).toEqual({
      kind: 'servers',
      backends: [
        {
          backend: 'web',
          added: [{ name: 'new', host: '10.9.9.9', port: 80, options: ['check'] }],
          removed: [{ name: 's0', host: '10.1.0.0', port: 80, options: ['check'] }],
          moved: [],
        },
      ],
    });
  });

  it('a server that moved within its backend, or a line that only gained spaces, is no change', () => {
    expect(diffConfigs(config(['a 10.0.0.1:80', 'b 10.0.0.2:80']), config(['b  10.0.0.2:80', 'a 10.0.0.1:80']))).toEqual({
      kind: 'reload',
      reason: 'the configs differ in whitespace or comments only',
    });
  });

  it('a server given by host name that did not change does not keep the others from changing at runtime', () => {
    const named = 'n web.internal:80 check init-addr last,libc,none';
    expect(diffConfigs(config([named, 'a 10.0.0.1:80']), config([named, 'a 10.0.0.1:80', 'b 10.0.0.2:80']))).toMatchObject({
      kind: 'servers',
      backends: [{ added: [{ name: 'b' }] }],
    });
  });

  it('says "same" for identical configs', () => {
    expect(diffConfigs(config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80']))).toEqual({ kind: 'same' });
  });

  it.each([
    ['a directive changes', config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80'], { ...base, backend: '    timeout server 5s' }), 'a directive changed'],
    ['a backend is added', config(['a 10.0.0.1:80']), `${config(['a 10.0.0.1:80'])}backend api\n    server x 10.0.0.5:80\n`, 'sections were added'],
    ['server options change', config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80 check']), 'the options of server a changed'],
    [
      'the balance is not dynamic',
      config(['a 10.0.0.1:80'], { ...base, balance: 'static-rr' }),
      config(['a 10.0.0.1:80', 'b 10.0.0.2:80'], { ...base, balance: 'static-rr' }),
      'balance static-rr',
    ],
    ['a server is a host name', config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80', 'b web.internal:80 check init-addr last,libc,none']), 'host name'],
    [
      'default-server is set',
      config(['a 10.0.0.1:80'], { ...base, backend: '    default-server inter 3s' }),
      config(['a 10.0.0.1:80', 'b 10.0.0.2:80'], { ...base, backend: '    default-server inter 3s' }),
      'default-server',
    ],
    ['a server line carries ;', config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80', 'b 10.0.0.2:80;shutdown']), "contains ';'"],
    ['an option carries ;', config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80', 'b 10.0.0.2:80 check;disable']), 'cannot be sent to the runtime API'],
    // HAProxy 2.6 gives servers added at runtime the same hash-ring points: some get no traffic.
    [
      'the balance is random',
      config(['a 10.0.0.1:80'], { ...base, balance: 'random' }),
      config(['a 10.0.0.1:80', 'b 10.0.0.2:80'], { ...base, balance: 'random' }),
      'balance random: HAProxy 2.6 puts servers added at runtime on the same hash-ring points',
    ],
    [
      'the balance is random(2)',
      config(['a 10.0.0.1:80'], { ...base, balance: 'random(2)' }),
      config(['a 10.0.0.1:80', 'b 10.0.0.2:80'], { ...base, balance: 'random(2)' }),
      'same hash-ring points',
    ],
    [
      'the hash is consistent',
      config(['a 10.0.0.1:80'], { ...base, balance: 'uri', backend: '    hash-type consistent' }),
      config(['a 10.0.0.1:80', 'b 10.0.0.2:80'], { ...base, balance: 'uri', backend: '    hash-type consistent' }),
      'balance uri with hash-type consistent: HAProxy 2.6',
    ],
    [
      'the hash is map-based',
      config(['a 10.0.0.1:80'], { ...base, balance: 'source' }),
      config(['a 10.0.0.1:80', 'b 10.0.0.2:80'], { ...base, balance: 'source' }),
      'balance source does not take servers at runtime',
    ],
    [
      'only a server is removed from a random backend',
      config(['a 10.0.0.1:80', 'b 10.0.0.2:80'], { ...base, balance: 'random' }),
      config(['a 10.0.0.1:80'], { ...base, balance: 'random' }),
      'balance random',
    ],
    [
      'random comes from defaults',
      inheritsBalance('random', ['a 10.0.0.1:80']),
      inheritsBalance('random', ['a 10.0.0.1:80', 'b 10.0.0.2:80']),
      'balance random',
    ],
    [
      'a server may speak HTTP/2 (proto)',
      config(['a 10.0.0.1:80']),
      config(['a 10.0.0.1:80', 'b 10.0.0.2:80 check proto h2']),
      'uses "proto" and needs a reload: it may select HTTP/2',
    ],
    [
      'a server may speak HTTP/2 (alpn)',
      config(['a 10.0.0.1:80']),
      config(['a 10.0.0.1:80', 'b 10.0.0.2:443 ssl verify none alpn h2,http/1.1']),
      'uses "alpn"',
    ],
    ['a server sets max-reuse', config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80', 'b 10.0.0.2:80 max-reuse 100']), 'uses "max-reuse"'],
    [
      'a server says enabled',
      config(['a 10.0.0.1:80']),
      config(['a 10.0.0.1:80', 'b 10.0.0.2:80 check enabled']),
      'uses "enabled" and needs a reload: a server added at runtime with it gets no traffic',
    ],
    ['a server observes its traffic', config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80', 'b 10.0.0.2:80 check observe layer7']), 'uses "observe"'],
    ['a server starts slowly', config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80', 'b 10.0.0.2:80 check slowstart 30s']), 'uses "slowstart"'],
  ])('needs a reload when %s', (_, before, after, reason) => {
    const diff = diffConfigs(before, after);
    expect(diff.kind).toBe('reload');
    if (diff.kind === 'reload') expect(diff.reason).toContain(reason);
  });
});

describe('backends whose servers change at runtime', () => {
  it.each([
    ['roundrobin', base],
    ['leastconn', { ...base, balance: 'leastconn' }],
    ['first', { ...base, balance: 'first' }],
    ['roundrobin beside a hash-type line it does not use', { ...base, backend: '    hash-type consistent' }],
  ])('%s', (_, extra) => {
    expect(diffConfigs(config(['a 10.0.0.1:80'], extra), config(['a 10.0.0.1:80', 'b 10.0.0.2:80 check weight 10'], extra)).kind).toBe('servers');
  });

  it('a server added in maintenance (disabled) is added at runtime and left there', () => {
    const diff = diffConfigs(config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80', 'b 10.0.0.2:80 check disabled']));
    expect(diff).toMatchObject({ kind: 'servers', backends: [{ added: [{ name: 'b', options: ['check', 'disabled'] }] }] });
  });

  it('a defaults section with a dynamic balance leaves the backend dynamic', () => {
    expect(diffConfigs(inheritsBalance('leastconn', ['a 10.0.0.1:80']), inheritsBalance('leastconn', ['a 10.0.0.1:80', 'b 10.0.0.2:80'])).kind).toBe('servers');
  });
});

describe('add server', () => {
  const line = (options: string[], host = '10.0.0.3', port = 80) => ({ name: 'c', host, port, options });

  it('gives the server the connection-pool settings of a config-file server, which HAProxy 2.6 does not', () => {
    expect(addServerWords('web', line(['check', 'weight', '10']))).toEqual([
      'add',
      'server',
      'web/c',
      '10.0.0.3:80',
      'check',
      'weight',
      '10',
      'pool-purge-delay',
      '5s',
      'pool-max-conn',
      '-1',
    ]);
    expect(addServerWords('web', line([]))).toEqual(['add', 'server', 'web/c', '10.0.0.3:80', 'pool-purge-delay', '5s', 'pool-max-conn', '-1']);
  });

  it('leaves out disabled: a server added at runtime starts in maintenance, and watch does not enable it', () => {
    expect(addServerWords('web', line(['weight', '100', 'disabled']))).toEqual([
      ...['add', 'server', 'web/c', '10.0.0.3:80', 'weight', '100'],
      ...['pool-purge-delay', '5s', 'pool-max-conn', '-1'],
    ]);
  });

  it('keeps what the server line sets itself, and brackets IPv6', () => {
    expect(addServerWords('web', line(['check', 'pool-max-conn', '10']))).toEqual([
      'add',
      'server',
      'web/c',
      '10.0.0.3:80',
      'check',
      'pool-max-conn',
      '10',
      'pool-purge-delay',
      '5s',
    ]);
    expect(addServerWords('web', line(['pool-purge-delay', '1s', 'pool-max-conn', '0']))).toEqual([
      'add',
      'server',
      'web/c',
      '10.0.0.3:80',
      'pool-purge-delay',
      '1s',
      'pool-max-conn',
      '0',
    ]);
    expect(addServerWords('web', line([], '2001:db8::1', 8080))[3]).toBe('[2001:db8::1]:8080');
  });

  it('every word passes the runtime API character check', () => {
    const diff = diffConfigs(config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80', 'b [2001:db8::2]:80 check inter 2s weight 5']));
    if (diff.kind !== 'servers') throw new Error(`expected a runtime change, got ${JSON.stringify(diff)}`);
    const added = diff.backends[0]!.added[0]!;
    expect(runtimeCommand(...addServerWords('web', added))).toBe(
      'add server web/b [2001:db8::2]:80 check inter 2s weight 5 pool-purge-delay 5s pool-max-conn -1',
    );
  });
});

describe('what can reach the runtime API', () => {
  it.each(['10.0.0.1:80;shutdown', 'web 1', 'a\nshow info', 'x\r', 'a\u0000'])('refuses the word %j', (word) => {
    expect(() => runtimeCommand('add', 'server', 'web/x', word)).toThrow(/refusing to send/);
  });

  it('the socket client itself refuses a command with ; or a control character', () => {
    expect(() => masterCommand('/nonexistent.sock', 'show info;shutdown sessions', 100)).toThrow(/refusing to send/);
    expect(() => masterCommand('/nonexistent.sock', 'show info\nshow proc', 100)).toThrow(/refusing to send/);
  });
});

describe('diffConfigs reads lines as HAProxy does', () => {
  it('sees a changed section header (backend … from …) and quoted words with # or spaces', () => {
    const withHeader = (h: string, servers: string[]) => `defaults fast\n    mode http\n${h}\n${servers.map((s) => `    server ${s}\n`).join('')}`;
    expect(
      diffConfigs(withHeader('backend web from fast', ['a 10.0.0.1:80']), withHeader('backend web from slow', ['a 10.0.0.1:80', 'b 10.0.0.2:80'])).kind,
    ).toBe('reload');
    const withHeaderLine = (v: string, servers: string[]) =>
      `backend web\n    http-response set-header X ${v}\n${servers.map((s) => `    server ${s}\n`).join('')}`;
    expect(diffConfigs(withHeaderLine('"v1 #a"', ['a 10.0.0.1:80']), withHeaderLine('"v1 #b"', ['a 10.0.0.1:80', 'b 10.0.0.2:80'])).kind).toBe('reload');
    expect(diffConfigs(withHeaderLine('"a  b"', ['a 10.0.0.1:80']), withHeaderLine('"a b"', ['a 10.0.0.1:80', 'b 10.0.0.2:80'])).kind).toBe('reload');
    expect(
      diffConfigs(withHeaderLine('"a b" # note', ['a 10.0.0.1:80']), withHeaderLine('"a b"   # other note', ['a 10.0.0.1:80', 'b 10.0.0.2:80'])).kind,
    ).toBe('servers');
  });

  it('compares IPv6 addresses as HAProxy prints them, and sends agent-check servers by reload', () => {
    expect(diffConfigs(config(['a [0:0::1]:80']), config(['a [::1]:80', 'b 10.0.0.2:80']))).toMatchObject({ kind: 'servers', backends: [{ moved: [] }] });
    expect(diffConfigs(config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80', 'b 10.0.0.2:80 agent-check agent-port 9000'])).kind).toBe('reload');
  });

  it('writes an address as inet_ntop does (what HAProxy prints back): IPv4-mapped and IPv4-compatible ones end dotted', () => {
    const cases: Array<[string, string]> = [
      ['::ffff:10.0.0.1', '::ffff:10.0.0.1'],
      ['0:0:0:0:0:FFFF:0A00:0001', '::ffff:10.0.0.1'],
      ['::ffff:0:0', '::ffff:0.0.0.0'],
      ['::1.2.3.4', '::1.2.3.4'],
      ['::ffff:1', '::255.255.0.1'],
      ['::1:0', '::0.1.0.0'],
      ['::1', '::1'],
      ['::', '::'],
      ['::1:2:3', '::1:2:3'],
      ['::ffff:1:2:3', '::ffff:1:2:3'],
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
      ['64:ff9b::10.0.0.1', '64:ff9b::a00:1'],
      ['10.0.0.1', '10.0.0.1'],
    ];
    expect(cases.map(([host]) => canonicalHost(host))).toEqual(cases.map(([, shown]) => shown));
    expect(diffConfigs(config(['a [::ffff:10.0.0.1]:80']), config(['a [::ffff:a00:1]:80', 'b 10.0.0.2:80']))).toMatchObject({
      kind: 'servers',
      backends: [{ moved: [] }],
    });
  });
});
