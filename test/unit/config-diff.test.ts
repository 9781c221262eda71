import { describe, expect, it } from 'vitest';
import { diffConfigs } from '../../src/haproxy/config-diff.js';
import { runtimeCommand } from '../../src/haproxy/runtime.js';
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

describe('diffConfigs', () => {
  it('finds servers added, removed and moved, and keeps what the backend must hold', () => {
    const diff = diffConfigs(config(['a 10.0.0.1:80 check', 'b 10.0.0.2:80 check']), config(['b 10.0.0.9:81 check', 'c 10.0.0.3:80 check']));
    expect(diff).toMatchObject({
      kind: 'servers',
      backends: [{
        backend: 'web',
        added: [{ name: 'c', host: '10.0.0.3', port: 80, options: ['check'] }],
        removed: [{ name: 'a' }],
        moved: [{ from: { name: 'b', host: '10.0.0.2' }, to: { name: 'b', host: '10.0.0.9', port: 81 } }],
      }],
    });
    if (diff.kind === 'servers') expect(diff.backends[0]!.servers.map((s) => s.name)).toEqual(['b', 'c']);
  });

  it('says "same" for identical configs', () => {
    expect(diffConfigs(config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80']))).toEqual({ kind: 'same' });
  });

  it.each([
    ['a directive changes', config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80'], { ...base, backend: '    timeout server 5s' }), 'a directive changed'],
    ['a backend is added', config(['a 10.0.0.1:80']), `${config(['a 10.0.0.1:80'])}backend api\n    server x 10.0.0.5:80\n`, 'sections were added'],
    ['server options change', config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80 check']), 'the options of server a changed'],
    ['the balance is not dynamic', config(['a 10.0.0.1:80'], { ...base, balance: 'static-rr' }), config(['a 10.0.0.1:80', 'b 10.0.0.2:80'], { ...base, balance: 'static-rr' }), 'balance static-rr'],
    ['a server is a host name', config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80', 'b web.internal:80 check init-addr last,libc,none']), 'host name'],
    ['default-server is set', config(['a 10.0.0.1:80'], { ...base, backend: '    default-server inter 3s' }), config(['a 10.0.0.1:80', 'b 10.0.0.2:80'], { ...base, backend: '    default-server inter 3s' }), 'default-server'],
    ['a server line carries ;', config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80', 'b 10.0.0.2:80;shutdown']), 'contains \';\''],
    ['an option carries ;', config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80', 'b 10.0.0.2:80 check;disable']), 'cannot be sent to the runtime API'],
  ])('needs a reload when %s', (_, before, after, reason) => {
    const diff = diffConfigs(before, after);
    expect(diff.kind).toBe('reload');
    if (diff.kind === 'reload') expect(diff.reason).toContain(reason);
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
    expect(diffConfigs(withHeader('backend web from fast', ['a 10.0.0.1:80']), withHeader('backend web from slow', ['a 10.0.0.1:80', 'b 10.0.0.2:80'])).kind).toBe('reload');
    const withHeaderLine = (v: string, servers: string[]) => `backend web\n    http-response set-header X ${v}\n${servers.map((s) => `    server ${s}\n`).join('')}`;
    expect(diffConfigs(withHeaderLine('"v1 #a"', ['a 10.0.0.1:80']), withHeaderLine('"v1 #b"', ['a 10.0.0.1:80', 'b 10.0.0.2:80'])).kind).toBe('reload');
    expect(diffConfigs(withHeaderLine('"a  b"', ['a 10.0.0.1:80']), withHeaderLine('"a b"', ['a 10.0.0.1:80', 'b 10.0.0.2:80'])).kind).toBe('reload');
    expect(diffConfigs(withHeaderLine('"a b" # note', ['a 10.0.0.1:80']), withHeaderLine('"a b"   # other note', ['a 10.0.0.1:80', 'b 10.0.0.2:80'])).kind).toBe('servers');
  });

  it('compares IPv6 addresses as HAProxy prints them, and sends agent-check servers by reload', () => {
    expect(diffConfigs(config(['a [0:0::1]:80']), config(['a [::1]:80', 'b 10.0.0.2:80']))).toMatchObject({ kind: 'servers', backends: [{ moved: [] }] });
    expect(diffConfigs(config(['a 10.0.0.1:80']), config(['a 10.0.0.1:80', 'b 10.0.0.2:80 agent-check agent-port 9000'])).kind).toBe('reload');
  });
});
