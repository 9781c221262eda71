import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TlsSettings } from '../../src/config/types.js';
import { checkBundle } from '../../src/tls/bundle.js';
import { buildTls, UNREADABLE, type OfferedCert } from '../../src/tls/certs.js';
import { tlsPaths } from '../../src/config/tls-settings.js';
import { bundleOf, makeCa, makeLeaf, type TestCert } from '../support/certs.js';
import { makeTempDir } from '../support/temp.js';

const DAY = 86_400_000;
const settings: TlsSettings = { port: 8443, warnMs: 14 * DAY, ...tlsPaths('/etc/haproxy/haproxy.cfg') };
let ca: TestCert;
let leaf: TestCert;
let notAfter: number;

beforeAll(() => {
  const dir = makeTempDir();
  ca = makeCa(dir, 'Test CA');
  leaf = makeLeaf(dir, ca, 'a.test', { san: ['DNS:a.test'], days: 2 });
  notAfter = Date.parse(new X509Certificate(leaf.cert).validTo);
});

const offer = (value: string): { store: OfferedCert[]; dir: OfferedCert[] } => ({ store: [{ key: '/lb/certs/a', name: 'a', value }], dir: [] });

describe('buildTls, once a certificate HAProxy serves has expired', () => {
  it('keeps serving it (a change of servers is no reason to stop HTTPS), saying that it expired', () => {
    const text = bundleOf(leaf, [ca]);
    const installed = checkBundle(text, Date.now());
    if (!installed.ok) throw new Error(installed.reason);
    const lastGood = (path: string) => (path === '/etc/haproxy/haproxy.certs/a.pem' ? installed.bundle.pem : undefined);
    const model = buildTls(offer(text), settings, notAfter + DAY, lastGood);
    expect(model.certs.map((c) => [c.name, c.bundle.serial])).toEqual([['a', leaf.serial]]);
    expect(model.fallback?.name).toBe('a');
    expect(model.skipped).toEqual([
      { key: '/lb/certs/a', reason: expect.stringMatching(/expired on .*: renew it; the certificate served before keeps serving$/) },
    ]);
  });

  it('serves no expired certificate it did not serve before', () => {
    const model = buildTls(offer(bundleOf(leaf, [ca])), settings, notAfter + DAY);
    expect(model.certs).toEqual([]);
    expect(model.skipped).toEqual([{ key: '/lb/certs/a', reason: expect.stringMatching(/expired on .*: renew it$/) }]);
  });
});

describe('buildTls, of what --cert-dir could not read', () => {
  it('gives the reason of a directory that cannot be listed, or of a Secret folder missing its key, not a complaint about the name', () => {
    const dir: OfferedCert[] = [
      { key: '/run/certs/', name: '', value: `${UNREADABLE}certificate directory /run/certs does not exist` },
      { key: '/run/certs/web/tls.crt', name: 'web/tls.crt', value: `${UNREADABLE}there is no tls.key beside it: a TLS Secret holds both` },
    ];
    expect(buildTls({ store: [], dir }, settings, Date.now()).skipped).toEqual([
      { key: '/run/certs/', reason: 'certificate directory /run/certs does not exist' },
      { key: '/run/certs/web/tls.crt', reason: 'there is no tls.key beside it: a TLS Secret holds both' },
    ]);
  });

  it('names a bad name once', () => {
    const skipped = buildTls({ store: [{ key: '/lb/certs/.x', name: '.x', value: 'x' }], dir: [] }, settings, Date.now()).skipped;
    expect(skipped).toEqual([{ key: '/lb/certs/.x', reason: expect.stringMatching(/^certificate name ".x" starts with "."/) }]);
  });
});

describe('buildTls notes', () => {
  it('says when HTTPS serves nothing (none given, or none passed), and when --default-cert names none served', () => {
    expect(buildTls({ store: [], dir: [] }, settings, Date.now()).notes).toEqual([
      'no certificate is given: HTTPS (port 8443) is not served until one is (--cert-dir DIR, or lb/certs/NAME in stack mode)',
    ]);
    expect(buildTls({ store: [{ key: '/lb/certs/a', name: 'a', value: 'garbage' }], dir: [] }, settings, Date.now()).notes).toEqual([
      'no certificate passed its checks: HTTPS (port 8443) is not served until one does',
    ]);
    const served = buildTls(offer(bundleOf(leaf, [ca])), { ...settings, defaultCert: 'gone' }, Date.now());
    expect(served.notes).toEqual(['the default certificate "gone" is not served (no such bundle, or it was refused): "a" is the default']);
  });
});
