import { createPrivateKey, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CERT_NAME, certNameReason, checkBundle, normalizeSerial, type CertBundle } from '../../src/tls/bundle.js';
import { hasExtension, SUBJECT_ALT_NAME_OID } from '../../src/tls/der.js';
import { bundleOf, makeCa, makeIntermediate, makeLeaf, runOpenssl, type TestCert } from '../support/certs.js';
import { makeTempDir } from '../support/temp.js';

const DAY = 24 * 3_600_000;
let dir: string;
let ca: TestCert;
let mid: TestCert;
let leaf: TestCert;
let rsaLeaf: TestCert;
let wildcard: TestCert;
let cnOnly: TestCert;
let other: TestCert;

beforeAll(() => {
  dir = makeTempDir();
  ca = makeCa(dir, 'Test Root CA');
  mid = makeIntermediate(dir, ca, 'Test Mid CA');
  leaf = makeLeaf(dir, mid, 'a.test', { san: ['DNS:a.test', 'DNS:*.a.test', 'IP:127.0.0.1'] });
  rsaLeaf = makeLeaf(dir, mid, 'r.test', { san: ['DNS:r.test'], rsa: true, serial: '0A1B' });
  wildcard = makeLeaf(dir, ca, 'w.test', { san: ['DNS:*.W.test', 'DNS:W.Test', 'DNS:w.test'] });
  cnOnly = makeLeaf(dir, ca, 'Plain.Test');
  other = makeLeaf(dir, mid, 'other.test', { san: ['DNS:other.test'] });
});

/** Every 16-character run of the base64 in a PEM text (certificates and keys alike). */
function base64Runs(text: string): string[] {
  const base64 = text
    .split(/\r?\n/)
    .filter((line) => /^[A-Za-z0-9+/=]+$/.test(line))
    .join('');
  return Array.from({ length: Math.max(0, base64.length - 15) }, (_, i) => base64.slice(i, i + 16));
}

/** Checks a bundle that must be refused; its reason must say `expected` and show nothing of the input. */
function refused(text: string, expected: RegExp, now = Date.now()): string {
  const result = checkBundle(text, now);
  if (result.ok) throw new Error(`accepted a bundle that should be refused with ${String(expected)}`);
  expect(result.reason).toMatch(expected);
  expect(result.reason).not.toMatch(/[\r\n]/);
  expect(base64Runs(text).filter((run) => result.reason.includes(run))).toEqual([]);
  return result.reason;
}

/** Checks a bundle that must be accepted, and that what HAProxy would get is clean PEM. */
function accepted(text: string, now = Date.now()): CertBundle {
  const result = checkBundle(text, now);
  if (!result.ok) throw new Error(`refused: ${result.reason}`);
  const { pem } = result.bundle;
  expect(pem.endsWith('\n')).toBe(true);
  expect(pem).not.toContain('\r');
  const lines = pem.slice(0, -1).split('\n');
  const odd = lines.filter((line) => !/^-----(BEGIN|END) (CERTIFICATE|PRIVATE KEY)-----$/.test(line) && !/^[A-Za-z0-9+/]{1,64}={0,2}$/.test(line));
  expect(odd).toEqual([]);
  expect(lines.filter((line) => line === '')).toEqual([]);
  return result.bundle;
}

/** The DER of each block of a clean PEM text, with its label. */
const blocksOf = (pem: string) =>
  [...pem.matchAll(/-----BEGIN ([A-Z ]+)-----\n([A-Za-z0-9+/=\n]+?)-----END \1-----\n/g)].map((m) => ({
    label: m[1],
    der: Buffer.from(m[2]!.replace(/\n/g, ''), 'base64'),
  }));

const derOf = (cert: TestCert) => new X509Certificate(cert.cert).raw;
const pkcs8Of = (key: string) => createPrivateKey(key).export({ type: 'pkcs8', format: 'der' });
const opensslDate = (cert: TestCert, which: 'startdate' | 'enddate') =>
  Date.parse(
    runOpenssl(['x509', '-noout', `-${which}`], cert.cert)
      .trim()
      .replace(/^not\w+=/, ''),
  );

describe('checkBundle accepts', () => {
  it('a leaf with its chain, and gives what HAProxy and a comparison need', () => {
    const bundle = accepted(bundleOf(leaf, [mid, ca]));
    expect(bundle.names).toEqual(['a.test', '*.a.test']);
    expect(bundle.serial).toBe(leaf.serial);
    expect(bundle.subject).toBe('CN=a.test');
    expect(bundle.issuer).toBe('CN=Test Mid CA');
    expect(bundle.fingerprint).toBe(new X509Certificate(leaf.cert).fingerprint256);
    expect(bundle.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(bundle.notBefore).toBe(opensslDate(leaf, 'startdate'));
    expect(bundle.notAfter).toBe(opensslDate(leaf, 'enddate'));
    expect(blocksOf(bundle.pem)).toEqual([
      { label: 'CERTIFICATE', der: derOf(leaf) },
      { label: 'CERTIFICATE', der: derOf(mid) },
      { label: 'CERTIFICATE', der: derOf(ca) },
      { label: 'PRIVATE KEY', der: pkcs8Of(leaf.key) },
    ]);
  });

  it('a leaf alone, and a chain without its root', () => {
    expect(blocksOf(accepted(bundleOf(wildcard)).pem).map((b) => b.label)).toEqual(['CERTIFICATE', 'PRIVATE KEY']);
    expect(blocksOf(accepted(bundleOf(leaf, [mid])).pem)).toHaveLength(3);
  });

  it('wildcard names, lower-cased, each once, in the certificate order', () => {
    expect(accepted(bundleOf(wildcard, [ca])).names).toEqual(['*.w.test', 'w.test']);
  });

  it('the CN as the name when there is no DNS subjectAltName', () => {
    expect(accepted(bundleOf(cnOnly, [ca])).names).toEqual(['plain.test']);
  });

  it('RSA keys, PKCS#8 and PKCS#1, re-encoded as PKCS#8; the serial without its leading zero', () => {
    const pkcs1 = runOpenssl(['pkey', '-traditional'], rsaLeaf.key);
    expect(pkcs1).toContain('-----BEGIN RSA PRIVATE KEY-----');
    for (const key of [rsaLeaf.key, pkcs1]) {
      const bundle = accepted(bundleOf(rsaLeaf, [mid], key));
      expect(blocksOf(bundle.pem).at(-1)).toEqual({ label: 'PRIVATE KEY', der: pkcs8Of(rsaLeaf.key) });
      expect(bundle.serial).toBe('A1B');
    }
  });

  it('EC keys in SEC1 form, leaving out EC and DH parameters', () => {
    const sec1 = runOpenssl(['pkey', '-traditional'], leaf.key);
    expect(sec1).toContain('-----BEGIN EC PRIVATE KEY-----');
    const ecParams = runOpenssl(['ecparam', '-name', 'prime256v1']);
    const dhParams = runOpenssl(['genpkey', '-genparam', '-algorithm', 'DH', '-pkeyopt', 'group:ffdhe2048']);
    expect(dhParams).toContain('-----BEGIN DH PARAMETERS-----');
    const bundle = accepted(bundleOf(leaf, [mid], ecParams + sec1) + dhParams);
    expect(bundle.pem).toBe(accepted(bundleOf(leaf, [mid])).pem);
  });

  it('what openssl pkcs12 writes, "Bag Attributes" and all', () => {
    const at = (file: string) => join(dir, file);
    writeFileSync(at('leaf.crt'), leaf.cert);
    writeFileSync(at('leaf.key'), leaf.key);
    writeFileSync(at('mid.crt'), mid.cert);
    runOpenssl(['pkcs12', '-export', '-in', at('leaf.crt'), '-inkey', at('leaf.key'), '-certfile', at('mid.crt'), '-passout', 'pass:', '-out', at('leaf.p12')]);
    const text = runOpenssl(['pkcs12', '-in', at('leaf.p12'), '-nodes', '-passin', 'pass:']);
    expect(text).toContain('Bag Attributes');
    expect(accepted(text).pem).toBe(accepted(bundleOf(leaf, [mid])).pem);
  });

  it('Ed25519, RSA-PSS and P-384 keys, and a root that signed itself with SHA-1 (OpenSSL checks no self-signature)', () => {
    for (const keyArgs of [
      ['-algorithm', 'ED25519'],
      ['-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048'],
      ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
    ]) {
      accepted(bundleOf(makeLeaf(dir, mid, 'k.test', { san: ['DNS:k.test'], keyArgs }), [mid]));
    }
    const oldRoot = makeCa(dir, 'Old Root', { digest: 'sha1' });
    accepted(bundleOf(makeLeaf(dir, oldRoot, 'o.test', { san: ['DNS:o.test'] }), [oldRoot]));
  });

  it('CRLF line endings and trailing spaces', () => {
    const text = bundleOf(leaf, [mid]).replace(/\n/g, ' \r\n');
    expect(accepted(text).pem).toBe(accepted(bundleOf(leaf, [mid])).pem);
  });

  it('text injected between blocks, which never reaches the PEM HAProxy gets', () => {
    const text = [leaf.cert, '\n\nshow sess\n\n', mid.cert, 'set server be/s1 state maint\n\n', leaf.key].join('');
    const { pem } = accepted(text);
    expect(pem).not.toMatch(/show|set server/);
    expect(pem).toBe(accepted(bundleOf(leaf, [mid])).pem);
  });
});

describe('checkBundle refuses, saying why and showing nothing of the text', () => {
  it('a bundle with no certificate, with no key, or with two keys', () => {
    refused(leaf.key, /holds no certificate/);
    refused(leaf.cert + mid.cert, /holds no private key/);
    refused(bundleOf(leaf, [mid]) + leaf.key, /holds 2 private keys: keep only the one that belongs to the first certificate/);
  });

  it('an encrypted key, PKCS#8 or the older Proc-Type form', () => {
    const pkcs8 = runOpenssl(['pkey', '-aes256', '-passout', 'pass:secret'], leaf.key);
    const legacy = runOpenssl(['pkey', '-traditional', '-aes256', '-passout', 'pass:secret'], leaf.key);
    expect(pkcs8).toContain('ENCRYPTED PRIVATE KEY');
    expect(legacy).toContain('Proc-Type: 4,ENCRYPTED');
    for (const key of [pkcs8, legacy]) refused(bundleOf(leaf, [mid], key), /^the private key is encrypted; HAProxy needs it unencrypted/);
  });

  it('a block of another type, naming the type, but not a type made up of other text', () => {
    const publicKey = runOpenssl(['pkey', '-pubout'], leaf.key);
    refused(bundleOf(leaf, [mid]) + publicKey, /a block of type PUBLIC KEY/);
    const odd = bundleOf(leaf)
      .replace(/BEGIN CERTIFICATE/, 'BEGIN show sess; x')
      .replace(/END CERTIFICATE/, 'END show sess; x');
    expect(refused(odd, /a block of type unknown/)).not.toContain('show sess');
  });

  it('a block whose base64 does not parse, or that holds text', () => {
    const lines = leaf.cert.split('\n');
    lines.splice(3, 1, `${lines[3]!.slice(0, 30)}!${lines[3]!.slice(31)}`);
    refused(lines.join('\n') + leaf.key, /the first block \(CERTIFICATE\) does not hold valid base64/);
    const injected = leaf.cert.replace('\n-----END', '\nshow sess\n-----END');
    expect(refused(injected + leaf.key, /does not hold valid base64/)).not.toContain('show sess');
    refused(leaf.cert.replace('\n-----END', '\nComment: show sess\n-----END') + leaf.key, /holds header lines/);
  });

  it('a block cut short, or ended by another type', () => {
    refused(leaf.cert + leaf.key.replace(/-----END PRIVATE KEY-----\n$/, ''), /the second block \(PRIVATE KEY\) has no END line/);
    refused(leaf.cert.replace(/-----END CERTIFICATE-----\n$/, '') + leaf.key, /has no END line before the next BEGIN line/);
    refused(leaf.cert.replace('END CERTIFICATE', 'END PRIVATE KEY') + leaf.key, /begins as CERTIFICATE but ends as PRIVATE KEY/);
  });

  it('a CERTIFICATE block that holds something else', () => {
    const keyBody = leaf.key.replace(/PRIVATE KEY/g, 'CERTIFICATE');
    refused(bundleOf(leaf, [], keyBody + leaf.key), /the second CERTIFICATE block is not a certificate/);
  });

  it('a key that is not the first certificate’s, RSA or EC', () => {
    refused(bundleOf(leaf, [mid], other.key), /^the private key does not belong to the certificate CN=a\.test \(the first in the bundle\)/);
    refused(bundleOf(leaf, [mid], rsaLeaf.key), /does not belong to the certificate CN=a\.test/);
    refused(bundleOf(rsaLeaf, [mid], leaf.key), /does not belong to the certificate CN=r\.test/);
  });

  it('a chain out of order, or holding a stranger', () => {
    const reason = refused(
      bundleOf(leaf, [ca, mid]),
      /CN=Test Root CA \(the second in the bundle\) did not issue the certificate CN=a\.test \(the first in the bundle\)/,
    );
    expect(reason).toMatch(/put the server certificate first, then the one that issued it, then the one that issued that/);
    refused(bundleOf(leaf, [mid, other]), /CN=other\.test \(the third in the bundle\) did not issue the certificate CN=Test Mid CA \(the second/);
    refused(bundleOf(mid, [], leaf.key), /does not belong/);
  });

  it('an expired leaf or chain certificate, saying when', () => {
    const expired = makeLeaf(dir, mid, 'old.test', {
      san: ['DNS:old.test'],
      notBefore: new Date('2020-01-01T00:00:00Z'),
      notAfter: new Date('2021-01-01T00:00:00Z'),
    });
    refused(bundleOf(expired, [mid]), /^the certificate CN=old\.test \(the first in the bundle\) expired on 2021-01-01T00:00:00Z: renew it/);
    const oldMid = makeIntermediate(dir, ca, 'Old Mid CA', { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2022-06-30T12:00:00Z') });
    const underOld = makeLeaf(dir, oldMid, 'b.test', {
      san: ['DNS:b.test'],
      notBefore: new Date('2020-02-01T00:00:00Z'),
      notAfter: new Date(Date.now() + 30 * DAY),
    });
    refused(bundleOf(underOld, [oldMid]), /CN=Old Mid CA \(the second in the bundle\) expired on 2022-06-30T12:00:00Z/);
    // The same bundle, checked at a time when all of it was valid.
    accepted(bundleOf(underOld, [oldMid]), Date.parse('2021-01-01T00:00:00Z'));
    refused(bundleOf(leaf, [mid]), /expired on/, Date.now() + 400 * DAY);
  });

  it('a certificate that is not valid yet, with the date', () => {
    const start = new Date(Math.ceil((Date.now() + 10 * DAY) / 1000) * 1000);
    const future = makeLeaf(dir, ca, 'soon.test', { san: ['DNS:soon.test'], notBefore: start, days: 90 });
    refused(
      bundleOf(future, [ca]),
      new RegExp(`CN=soon\\.test \\(the first in the bundle\\) is not valid before ${start.toISOString().replace('.000Z', 'Z')}`),
    );
  });

  it('a certificate that names no host: only IP addresses, and a CN that is not a host name', () => {
    const ipOnly = makeLeaf(dir, ca, 'Test IP', { san: ['IP:127.0.0.1', 'IP:::1'] });
    refused(bundleOf(ipOnly, [ca]), /CN=Test IP \(the first in the bundle\) names no host: its subjectAltName has no DNS name \(only IP addresses\)/);
    const noName = makeLeaf(dir, ca, 'Test Server');
    refused(bundleOf(noName, [ca]), /names no host/);
  });

  // Each of these passed before and made `haproxy -c` fail (or every handshake for its name): every change after it was refused.
  it('a key HAProxy refuses or no client signs a handshake with: RSA under 2048 bits, DSA, SM2, EC on a curve clients do not take', () => {
    const dsaParams = join(dir, 'dsa-params.pem');
    runOpenssl(['genpkey', '-genparam', '-algorithm', 'DSA', '-pkeyopt', 'dsa_paramgen_bits:1024', '-out', dsaParams]);
    const cases: Array<[string[], RegExp]> = [
      [['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'], /its RSA key has 1024 bits; HAProxy refuses fewer than 2048/],
      [['-paramfile', dsaParams], /its key is DSA, which TLS clients no longer accept/],
      [['-algorithm', 'SM2'], /its key is of a type HAProxy cannot serve/],
      [['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-192'], /its EC key is on prime192v1, which TLS clients do not accept/],
      [['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:brainpoolP256r1'], /its EC key is on brainpoolP256r1/],
    ];
    for (const [keyArgs, why] of cases) {
      const weak = makeLeaf(dir, mid, 'weak.test', { san: ['DNS:weak.test'], keyArgs });
      const reason = refused(bundleOf(weak, [mid]), why);
      expect(reason).toMatch(/^the certificate CN=weak\.test \(the first in the bundle\) cannot be served: .*: issue it with RSA \(2048 bits or more\), ECDSA/);
    }
  });

  it('a chain certificate whose public key cannot be read (an algorithm no one knows): refused, never thrown', () => {
    const der = Buffer.from(derOf(mid));
    const ecPublicKey = Buffer.from('06072a8648ce3d0201', 'hex');
    der[der.indexOf(ecPublicKey) + ecPublicKey.length - 1] = 0x09;
    const odd = `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
    expect(() => new X509Certificate(der).publicKey).toThrow();
    refused(leaf.cert + odd + leaf.key, /CN=Test Mid CA \(the second in the bundle\) did not issue the certificate CN=a\.test/);
  });

  it('a chain certificate with a key HAProxy refuses, and a certificate another signed with SHA-1 or MD5', () => {
    const smallCa = makeCa(dir, 'Small CA', { keyArgs: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'] });
    const underSmall = makeLeaf(dir, smallCa, 's.test', { san: ['DNS:s.test'] });
    refused(bundleOf(underSmall, [smallCa]), /the certificate CN=Small CA \(the second in the bundle\) cannot be served: its RSA key has 1024 bits/);
    const rsaCa = makeCa(dir, 'RSA CA', { rsa: true });
    for (const [digest, name] of [
      ['sha1', 'SHA-1'],
      ['md5', 'MD5'],
    ]) {
      const signed = makeLeaf(dir, rsaCa, 'h.test', { san: ['DNS:h.test'], digest });
      refused(
        bundleOf(signed, [rsaCa]),
        new RegExp(`CN=h\\.test \\(the first in the bundle\\) cannot be served: it is signed with ${name}, which HAProxy refuses`),
      );
    }
  });

  it('a chain certificate signed with an algorithm OpenSSL does not know (HAProxy refuses to load it)', () => {
    const der = Buffer.from(derOf(mid));
    const ecdsaSha256 = Buffer.from('06082a8648ce3d040302', 'hex');
    der[der.lastIndexOf(ecdsaSha256) + ecdsaSha256.length - 1] = 0x09; // the outer signatureAlgorithm: 1.2.840.10045.4.3.9
    const odd = `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
    refused(leaf.cert + odd + leaf.key, /CN=Test Mid CA \(the second in the bundle\) cannot be served: it is signed with an algorithm it does not know/);
  });

  it('a subjectAltName node cannot read (a length past its end): refused, never thrown', () => {
    const der = Buffer.from(derOf(wildcard));
    const san = der.indexOf(Buffer.from('0603551d11', 'hex'));
    expect(der.subarray(san + 5, san + 6).toString('hex') + der.subarray(san + 7, san + 8).toString('hex')).toBe('0430');
    der[san + 8] = 0x7f;
    // Node cannot format it: some lines throw (24.22.1), others say there is none (20, 24.22.3).
    const shown = () => {
      try {
        return new X509Certificate(der).subjectAltName ?? undefined;
      } catch {
        return undefined;
      }
    };
    expect(shown()).toBeUndefined();
    const cert = `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
    refused(cert + wildcard.key, /^the subjectAltName of the certificate CN=w\.test \(the first in the bundle\) cannot be read/);
  });

  it("tells a subjectAltName node cannot read from none, from the certificate's own bytes", () => {
    expect(hasExtension(Buffer.from(derOf(wildcard)), SUBJECT_ALT_NAME_OID)).toBe(true);
    expect(hasExtension(Buffer.from(derOf(cnOnly)), SUBJECT_ALT_NAME_OID)).toBe(false);
    // Its other extensions are found: none is not for want of reading them (basicConstraints, keyUsage).
    expect(hasExtension(Buffer.from(derOf(cnOnly)), '551d13')).toBe(true);
    expect(hasExtension(Buffer.from(derOf(cnOnly)), '551d0f')).toBe(true);
    const cut = Buffer.from(derOf(wildcard)).subarray(0, 200);
    expect(hasExtension(cut, SUBJECT_ALT_NAME_OID)).toBeUndefined();
  });

  it('reads hostile bytes without throwing: every byte of a certificate set to a length-like value, and every cut', () => {
    const der = Buffer.from(derOf(wildcard));
    const kinds = new Set<string>();
    for (let at = 0; at < der.length; at++)
      for (const value of [0x00, 0x7f, 0x84, 0xff]) {
        const bad = Buffer.from(der);
        bad[at] = value;
        const found = hasExtension(bad, SUBJECT_ALT_NAME_OID);
        expect([true, false, undefined]).toContain(found);
        kinds.add(String(found));
      }
    // The walk both finds the extension where the bytes still hold it, and gives up where they do not.
    expect(kinds).toEqual(new Set(['true', 'false', 'undefined']));
    // Cut anywhere, a length's own bytes included: never read past the end.
    for (let length = 0; length < der.length; length++) expect(hasExtension(der.subarray(0, length), SUBJECT_ALT_NAME_OID)).not.toBe(true);
  });

  it('a subjectAltName that is not a DNS name', () => {
    for (const bad of ['bad_name.test', 'a.*.test', '*', 'a..test', '10.0.0.1', `${'x'.repeat(64)}.test`]) {
      const cert = makeLeaf(dir, ca, 'c.test', { san: ['DNS:c.test', `DNS:${bad}`] });
      refused(bundleOf(cert, [ca]), /names ".*", which is not a DNS name/);
    }
  });
});

describe('certificate names', () => {
  it.each(['a', 'www.example.com', '_default', 'a-b_c.1', 'x'.repeat(100)])('%j is one', (name) => {
    expect(CERT_NAME.test(name)).toBe(true);
    expect(certNameReason(name)).toBeUndefined();
  });

  it.each([
    ['', /cannot be empty/],
    ['..data', /starts with "\."/],
    ['.hidden', /starts with "\."/],
    ['-x', /starts with "-"/],
    ['a/b', /holds characters other than/],
    ['a b', /holds characters other than/],
    ['é', /holds characters other than/],
    ['x'.repeat(101), /longer than 100 characters/],
  ])('%j is not one', (name, reason) => {
    expect(CERT_NAME.test(name)).toBe(false);
    expect(certNameReason(name)).toMatch(reason);
  });
});

describe('normalizeSerial', () => {
  it('reads HAProxy’s whole-byte serial as CertBundle.serial holds it', () => {
    expect(normalizeSerial('0A1B')).toBe('A1B');
    expect(normalizeSerial('00ff')).toBe('FF');
    expect(normalizeSerial('0')).toBe('0');
  });
});
