import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleOf, makeCa, makeLeaf, type TestCert } from '../support/certs.js';
import { runCli } from '../support/cli.js';
import { freePort, waitFor } from '../support/haproxy-process.js';
import { useStackRig } from '../support/stack-rig.js';
import { makeTempDir } from '../support/temp.js';
import { curlHttps, presented } from '../support/tls-client.js';
import { existsSync, readFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// HTTPS under bundles and changes meant to break it, with the real HAProxy, openssl and curl.
const stack = useStackRig();
const { rig } = stack;

const certs = {} as { dir: string; ca: TestCert; caFile: string; web: TestCert; weak: TestCert };
beforeAll(() => {
  const dir = makeTempDir();
  const ca = makeCa(dir, 'occs-lb hostile test CA');
  writeFileSync(join(dir, 'ca.pem'), ca.cert);
  Object.assign(certs, {
    dir,
    ca,
    caFile: join(dir, 'ca.pem'),
    web: makeLeaf(dir, ca, 'www.example.test', { san: ['DNS:www.example.test'] }),
    weak: makeLeaf(dir, ca, 'www.example.test', { san: ['DNS:www.example.test'], keyArgs: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'] }),
  });
}, 60_000);

/** The web app (backend a) at www.example.test with its certificate, served over HTTPS on a free port by a started watch. */
async function servingWeb(extra: string[] = []) {
  rig.store.put('apps/web/containers/w1', rig.address(0));
  rig.store.put('lb/routes/web', 'www.example.test');
  rig.store.put('lb/certs/web', bundleOf(certs.web));
  const https = await freePort();
  const w = await stack.start(rig.store.url, ['--https-port', String(https), ...extra]);
  await waitFor('HTTPS to serve web', async () => (await presented(https, 'www.example.test')).serial === certs.web.serial);
  return { w, https };
}

describe('occs-lb watch --https-port, given what HAProxy would refuse', () => {
  it('skips a bundle whose key HAProxy refuses (RSA 1024), and the next server change still goes through the runtime API', async () => {
    const { w, https } = await servingWeb();
    // "aaa" sorts first: taken, it would be the default certificate too.
    rig.store.put('lb/certs/aaa', bundleOf(certs.weak));
    await w.waitForLog(/^skipped \/lb\/certs\/aaa: .* cannot be served: its RSA key has 1024 bits; HAProxy refuses fewer than 2048/);
    rig.store.put('apps/web/containers/w2', rig.address(1));
    await stack.servedAs('www.example.test', '/', ['a', 'b']);
    expect(await rig.metric('reloads_total')).toBe(0);
    expect((await presented(https)).serial).toBe(certs.web.serial);
    expect(w.count(/rejected|did not take/)).toBe(0);
  });

  it('never serves an app that is HTTPS only over plain HTTP: not before its first certificate, nor once its last one is gone', async () => {
    rig.store.put('apps/web/containers/w1', rig.address(0));
    rig.store.put('lb/routes/web', 'www.example.test');
    rig.store.put('lb/tls/web', 'only');
    const https = await freePort();
    await stack.start(rig.store.url, ['--https-port', String(https)]);
    await stack.servedAs('www.example.test', '/', []);
    rig.store.put('lb/certs/web', bundleOf(certs.web));
    await waitFor('HTTPS to serve web', async () => (await presented(https, 'www.example.test')).serial === certs.web.serial);
    expect((await curlHttps('www.example.test', https, '/', certs.caFile)).body).toBe('a');
    await stack.servedAs('www.example.test', '/', []);
    rig.store.delete('lb/certs/web');
    await waitFor('HTTPS to stop', async () => (await presented(https, 'www.example.test')).failed);
    await stack.servedAs('www.example.test', '/', []);
  });
});

describe('occs-lb watch --https-port, given a bundle too large for the runtime API', () => {
  it('rotates it by one reload, without trying the runtime API first (HAProxy drops a payload over 16 KiB with no answer)', async () => {
    const names = Array.from({ length: 600 }, (_, i) => `DNS:host-${i}.www.example.test`);
    const large = makeLeaf(certs.dir, certs.ca, 'www.example.test', { san: ['DNS:www.example.test', ...names] });
    expect(bundleOf(large).length).toBeGreaterThan(17 * 1024);
    const { w, https } = await servingWeb();
    rig.store.put('lb/certs/web', bundleOf(large));
    await waitFor('the large certificate to be served', async () => (await presented(https, 'www.example.test')).serial === large.serial);
    await waitFor('the reload to be counted', async () => (await rig.metric('reloads_total')) === 1);
    expect(await rig.metric('runtime_fallbacks_total')).toBe(0);
    expect(w.count(/did not take/)).toBe(0);
  });
});

describe('occs-lb watch --https-port, once its last certificate is gone', () => {
  it('applies server changes through the runtime API again (HTTPS stopped by one reload), and starts HTTPS again by one', async () => {
    const { https } = await servingWeb();
    rig.store.delete('lb/certs/web');
    await waitFor('HTTPS to stop', async () => (await presented(https, 'www.example.test')).failed);
    await waitFor('the reload to be counted', async () => (await rig.metric('reloads_total')) === 1);
    expect(readFileSync(join(rig.dir, 'haproxy.crt-list'), 'utf8')).not.toMatch(/\.pem/);
    rig.store.put('apps/web/containers/w2', rig.address(1));
    await stack.servedAs('www.example.test', '/', ['a', 'b']);
    expect(await rig.metric('reloads_total')).toBe(1);
    rig.store.put('lb/certs/web', bundleOf(certs.web));
    await waitFor('HTTPS to serve again', async () => (await presented(https, 'www.example.test')).serial === certs.web.serial);
    await waitFor('the reload to be counted', async () => (await rig.metric('reloads_total')) === 2);
    expect(await rig.metric('runtime_fallbacks_total')).toBe(0);
  });
});

describe('occs-lb watch --https-port, restarted after kill -9', () => {
  it('removes a bundle temp file a killed run left (it holds a key), serves on with one HAProxy, and neither installs nor reloads', async () => {
    const { w, https } = await servingWeb();
    const master = await w.haproxyPid();
    w.signal('SIGKILL');
    await w.exited;
    // What a run killed between writing a bundle's temp file and renaming it leaves: pid 2^22+1 runs nothing.
    const temp = join(rig.dir, 'haproxy.certs', `.web.pem.${2 ** 22 + 1}.k1ll3d00.tmp`);
    writeFileSync(temp, bundleOf(certs.web), { mode: 0o600 });
    const again = await stack.start(rig.store.url, ['--https-port', String(https)]);
    await again.waitForLog(/^watching /);
    expect(existsSync(temp)).toBe(false);
    expect(again.count(/removed what an earlier run left: .*\.web\.pem\./)).toBe(1);
    expect((await presented(https, 'www.example.test')).serial).toBe(certs.web.serial);
    // The killed run's HAProxy is gone (a zombie where nothing reaps it): the new one alone serves.
    expect(existsSync(`/proc/${master}/stat`) ? readFileSync(`/proc/${master}/stat`, 'utf8').split(' ')[2] : 'gone').toMatch(/^(gone|Z)$/);
    expect([await rig.metric('reloads_total'), await rig.metric('installs_total')]).toEqual([0, 0]);
  });
});

describe('occs-lb watch --https-port --cert-dir, when the directory itself goes', () => {
  it('follows a directory replaced by another (renamed into its place), keeps its certificates while it is gone, and takes it back', async () => {
    const [b, c] = [1, 2].map(() => makeLeaf(certs.dir, certs.ca, 'www.example.test', { san: ['DNS:www.example.test'] }));
    const parent = makeTempDir();
    const certDir = join(parent, 'certs');
    const fill = (dir: string, cert: TestCert) => (mkdirSync(dir), writeFileSync(join(dir, 'web.pem'), bundleOf(cert)));
    fill(certDir, certs.web);
    rig.store.put('apps/web/containers/w1', rig.address(0));
    rig.store.put('lb/routes/web', 'www.example.test');
    const https = await freePort();
    const w = await stack.start(rig.store.url, ['--https-port', String(https), '--cert-dir', certDir]);
    const serves = (cert: TestCert) =>
      waitFor(`HTTPS to serve ${cert.serial}`, async () => (await presented(https, 'www.example.test')).serial === cert.serial);
    await serves(certs.web);

    fill(join(parent, 'certs.new'), b!);
    renameSync(certDir, join(parent, 'certs.old'));
    renameSync(join(parent, 'certs.new'), certDir);
    await serves(b!);
    rmSync(certDir, { recursive: true });
    await w.waitForLog(/^skipped .*certs\/: certificate directory .* does not exist; the certificates read from it before keep serving/);
    expect((await presented(https, 'www.example.test')).serial).toBe(b!.serial);
    fill(certDir, c!);
    await serves(c!);
    expect(await rig.metric('reloads_total')).toBe(0);
  });
});

describe('occs-lb render --https-port, given a bundle node cannot read', () => {
  it('skips it (a subjectAltName whose length runs past its end), and installs the rest: it failed the run before (exit 1), and blocked every change of watch', async () => {
    const der = Buffer.from(new X509Certificate(certs.web.cert).raw);
    der[der.indexOf(Buffer.from('0603551d11', 'hex')) + 8] = 0x7f;
    const odd = `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n${certs.web.key}`;
    const kv = join(makeTempDir(), 'kv.json');
    writeFileSync(kv, JSON.stringify({ 'apps/web/containers/w1': '10.0.0.1:80', 'lb/certs/web': bundleOf(certs.web), 'lb/certs/odd': odd }));
    const out = join(makeTempDir(), 'haproxy.cfg');
    const result = await runCli(['render', '--kv', `file:${kv}`, '--stack', 'apps', '--https-port', '8443', '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/skipped \/lb\/certs\/odd: the subjectAltName of the certificate .* cannot be read/);
    expect(readFileSync(out.replace(/cfg$/, 'crt-list'), 'utf8')).toMatch(/\/web\.pem$/m);
  });
});

describe('occs-lb validate --https-port', () => {
  it('checks HTTPS as watch serves it: each bundle (a refused one named, and refusing the run with --strict), and haproxy -c reading them', async () => {
    const kv = join(makeTempDir(), 'kv.json');
    const pairs = { 'apps/web/containers/w1': '10.0.0.1:80', 'lb/routes/web': 'www.example.test', 'lb/certs/web': bundleOf(certs.web) };
    writeFileSync(kv, JSON.stringify({ ...pairs, 'lb/certs/weak': bundleOf(certs.weak) }));
    const args = ['validate', '--kv', `file:${kv}`, '--stack', 'apps', '--https-port', '8443', '--format', 'json'];
    const result = await runCli(args);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { warnings: Array<{ key?: string; message: string }>; steps: Array<{ step: string; status: string }> };
    expect(report.warnings.filter((w) => w.key)).toEqual([
      { source: 'kv', key: '/lb/certs/weak', message: expect.stringMatching(/its RSA key has 1024 bits/) },
    ]);
    expect(report.steps).toContainEqual(expect.objectContaining({ step: 'haproxy -c', status: 'ok' }));
    expect((await runCli([...args, '--strict'])).code).toBe(5);
  });

  it('says, as render does, when HTTPS would serve nothing: no certificate passed its checks', async () => {
    const kv = join(makeTempDir(), 'kv.json');
    writeFileSync(kv, JSON.stringify({ 'apps/web/containers/w1': '10.0.0.1:80', 'lb/certs/weak': bundleOf(certs.weak) }));
    const note = 'no certificate passed its checks: HTTPS (port 8443) is not served until one does';
    const base = ['--kv', `file:${kv}`, '--stack', 'apps', '--https-port', '8443'];
    const validated = await runCli(['validate', ...base, '--format', 'json']);
    expect(JSON.parse(validated.stdout).warnings).toContainEqual({ source: 'tls', message: note });
    const rendered = await runCli(['render', ...base, '--out', join(makeTempDir(), 'haproxy.cfg')]);
    expect([rendered.code, rendered.stderr]).toEqual([0, expect.stringContaining(`warning: ${note}\n`)]);
  });
});
