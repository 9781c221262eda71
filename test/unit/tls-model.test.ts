import { beforeAll, describe, expect, it } from 'vitest';
import { certChange } from '../../src/haproxy/runtime-certs.js';
import { buildTls, crtListFiles, crtListText, UNREADABLE, type OfferedCert } from '../../src/tls/certs.js';
import { hstsWord, parseTlsPolicy, policyWord } from '../../src/tls/policy.js';
import type { TlsSettings } from '../../src/config/types.js';
import { bundleOf, makeCa, makeLeaf, type TestCert } from '../support/certs.js';
import { makeTempDir } from '../support/temp.js';

describe("an app's TLS policy (lb/tls/<app>)", () => {
  it.each([
    ['redirect', { redirect: 301, only: false, hsts: undefined }, 'redirect-301', undefined],
    ['redirect=308 hsts', { redirect: 308, only: false, hsts: { maxAge: 31_536_000, subdomains: false, preload: false } }, 'redirect-308', '31536000'],
    ['only, hsts=600, subdomains, preload', { redirect: undefined, only: true, hsts: { maxAge: 600, subdomains: true, preload: true } }, 'only', '600.sp'],
    ['HSTS=0 Subdomains', { redirect: undefined, only: false, hsts: { maxAge: 0, subdomains: true, preload: false } }, undefined, '0.s'],
    ['', { redirect: undefined, only: false, hsts: undefined }, undefined, undefined],
  ])('%j', (text, policy, word, hsts) => {
    const parsed = parseTlsPolicy(text);
    expect(parsed).toEqual({ ok: true, value: policy });
    if (parsed.ok) expect([policyWord(parsed.value), hstsWord(parsed.value)]).toEqual([word, hsts]);
  });

  it.each([
    ['redirect only', /exclude each other/],
    ['redirect=300', /one of 301, 302, 303, 307, 308/],
    ['hsts=1y', /max-age in seconds/],
    ['preload', /goes with hsts/],
    ['https', /is not a TLS policy word: use redirect/],
    ['redirect=308=1', /two "="/],
    ['hsts;show', /is not a TLS policy word/],
  ])('refuses %j', (text, reason) => {
    const parsed = parseTlsPolicy(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });
});

const TLS: TlsSettings = {
  port: 8443,
  warnMs: 14 * 86_400_000,
  crtList: '/etc/haproxy/haproxy.crt-list',
  certsDir: '/etc/haproxy/haproxy.certs',
  maps: { policy: '/etc/haproxy/haproxy.tls.map', hsts: '/etc/haproxy/haproxy.hsts.map' },
};

describe('the certificates HTTPS serves (buildTls)', () => {
  const c = {} as { a: TestCert; b: TestCert; b2: TestCert };
  beforeAll(() => {
    const dir = makeTempDir();
    const ca = makeCa(dir, 'CA');
    Object.assign(c, {
      a: makeLeaf(dir, ca, 'a.test', { san: ['DNS:a.test'] }),
      b: makeLeaf(dir, ca, 'b.test', { san: ['DNS:b.test', 'DNS:*.b.test'] }),
      b2: makeLeaf(dir, ca, 'b.test', { san: ['DNS:b.test'] }),
    });
  }, 30_000);
  const store = (name: string, value: string): OfferedCert => ({ key: `/lb/certs/${name}`, name, value });
  const dir = (name: string, value: string): OfferedCert => ({ key: `/certs/${name}`, name, value });

  it("orders them by name, the first being the default unless --default-cert names another, and lists them after the default's copy", () => {
    const model = buildTls({ store: [store('b', bundleOf(c.b)), store('a', bundleOf(c.a))], dir: [] }, TLS, Date.now());
    expect(model.certs.map((x) => [x.name, x.path, x.bundle.names])).toEqual([
      ['a', '/etc/haproxy/haproxy.certs/a.pem', ['a.test']],
      ['b', '/etc/haproxy/haproxy.certs/b.pem', ['b.test', '*.b.test']],
    ]);
    expect(model.fallback?.name).toBe('a');
    expect(crtListFiles(crtListText(model))).toEqual([model.fallbackPath, model.certs[0]!.path, model.certs[1]!.path]);
    expect(crtListText(model)).toContain(`${model.fallbackPath} !*\n`);
    const chosen = buildTls({ store: [store('b', bundleOf(c.b)), store('a', bundleOf(c.a))], dir: [] }, { ...TLS, defaultCert: 'b' }, Date.now());
    expect(chosen.fallback?.name).toBe('b');
    const missing = buildTls({ store: [store('a', bundleOf(c.a))], dir: [] }, { ...TLS, defaultCert: 'zz' }, Date.now());
    expect([missing.fallback?.name, missing.notes]).toEqual(['a', [expect.stringMatching(/the default certificate "zz" is not served/)]]);
  });

  it("gives a name both hold to --cert-dir's bundle, naming the store's key as left out", () => {
    const model = buildTls({ store: [store('b', bundleOf(c.b))], dir: [dir('b', bundleOf(c.b2))] }, TLS, Date.now());
    expect(model.certs.map((x) => x.bundle.serial)).toEqual([c.b2.serial]);
    expect(model.skipped).toEqual([{ key: '/lb/certs/b', reason: 'the certificate "b" of --cert-dir (/certs/b) is served under that name instead' }]);
  });

  it('keeps serving the installed bundle of a name whose new one fails, and leaves out one that never passed', () => {
    const good = buildTls({ store: [store('b', bundleOf(c.b))], dir: [] }, TLS, Date.now()).certs[0]!;
    const installed = (path: string) => (path === good.path ? good.bundle.pem : undefined);
    const bad = bundleOf(c.b2, [], c.a.key);
    const model = buildTls({ store: [store('b', bad), store('x', bad)], dir: [] }, TLS, Date.now(), installed);
    expect(model.certs.map((x) => [x.name, x.bundle.serial])).toEqual([['b', c.b.serial]]);
    expect(model.skipped.map((s) => [s.key, /keeps serving/.test(s.reason)])).toEqual([
      ['/lb/certs/b', true],
      ['/lb/certs/x', false],
    ]);
  });

  it('names an unreadable --cert-dir entry with its reason, and a name that cannot be a file', () => {
    const model = buildTls({ store: [store('.hidden', bundleOf(c.a))], dir: [dir('x', `${UNREADABLE}x.crt has no x.key beside it`)] }, TLS, Date.now());
    expect(model.certs).toEqual([]);
    expect(model.fallback).toBeUndefined();
    expect(model.skipped.map((s) => s.reason)).toEqual([expect.stringMatching(/^x\.crt has no x\.key/), expect.stringMatching(/^certificate name /)]);
  });

  it('plans the runtime change against the crt-list installed: added, rotated and removed bundles', () => {
    const pem = (name: string) => `${name}'s bundle`;
    const file = (name: string) => ({ path: `/d/${name}.pem`, pem: pem(name), serial: '1' });
    const installed = new Map([
      ['/d/list', '# comment\n/d/.default.pem !*\n/d/a.pem\n/d/b.pem\n'],
      ['/d/.default.pem', pem('.default')],
      ['/d/a.pem', pem('a')],
      ['/d/b.pem', 'an older bundle'],
    ]);
    const change = certChange('/d/list', [file('.default'), file('a'), file('b'), file('c')], installed);
    expect([change.added.map((x) => x.path), change.rotated.map((x) => x.path), change.removed]).toEqual([['/d/c.pem'], ['/d/b.pem'], []]);
    const gone = certChange('/d/list', [file('.default'), file('b')], installed);
    expect([gone.added, gone.rotated.map((x) => x.path), gone.removed]).toEqual([[], ['/d/b.pem'], ['/d/a.pem']]);
  });
});
