import { describe, expect, it } from 'vitest';
import { rejectedLine, skippedLine, strictRefusal } from '../../src/plan/rules.js';
import type { Settings } from '../../src/config/settings.js';
import { isServerName, MAX_NAME_LENGTH, parseServerAddress } from '../../src/values/server.js';
import { parseServers } from '../../src/values/servers.js';

describe('parseServerAddress', () => {
  it.each([
    ['10.9.1.1:32001', '10.9.1.1:32001', false],
    ['[::1]:8080', '[::1]:8080', false],
    ['[2001:db8::5]:443', '[2001:db8::5]:443', false],
    ['web-1.example.internal:80', 'web-1.example.internal:80', true],
    ['localhost:65535', 'localhost:65535', true],
  ])('accepts %s', (value, address, hostname) => {
    const parsed = parseServerAddress(value);
    expect(parsed).toMatchObject({ ok: true, value: { address, hostname } });
  });

  it.each([
    ['', 'value is empty'],
    ['10.0.0.1:80\nlisten evil', 'line break'],
    ['10.0.0.1:80\r', 'line break'],
    ['10.0.0.1:80\u0000', 'control character'],
    ['10.0.0.1:80 backup', 'whitespace'],
    ['10.0.0.1:80#x', "'#'"],
    ['10.0.0.1:80;disable', "';'"],
    ['${HOME}:80', "'$'"],
    ['"10.0.0.1":80', `'"'`],
    ["'10.0.0.1':80", "'''"],
    ['10.0.0.1:0', 'outside 1-65535'],
    ['10.0.0.1:65536', 'outside 1-65535'],
    ['10.0.0.1:http', 'not a whole number from 1 to 65535'],
    ['10.0.0.1', 'missing ":port"'],
    ['::1:80', 'needs brackets'],
    ['[::g]:80', 'not an IPv6 address'],
    ['[fe80::1%eth0]:80', 'IPv6 zone'],
    ['10.0.0.1:80\u2028', 'line break'],
    ['10.0.0.1:80\u0085', 'line break'],
    ['10.0.0.1:80\u009b', 'control character'],
    ['10.0.0.256:80', 'not an IPv4 address or host name'],
    ['-bad-.example:80', 'not an IPv4 address or host name'],
  ])('rejects %j', (value, reason) => {
    const parsed = parseServerAddress(value);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });
});

describe('parseServers', () => {
  const pair = (name: string, value = '10.0.0.1:80') => ({ key: `/apps/x/${name}`, value });

  it('keeps valid names and key order, and skips bad entries with their key', () => {
    const list = parseServers([pair('a'), pair('b', 'nope'), pair('c', '10.0.0.3:81')]);
    expect(list.servers.map((s) => `${s.name} ${s.address}`)).toEqual(['a 10.0.0.1:80', 'c 10.0.0.3:81']);
    expect(list.skipped).toEqual([{ key: '/apps/x/b', reason: 'missing ":port"' }]);
  });

  it('maps unsafe names to unique safe ones, never taking a name that was already valid', () => {
    const list = parseServers([pair('web 1'), pair('web_1'), pair('web#1'), pair('💥')]);
    const names = list.servers.map((s) => s.name);
    expect(names).toEqual(['web_1-2', 'web_1', 'web_1-3', '_']);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9._:-]+$/);
    expect(list.renamed.map((r) => r.key)).toEqual(['/apps/x/web 1', '/apps/x/web#1', '/apps/x/💥']);
  });
});

describe('the cap on server names', () => {
  const pair = (name: string) => ({ key: `/apps/x/${name}`, value: '10.0.0.1:80' });

  it('takes a name of MAX_NAME_LENGTH (253, the longest DNS name) as it is, and skips a longer one, saying why', () => {
    expect(MAX_NAME_LENGTH).toBe(253);
    const atCap = 'a'.repeat(253);
    const list = parseServers([pair(atCap), pair('b'.repeat(254)), pair('c'.repeat(70_000)), pair('ok')]);
    expect(list.servers.map((s) => s.name)).toEqual([atCap, 'ok']);
    expect(list.skipped.map((s) => [s.key.length, s.reason])).toEqual([
      [262, 'server name is 254 characters long, more than the 253 a name may have'],
      [70_008, 'server name is 70000 characters long, more than the 253 a name may have'],
    ]);
    expect([isServerName(atCap), isServerName(`${atCap}a`)]).toEqual([true, false]);
  });

  it('keeps a mapped name that needs a suffix to be unique within the cap', () => {
    const [mapped, twin] = [`${'a'.repeat(252)} `, `${'a'.repeat(252)}#`];
    const list = parseServers([pair(`${'a'.repeat(252)}_`), pair(mapped), pair(twin)]);
    const names = list.servers.map((s) => s.name);
    expect(new Set(names).size).toBe(3);
    for (const name of names) expect(name.length).toBeLessThanOrEqual(253);
    expect(names.slice(1)).toEqual([`${'a'.repeat(251)}-2`, `${'a'.repeat(251)}-3`]);
  });

  it('names a long key in a warning by its start and its length, never whole', () => {
    const key = `/apps/x/${'c'.repeat(70_000)}`;
    const entry = { key, reason: 'server name is 70000 characters long, more than the 253 a name may have' };
    const line = skippedLine(entry);
    expect(line).toBe(`skipped /apps/x/${'c'.repeat(52)}… (70008 characters): ${entry.reason}`);
    expect(rejectedLine(entry)).toContain(`rejected /apps/x/${'c'.repeat(52)}… (70008 characters) by --strict`);
    const refusal = strictRefusal({ strict: true } as Settings, [entry])!;
    expect(refusal.detail!.length).toBeLessThan(200);
    // A key of a usual prefix and a name at the cap reads whole.
    const whole = `/apps/x/${'d'.repeat(253)}`;
    expect(skippedLine({ key: whole, reason: 'r' })).toBe(`skipped ${whole}: r`);
  });
});

describe('parseServers from one answer to the next (each entry parsed once, while its value stays)', () => {
  it('follows a changed value, a value that turns bad and back, and a name that needs mapping', () => {
    const key = '/apps/kept/containers/one';
    expect(parseServers([{ key, value: '10.0.0.1:80' }]).servers).toMatchObject([{ name: 'one', host: '10.0.0.1', port: 80 }]);
    expect(parseServers([{ key, value: '10.0.0.2:81' }]).servers).toMatchObject([{ name: 'one', host: '10.0.0.2', port: 81 }]);
    expect(parseServers([{ key, value: 'nope' }])).toMatchObject({ servers: [], skipped: [{ key }] });
    expect(parseServers([{ key, value: '10.0.0.2:81' }]).servers).toMatchObject([{ host: '10.0.0.2', port: 81 }]);
    const mapped = [
      { key: '/apps/kept/containers/a b', value: '10.0.0.3:80' },
      { key: '/apps/kept/containers/a_b', value: '10.0.0.4:80' },
    ];
    expect(parseServers(mapped).servers.map((s) => s.name)).toEqual(['a_b-2', 'a_b']);
    expect(parseServers(mapped).servers.map((s) => s.name)).toEqual(['a_b-2', 'a_b']);
  });

  it('hands out servers of their own: a template that changes one does not change the next answer', () => {
    const pairs = [{ key: '/apps/kept/containers/two', value: '10.0.0.5:80' }];
    const first = parseServers(pairs).servers[0]!;
    first.host = '6.6.6.6';
    expect(parseServers(pairs).servers[0]).toMatchObject({ host: '10.0.0.5' });
  });
});
