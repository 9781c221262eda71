import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { splitShellWords } from '../../src/util/shell-words.js';
import { bundleOf, makeCa, makeLeaf, type TestCert } from '../support/certs.js';
import { ROOT, runCli } from '../support/cli.js';
import { freePort, waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { presented } from '../support/tls-client.js';
import { useWatchRig } from '../support/watch-rig.js';

const rig = useWatchRig();
const certs = {} as { web: TestCert; web2: TestCert; wrongKey: string };
beforeAll(() => {
  const dir = makeTempDir();
  const ca = makeCa(dir, 'occs-lb test CA');
  const web = makeLeaf(dir, ca, 'www.example.com', { san: ['DNS:www.example.com'] });
  const web2 = makeLeaf(dir, ca, 'www.example.com', { san: ['DNS:www.example.com'] });
  Object.assign(certs, { web, web2, wrongKey: bundleOf(web, [], web2.key) });
}, 60_000);

const stack = ['--kv', 'file:examples/stack.properties', '--stack', 'apps', '--https-port', '8443'];

/** A --cert-dir holding these bundles, each as NAME.pem. */
function certDir(bundles: Record<string, string>): string {
  const dir = join(makeTempDir(), 'certs');
  mkdirSync(dir);
  for (const [name, text] of Object.entries(bundles)) writeFileSync(join(dir, `${name}.pem`), text);
  return dir;
}

describe('the HTTPS example (docs/https.md)', () => {
  const section = readFileSync(join(ROOT, 'docs/https.md'), 'utf8');
  const lines = /```sh\n([\s\S]*?)```/.exec(section)![1]!.trim().split('\n');

  it('runs as written (in a temp dir): openssl makes a certificate, and validate lists it with its names and expiry', async () => {
    const dir = join(makeTempDir(), 'occs-lb-certs');
    const local = lines.map((line) => line.replaceAll('/tmp/occs-lb-certs', dir));
    expect(local).toHaveLength(3);
    for (const line of local.slice(0, 2)) {
      const [command, ...args] = splitShellWords(line)!;
      expect(spawnSync(command!, args, { stdio: 'ignore' }).status, line).toBe(0);
    }
    const result = await runCli(local[2]!.replace(/^npx occs-lb /, '').split(/\s+/));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^certificate www \(default\): www\.example\.com example\.com, expires \S+ \(in 89 days\), from .*occs-lb-certs\/www$/m);
    expect(result.stdout).toMatch(/^ok {6}haproxy -c/m);
  });
});

describe('validate and render with HTTPS', () => {
  it('validate --format json lists each certificate, and a bad bundle as a warning naming its file (--strict: refused, exit 5)', async () => {
    const dir = certDir({ www: bundleOf(certs.web), broken: certs.wrongKey });
    const json = await runCli(['validate', ...stack, '--cert-dir', dir, '--format', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as {
      certificates: Array<{ name: string; names: string[]; serial: string }>;
      warnings: Array<{ key?: string; message: string }>;
    };
    expect(report.certificates.map((c) => [c.name, c.names, c.serial])).toEqual([['www', ['www.example.com'], certs.web.serial]]);
    const warning = report.warnings.find((w) => w.key === `${dir}/broken`);
    expect(warning?.message).toMatch(/private key does not belong to the certificate/);
    for (const out of [json.stdout, json.stderr]) expect(out).not.toContain(certs.web2.key.split('\n')[1]);

    const strict = await runCli(['validate', ...stack, '--cert-dir', dir, '--strict']);
    expect(strict.code).toBe(5);
    expect(strict.stdout).toMatch(/rejected .*broken by --strict: the private key does not belong/);
  });

  it('render --out writes the config, the crt-list and the bundles (0600, 0700 directory) that haproxy -c accepts; without --out it refuses', async () => {
    const out = join(makeTempDir(), 'haproxy.cfg');
    const dir = certDir({ www: bundleOf(certs.web) });
    const result = await runCli(['render', ...stack, '--cert-dir', dir, '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    const bundles = join(out, '..', 'haproxy.certs');
    expect(readdirSync(bundles).sort()).toEqual(['.default.pem', 'www.pem']);
    expect(statSync(bundles).mode & 0o777).toBe(0o700);
    expect(statSync(join(bundles, 'www.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(out, 'utf8')).toContain(`ssl crt-list ${join(out, '..', 'haproxy.crt-list')} alpn h2,http/1.1`);
    execFileSync('haproxy', ['-c', '-q', '-f', out]);

    // The certificate leaves the directory: its bundle leaves the disk.
    const again = await runCli(['render', ...stack, '--cert-dir', certDir({}), '--out', out]);
    expect(again.code, again.stderr).toBe(0);
    expect(readdirSync(bundles)).toEqual([]);
    expect(readFileSync(out, 'utf8')).not.toContain('ssl crt-list');

    const printed = await runCli([
      'render',
      '--kv',
      'file:examples/kv.properties',
      '--prefix',
      'apps/myapp/containers',
      '--https-port',
      '8443',
      '--cert-dir',
      dir,
    ]);
    expect([printed.code, printed.stdout]).toEqual([2, '']);
    expect(printed.stderr).toMatch(/HTTPS keeps its certificates in files beside the config/);
  });

  it('refuses HTTPS settings that do nothing, and a port another listener has', async () => {
    const stray = await runCli(['validate', '--kv', 'file:examples/stack.properties', '--stack', 'apps', '--cert-dir', '/tmp']);
    expect([stray.code, stray.stderr]).toEqual([2, expect.stringMatching(/--cert-dir is a setting of HTTPS/)]);
    const clash = await runCli(['validate', ...stack.slice(0, 4), '--https-port', '1936']);
    expect([clash.code, clash.stderr]).toEqual([2, expect.stringMatching(/HTTPS and the stats listener both use port 1936/)]);
  });
});

describe('occs-lb watch --https-port (the default template)', () => {
  it("serves the seed's one backend over HTTPS from --cert-dir, and rotates its certificate with the same worker", async () => {
    rig.store.put('apps/web/containers/one', rig.address(0));
    const https = await freePort();
    const dir = certDir({ www: bundleOf(certs.web) });
    const w = rig.startWatch(rig.store.url, ['--https-port', String(https), '--cert-dir', dir]);
    await w.waitForLog(/^started haproxy/);
    await waitFor('www to be served over HTTPS', async () => (await presented(https, 'www.example.com')).serial === certs.web.serial);
    const before = await rig.workers(w);
    writeFileSync(join(dir, 'www.pem.new'), bundleOf(certs.web2));
    execFileSync('mv', [join(dir, 'www.pem.new'), join(dir, 'www.pem')]);
    await waitFor('the rotated certificate to be served', async () => (await presented(https, 'www.example.com')).serial === certs.web2.serial);
    expect(await rig.workers(w)).toEqual(before);
    expect(await rig.metric('reloads_total')).toBe(0);
    // The bundle and the default's copy (it is the only certificate, so the default).
    await w.waitForLog(/^applied through the runtime API, no reload: certificates: 0 added, 2 rotated, 0 removed/);
  });
});
