import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleOf, makeCa, makeLeaf, type TestCert } from '../support/certs.js';
import { freePort, httpGet, waitFor } from '../support/haproxy-process.js';
import { runtimeChannel } from '../../src/haproxy/runtime-channel.js';
import { EtcdServer } from '../support/etcd-server.js';
import { useStackRig } from '../support/stack-rig.js';
import { makeTempDir } from '../support/temp.js';
import { curlHttps, presented } from '../support/tls-client.js';

const stack = useStackRig();
const { rig } = stack;

/** Certificates made once for the file by the real openssl: a CA, and leaves for the apps' names. */
const certs = {} as { ca: TestCert; caFile: string; web: TestCert; web2: TestCert; api: TestCert; wild: TestCert; expired: TestCert; other: TestCert };
beforeAll(() => {
  const dir = makeTempDir();
  const ca = makeCa(dir, 'occs-lb test CA');
  const leaf = (cn: string, san: string[], more = {}) => makeLeaf(dir, ca, cn, { san, ...more });
  Object.assign(certs, {
    ca,
    caFile: join(dir, 'ca.pem'),
    web: leaf('www.example.test', ['DNS:www.example.test']),
    web2: leaf('www.example.test', ['DNS:www.example.test'], { days: 90 }),
    api: leaf('api.example.test', ['DNS:api.example.test']),
    wild: leaf('*.apps.example.test', ['DNS:*.apps.example.test']),
    expired: leaf('www.example.test', ['DNS:www.example.test'], {
      notBefore: new Date(Date.now() - 20 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    }),
    other: leaf('www.example.test', ['DNS:www.example.test']),
  });
  writeFileSync(certs.caFile, ca.cert);
}, 60_000);

/** web (a) and api (b) by Host, with a certificate for each. */
async function twoApps(): Promise<void> {
  rig.store.put('apps/web/containers/w1', rig.address(0));
  rig.store.put('apps/api/containers/a1', rig.address(1));
  rig.store.put('lb/routes/web', 'www.example.test');
  rig.store.put('lb/routes/api', 'api.example.test x.apps.example.test');
  rig.store.put('lb/certs/web', bundleOf(certs.web));
  rig.store.put('lb/certs/api', bundleOf(certs.api));
}

const serial = async (port: number, name?: string) => (await presented(port, name)).serial;
const servesSerial = (port: number, name: string | undefined, want: string) =>
  waitFor(`${name ?? 'no SNI'} to be served the certificate ${want}`, async () => (await serial(port, name)) === want);

describe('occs-lb watch --stack --https-port', () => {
  it('serves every app over HTTPS by SNI, with HTTP/2, and adds, rotates and removes certificates with the same worker and no reload', async () => {
    await twoApps();
    const https = await freePort();
    const w = await stack.start(rig.store.url, ['--https-port', String(https)]);
    await servesSerial(https, 'www.example.test', certs.web.serial);
    expect(await serial(https, 'api.example.test')).toBe(certs.api.serial);
    // Names no certificate matches, and clients that send none, get the first by name (api).
    expect(await serial(https, 'nowhere.example.test')).toBe(certs.api.serial);
    expect(await serial(https, undefined)).toBe(certs.api.serial);
    const viaCurl = await curlHttps('www.example.test', https, '/', certs.caFile);
    expect([viaCurl.status, viaCurl.body, viaCurl.version]).toEqual([200, 'a', '2']);
    expect((await curlHttps('api.example.test', https, '/', certs.caFile)).body).toBe('b');
    const before = await rig.workers(w);

    rig.store.put('lb/certs/web', bundleOf(certs.web2)); // rotated
    await servesSerial(https, 'www.example.test', certs.web2.serial);
    rig.store.put('lb/certs/wild', bundleOf(certs.wild)); // added: a wildcard
    await servesSerial(https, 'x.apps.example.test', certs.wild.serial);
    expect((await curlHttps('x.apps.example.test', https, '/', certs.caFile)).body).toBe('b');
    rig.store.delete('lb/certs/web'); // removed: its name falls back to the default
    await servesSerial(https, 'www.example.test', certs.api.serial);

    expect(await rig.workers(w)).toEqual(before);
    expect(await rig.metric('reloads_total')).toBe(0);
    // The disk follows the runtime changes in the background: the last file installed names the
    // added bundle, and its sweep takes the removed one away.
    const bundles = () => readdirSync(join(rig.dir, 'haproxy.certs')).sort();
    await waitFor('the removed bundle to leave the disk', () => !bundles().includes('web.pem'));
    expect(bundles()).toEqual(['.default.pem', 'api.pem', 'wild.pem']);
    execFileSync('haproxy', ['-c', '-q', '-f', rig.config()]);
  });

  it('keeps keys private: bundles are 0600 in a 0700 directory, and no key reaches the log, /healthz or /metrics', async () => {
    await twoApps();
    const https = await freePort();
    const w = await stack.start(rig.store.url, ['--https-port', String(https), '--log-format', 'json']);
    await servesSerial(https, 'www.example.test', certs.web.serial);
    const dir = join(rig.dir, 'haproxy.certs');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const name of readdirSync(dir)) expect([name, statSync(join(dir, name)).mode & 0o777]).toEqual([name, 0o600]);
    rig.store.put('lb/certs/bad', bundleOf(certs.web, [], certs.api.key));
    await w.waitForLog(/skipped \/lb\/certs\/bad: /);
    const outputs = [w.raw, (await rig.status('/healthz?format=json')).body, (await rig.status('/metrics')).body];
    for (const key of [certs.web.key, certs.api.key]) {
      const body = key.split('\n').filter((l) => !l.startsWith('-----') && l.length > 20);
      for (const out of outputs) for (const line of body) expect(out).not.toContain(line.slice(0, 20));
    }
    const doc = JSON.parse((await rig.status('/healthz?format=json')).body) as { tls: { certificates: Array<{ name: string; names: string[] }> } };
    expect(doc.tls.certificates.map((c) => [c.name, c.names])).toEqual([
      ['api', ['api.example.test']],
      ['web', ['www.example.test']],
    ]);
    expect((await rig.status('/metrics')).body).toMatch(/^occs_lb_cert_not_after_timestamp_seconds\{name="web"\} \d+/m);
  });

  it('refuses a bad bundle with its key and reason, and the certificate served before keeps serving', async () => {
    await twoApps();
    const https = await freePort();
    const w = await stack.start(rig.store.url, ['--https-port', String(https)]);
    await servesSerial(https, 'www.example.test', certs.web.serial);
    const cases: Array<[string, string, RegExp]> = [
      ["a key that is not the certificate's", bundleOf(certs.other, [], certs.web.key), /private key does not belong/],
      ['an expired certificate', bundleOf(certs.expired), /expired/],
      ['no PEM at all', 'not a certificate', /certificate/i],
    ];
    for (const [what, bundle, reason] of cases) {
      const from = w.logs.length;
      rig.store.put('lb/certs/web', bundle);
      const line = await w.waitForLog(/^skipped \/lb\/certs\/web: /, from);
      expect(line.msg, what).toMatch(reason);
      expect(line.msg, what).toMatch(/the certificate served before keeps serving/);
      expect(await serial(https, 'www.example.test'), what).toBe(certs.web.serial);
    }
    expect(readFileSync(join(rig.dir, 'haproxy.certs', 'web.pem'), 'utf8')).toContain(certs.web.cert.split('\n')[1]);
    expect(await rig.metric('reloads_total')).toBe(0);
  });

  it('redirects, serves HTTPS only, and sends HSTS per app, each changed with no reload', async () => {
    await twoApps();
    const https = await freePort();
    const w = await stack.start(rig.store.url, ['--https-port', String(https)]);
    await servesSerial(https, 'www.example.test', certs.web.serial);
    // Without a policy both protocols route, with no HSTS header.
    expect((await stack.get('www.example.test', '/')).body).toBe('a');
    expect((await curlHttps('www.example.test', https, '/', certs.caFile)).headers['strict-transport-security']).toBeUndefined();
    const before = await rig.workers(w);

    rig.store.put('lb/tls/web', 'redirect=308 hsts=600 subdomains');
    await waitFor('web to be redirected', async () => (await stack.get('www.example.test:8080', '/x?y=1')).status === 308);
    const moved = await httpGet(rig.ports.frontend, '/x?y=1', 3000, { host: 'WWW.example.test:8080' });
    expect(moved.headers.location).toBe(`https://www.example.test:${https}/x?y=1`);
    const secure = await curlHttps('www.example.test', https, '/', certs.caFile);
    expect([secure.body, secure.headers['strict-transport-security']]).toEqual(['a', 'max-age=600; includeSubDomains']);
    expect((await stack.get('api.example.test', '/')).body).toBe('b'); // another app keeps plain HTTP

    rig.store.put('lb/tls/api', 'only');
    await stack.servedAs('api.example.test', '/', []);
    expect((await curlHttps('api.example.test', https, '/', certs.caFile)).body).toBe('b');
    rig.store.delete('lb/tls/web');
    await stack.servedAs('www.example.test', '/', ['a']);

    expect(await rig.workers(w)).toEqual(before);
    expect(await rig.metric('reloads_total')).toBe(0);
    rig.store.put('lb/tls/web', 'redirect only');
    await w.waitForLog(/^skipped \/lb\/tls\/web: "redirect" and "only" exclude each other/);
  });

  it('starts HTTPS with the first certificate by one verified reload, and a --cert-dir mounted as Kubernetes mounts a Secret rotates with none', async () => {
    rig.store.put('apps/web/containers/w1', rig.address(0));
    rig.store.put('lb/routes/web', 'www.example.test');
    const https = await freePort();
    const secret = join(makeTempDir(), 'web-tls');
    const w = await stack.start(rig.store.url, ['--https-port', String(https), '--cert-dir', secret]);
    await w.waitForLog(/^skipped .*web-tls\/: certificate directory .*web-tls does not exist/);
    expect((await presented(https, 'www.example.test')).failed).toBeDefined();

    // The kubelet's layout: a timestamped directory, ..data pointing at it, and tls.crt/tls.key pointing into ..data.
    const mount = (cert: TestCert, stamp: string) => {
      mkdirSync(join(secret, stamp), { recursive: true });
      writeFileSync(join(secret, stamp, 'tls.crt'), cert.cert);
      writeFileSync(join(secret, stamp, 'tls.key'), cert.key);
      symlinkSync(stamp, join(secret, '..data_tmp'));
      renameSync(join(secret, '..data_tmp'), join(secret, '..data'));
      for (const f of ['tls.crt', 'tls.key']) if (!existsSync(join(secret, f))) symlinkSync(join('..data', f), join(secret, f));
    };
    mount(certs.web, '..2026_12_05_01');
    await servesSerial(https, 'www.example.test', certs.web.serial);
    // The new worker serves a moment before watch has verified the reload and counted it.
    await waitFor('the reload to be counted', async () => (await rig.metric('reloads_total')) === 1);
    const before = await rig.workers(w);
    mount(certs.web2, '..2026_12_05_02');
    rmSync(join(secret, '..2026_12_05_01'), { recursive: true });
    await servesSerial(https, 'www.example.test', certs.web2.serial);
    expect(await rig.workers(w)).toEqual(before);
    expect(await rig.metric('reloads_total')).toBe(1);
  });

  it('takes certificates from a real etcd, and a watch started again on installed certificates rotates them with no reload', async () => {
    const etcd = await new EtcdServer().start();
    try {
      await etcd.put('apps/web/containers/w1', rig.address(0));
      await etcd.put('lb/routes/web', 'www.example.test');
      await etcd.put('lb/certs/web', bundleOf(certs.web));
      const https = await freePort();
      const flags = ['--https-port', String(https)];
      await stack.start(etcd.url, flags);
      await servesSerial(https, 'www.example.test', certs.web.serial);
      await rig.watch!.stop();
      const w = await stack.start(etcd.url, flags);
      await servesSerial(https, 'www.example.test', certs.web.serial);
      await etcd.put('lb/certs/web', bundleOf(certs.web2));
      await servesSerial(https, 'www.example.test', certs.web2.serial);
      await w.waitForLog(/^applied through the runtime API, no reload: certificates: 0 added, 2 rotated/);
      expect(await rig.metric('reloads_total')).toBe(0);
    } finally {
      await etcd.stop();
    }
  });

  it("sets back an app's HTTPS policy deleted by hand on the socket, with no reload (--verify-interval)", async () => {
    await twoApps();
    rig.store.put('lb/tls/web', 'redirect');
    const https = await freePort();
    const w = await stack.start(rig.store.url, ['--https-port', String(https), '--verify-interval', '1s']);
    await waitFor('web to be redirected', async () => (await stack.get('www.example.test', '/')).status === 301);
    await runtimeChannel('admin', join(rig.dir, 'admin.sock')).send(`del map ${join(rig.dir, 'haproxy.tls.map')} web`);
    await w.waitForLog(/HAProxy drifted from the installed config \(1 difference: .*haproxy\.tls\.map: 1 entry differs \(web\)\); set right/);
    expect((await stack.get('www.example.test', '/')).status).toBe(301);
    expect(await rig.metric('reloads_total')).toBe(0);
  });
});
