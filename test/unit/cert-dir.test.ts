import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkBundle } from '../../src/tls/bundle.js';
import { certDirPairs } from '../../src/kv/with-cert-dir.js';
import { UNREADABLE } from '../../src/tls/certs.js';
import { readCertDir } from '../../src/tls/cert-dir.js';
import { bundleOf, makeCa, makeLeaf, type TestCert } from '../support/certs.js';
import { makeTempDir } from '../support/temp.js';

let ca: TestCert;
let a: TestCert;
let b: TestCert;

beforeAll(() => {
  const dir = makeTempDir();
  ca = makeCa(dir, 'Dir Test CA');
  a = makeLeaf(dir, ca, 'a.test', { san: ['DNS:a.test'] });
  b = makeLeaf(dir, ca, 'b.test', { san: ['DNS:b.test'] });
});

/** Writes files (path → text) under a fresh directory named `name`, making folders on the way. */
function tree(files: Record<string, string>, name = 'certs'): string {
  const dir = join(makeTempDir(), name);
  mkdirSync(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/**
 * What Kubernetes' atomic writer makes of a TLS Secret in `dir`: the files in a timestamped
 * folder, `..data` pointing at it, and each key a symlink through `..data`.
 */
function mountSecret(dir: string, files: Record<string, string>): void {
  const version = '..2024_05_01_10_00_00.123456789';
  mkdirSync(join(dir, version), { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    writeFileSync(join(dir, version, file), text);
    symlinkSync(`..data/${file}`, join(dir, file));
  }
  symlinkSync(version, join(dir, '..data'));
}

const checked = (text: string) => checkBundle(text, Date.now());

describe('readCertDir', () => {
  it('reads NAME.pem, a symlink to one included', async () => {
    const dir = tree({ 'a.pem': bundleOf(a), 'elsewhere/real.pem.txt': bundleOf(b) });
    symlinkSync(join(dir, 'elsewhere/real.pem.txt'), join(dir, 'b.pem'));
    const { bundles, problems } = await readCertDir(dir);
    expect(problems).toEqual([]);
    expect(bundles).toEqual([
      { name: 'a', from: join(dir, 'a.pem'), text: bundleOf(a) },
      { name: 'b', from: join(dir, 'b.pem'), text: bundleOf(b) },
    ]);
  });

  it('reads NAME.crt with NAME.key as one bundle', async () => {
    const dir = tree({ 'a.crt': a.cert + ca.cert, 'a.key': a.key });
    const { bundles, problems } = await readCertDir(dir);
    expect(problems).toEqual([]);
    expect(bundles).toEqual([{ name: 'a', from: `${join(dir, 'a.crt')} and ${join(dir, 'a.key')}`, text: `${a.cert}${ca.cert}\n${a.key}` }]);
    expect(checked(bundles[0]!.text).ok).toBe(true);
  });

  it('reads a mounted TLS Secret (tls.crt, tls.key) as a bundle named after the directory, leaving out ca.crt', async () => {
    const dir = tree({ 'tls.crt': a.cert, 'tls.key': a.key, 'ca.crt': ca.cert }, 'shop-tls');
    const { bundles, problems } = await readCertDir(dir);
    expect(problems).toEqual([]);
    expect(bundles).toEqual([{ name: 'shop-tls', from: `${join(dir, 'tls.crt')} and ${join(dir, 'tls.key')}`, text: `${a.cert}\n${a.key}` }]);
    expect(checked(bundles[0]!.text).ok).toBe(true);
  });

  it("follows Kubernetes' ..data symlinks and ignores its dot folders", async () => {
    const dir = join(makeTempDir(), 'web-tls');
    mountSecret(dir, { 'tls.crt': a.cert, 'tls.key': a.key, 'ca.crt': ca.cert });
    const { bundles, problems } = await readCertDir(dir);
    expect(problems).toEqual([]);
    expect(bundles.map((x) => [x.name, x.text])).toEqual([['web-tls', `${a.cert}\n${a.key}`]]);
  });

  it('reads one Secret per subdirectory, each named after its folder', async () => {
    const dir = join(makeTempDir(), 'secrets');
    mountSecret(join(dir, 'shop'), { 'tls.crt': b.cert, 'tls.key': b.key, 'ca.crt': ca.cert });
    mountSecret(join(dir, 'api'), { 'tls.crt': a.cert, 'tls.key': a.key });
    mkdirSync(join(dir, 'empty'));
    const { bundles, problems } = await readCertDir(dir);
    expect(problems).toEqual([]);
    expect(bundles.map((x) => [x.name, x.from, x.text])).toEqual([
      ['api', `${join(dir, 'api/tls.crt')} and ${join(dir, 'api/tls.key')}`, `${a.cert}\n${a.key}`],
      ['shop', `${join(dir, 'shop/tls.crt')} and ${join(dir, 'shop/tls.key')}`, `${b.cert}\n${b.key}`],
    ]);
  });

  it('mixes the layouts, sorted by name, ignoring other files and hidden ones', async () => {
    const dir = tree({
      'c.pem': bundleOf(a),
      'a.crt': b.cert,
      'a.key': b.key,
      'b/tls.crt': a.cert,
      'b/tls.key': a.key,
      'b/README': 'not read',
      'README.md': '# certificates',
      'notes.txt': 'x',
      '.hidden.pem': 'never read',
      '.old/d.pem': 'never read',
    });
    const { bundles, problems } = await readCertDir(dir);
    expect(problems).toEqual([]);
    expect(bundles.map((x) => x.name)).toEqual(['a', 'b', 'c']);
    for (const bundle of bundles) expect(checked(bundle.text).ok).toBe(true);
  });

  it('lists what cannot give a bundle, and reads the rest', async () => {
    const big = `${bundleOf(a)}${'#'.repeat(1024 * 1024)}`;
    const dir = tree({
      'good.pem': bundleOf(a),
      'lone.crt': a.cert,
      'orphan.key': a.key,
      'big.pem': big,
      'bad name.pem': bundleOf(b),
      'half/tls.crt': b.cert,
      'tls.key': a.key,
    });
    symlinkSync(join(dir, 'missing.pem.target'), join(dir, 'gone.pem'));
    symlinkSync('loop.pem', join(dir, 'loop.pem'));
    execFileSync('mkfifo', [join(dir, 'pipe.pem')]);
    const { bundles, problems } = await readCertDir(dir);
    expect(bundles.map((x) => x.name)).toEqual(['good']);
    const reasons = Object.fromEntries(problems.map((p) => [p.from.slice(dir.length + 1), p.reason]));
    expect(reasons).toEqual({
      'lone.crt': 'there is no lone.key beside it: give the certificate and its key as lone.crt and lone.key, or both in lone.pem',
      'orphan.key': 'there is no orphan.crt beside it: give the certificate and its key as orphan.crt and orphan.key, or both in orphan.pem',
      'tls.key': 'there is no tls.crt beside it: a TLS Secret holds both',
      'half/tls.crt': 'there is no tls.key beside it: a TLS Secret holds both',
      'bad name.pem': expect.stringMatching(/^certificate name "bad name" holds characters other than/),
      'big.pem': 'is larger than 1 MiB: a certificate bundle is a few KiB, so this is not one',
      'gone.pem': 'cannot be read (ENOENT)',
      'loop.pem': 'cannot be read (ELOOP)',
      'pipe.pem': 'is not a regular file',
    });
  });

  it('keeps the first of two bundles with one name, naming both files', async () => {
    const dir = tree({ 'a.crt': a.cert, 'a.key': a.key, 'a.pem': bundleOf(b), 'a/tls.crt': b.cert, 'a/tls.key': b.key });
    const { bundles, problems } = await readCertDir(dir);
    const pair = `${join(dir, 'a.crt')} and ${join(dir, 'a.key')}`;
    expect(bundles.map((x) => x.from)).toEqual([pair]);
    expect(problems).toEqual([
      { from: join(dir, 'a.pem'), reason: `the certificate name "a" is already given by ${pair}, which is kept` },
      { from: `${join(dir, 'a/tls.crt')} and ${join(dir, 'a/tls.key')}`, reason: `the certificate name "a" is already given by ${pair}, which is kept` },
    ]);
  });

  it('throws when the directory does not exist', async () => {
    const dir = join(makeTempDir(), 'nowhere');
    await expect(readCertDir(dir)).rejects.toThrow(`certificate directory ${dir} does not exist`);
  });
});

describe('certDirPairs', () => {
  it('keeps the bundles read before while the directory cannot be listed, saying so', async () => {
    const dir = tree({ 'a.pem': bundleOf(a) });
    const before = await certDirPairs(dir);
    expect(before).toEqual([{ key: `${dir}/a`, value: bundleOf(a) }]);
    rmSync(dir, { recursive: true });
    expect(await certDirPairs(dir, before)).toEqual([
      { key: `${dir}/a`, value: bundleOf(a) },
      { key: `${dir}/`, value: `${UNREADABLE}certificate directory ${dir} does not exist; the certificates read from it before keep serving` },
    ]);
    expect(await certDirPairs(dir)).toEqual([{ key: `${dir}/`, value: `${UNREADABLE}certificate directory ${dir} does not exist` }]);
  });
});
