import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/load.js';
import type { Io } from '../../src/io.js';
import { DEFAULT_TEMPLATE } from '../../src/paths.js';
import { makeTempDir } from '../support/temp.js';
import { failure, thrown } from '../support/failure.js';
import { withEnvironment } from '../../src/config/environment.js';

const io = (cwd: string, env: Record<string, string> = {}): Io => ({
  stdout: process.stdout,
  stderr: process.stderr,
  env,
  cwd,
  stderrIsTTY: false,
});

describe('settings', () => {
  it('defaults to the seed: port 5000, stats 1936, nginx_80, roundrobin, the shipped template', async () => {
    const s = await loadSettings({}, io(makeTempDir()));
    expect(s.vars).toMatchObject({ bind: '*', frontendPort: 5000, statsPort: 1936, backendName: 'nginx_80', balance: 'roundrobin' });
    expect(s.resources).toEqual([{ template: DEFAULT_TEMPLATE, destination: undefined, prefixes: [], haproxy: true }]);
    expect(s.haproxy).toEqual({ binary: 'haproxy', config: '/etc/haproxy/haproxy.cfg', reload: undefined, reloadTimeoutMs: 10_000 });
    expect(s.minServers).toBe(0);
    expect(s.kv).toBeUndefined();
    expect(s.kvTimeoutMs).toBe(10_000);
  });

  it("reads the old image's variables", async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'token'), 's3cret-token\n');
    const s = await loadSettings(
      {},
      io(dir, { KV_IP: '172.17.0.1', KV_PORT: '9109', OCCS_API_TOKEN_FILE: 'token', OCCS_BACKEND_KEY: '/apps/myapp/containers/' }),
    );
    expect(s.kv?.spec).toBe('http://172.17.0.1:9109');
    expect(s.token).toBe('s3cret-token');
    expect(s.resources[0]!.prefixes).toEqual(['apps/myapp/containers']);
  });

  it('takes flags over environment over the config file over defaults', async () => {
    const dir = makeTempDir();
    writeFileSync(
      join(dir, 'occs-lb.config.json'),
      JSON.stringify({ kv: 'file:from-file.kv', prefixes: ['file/prefix'], frontendPort: 7000, statsPort: 7001, backendName: 'from_file' }),
    );
    const env = { KV_IP: '10.0.0.1', KV_PORT: '9109', OCCS_BACKEND_KEY: 'env/prefix' };
    const s = await loadSettings({ kv: 'file:flag.kv', frontendPort: '8000' }, io(dir, env));
    expect(s.kv).toMatchObject({ spec: 'file:flag.kv', from: '--kv' });
    expect(s.resources[0]!.prefixes).toEqual(['env/prefix']);
    expect(s.vars).toMatchObject({ frontendPort: 8000, statsPort: 7001, backendName: 'from_file' });

    const fromFile = await loadSettings({}, io(dir));
    expect(fromFile.kv).toMatchObject({ spec: 'file:from-file.kv', base: dir });
    expect(fromFile.resources[0]!.prefixes).toEqual(['file/prefix']);
  });

  it('finds package.json#occs-lb and .occs-lbrc.yaml', async () => {
    const a = makeTempDir();
    writeFileSync(join(a, 'package.json'), JSON.stringify({ name: 'x', 'occs-lb': { balance: 'leastconn' } }));
    expect((await loadSettings({}, io(a))).vars.balance).toBe('leastconn');
    const b = makeTempDir();
    writeFileSync(join(b, 'package.json'), JSON.stringify({ name: 'not-configured' }));
    writeFileSync(join(b, '.occs-lbrc.yaml'), 'balance: first\nstatsPort: 9000\n');
    expect((await loadSettings({}, io(b))).vars).toMatchObject({ balance: 'first', statsPort: 9000 });
  });

  it('an unknown key is an error that names the key and the file', async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'occs-lb.config.json'), JSON.stringify({ prefix: ['apps/x'] }));
    const error = await failure(loadSettings({}, io(dir)));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(join(dir, 'occs-lb.config.json'));
    expect(error.message).toContain('unknown setting "prefix"');
  });

  it("reports all of a config file's problems at once, the schema's and the values', each naming its key", async () => {
    const dir = makeTempDir();
    const config = { kv: 'file:x', kvTimeout: '0', statsPort: 70000, balance: 'fastest', logFormat: 'xml', kvMaxSize: 'lots', bogus: 1 };
    writeFileSync(join(dir, 'occs-lb.config.json'), JSON.stringify(config));
    const error = await failure(loadSettings({}, io(dir)));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`config file ${join(dir, 'occs-lb.config.json')} has 6 problems`);
    const lines = error.detail?.split('\n').map((line) => line.trim());
    expect(lines).toEqual([
      'unknown setting "bogus"',
      expect.stringMatching(/^statsPort: port 70000 /),
      expect.stringMatching(/^balance: "fastest" is not one of /),
      expect.stringMatching(/^kvTimeout: "0" must be more than 0/),
      expect.stringMatching(/^kvMaxSize: "lots" is not a size/),
      'logFormat: must be text or json',
    ]);
    // One problem stays one line.
    writeFileSync(join(dir, 'occs-lb.config.json'), JSON.stringify({ kv: 'file:x', statsPort: 0 }));
    const one = await failure(loadSettings({}, io(dir)));
    expect(one.message).toMatch(/occs-lb\.config\.json: statsPort: port 0 /);
    expect(one.detail).toBeUndefined();
    writeFileSync(join(dir, 'occs-lb.config.json'), JSON.stringify({ kv: 'file:x' }));
    expect((await failure(loadSettings({ kvTimeout: 'soon' }, io(dir)))).message).toMatch(/^--kv-timeout: "soon" is not a duration/);
  });

  it("reports the flags' and the environment's problems in the same pass as the file's, each naming where it is", async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'occs-lb.config.json'), JSON.stringify({ kv: 'file:x', kvTimeout: '0', bogus: 1 }));
    const origins = { 'kv-max-size': 'environment OCCS_LB_KV_MAX_SIZE' };
    const flags = { kvMaxSize: 'lots', balance: 'fastest' };
    const error = await failure(loadSettings(flags, io(dir, { KV_IP: '10.0.0.1', KV_PORT: 'http' }), origins));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe('the settings have 5 problems');
    expect(error.detail?.split('\n').map((line) => line.trim())).toEqual([
      'occs-lb.config.json: unknown setting "bogus"',
      expect.stringMatching(/^--balance: "fastest" is not one of /),
      expect.stringMatching(/^occs-lb\.config\.json: kvTimeout: "0" must be more than 0/),
      expect.stringMatching(/^environment OCCS_LB_KV_MAX_SIZE: "lots" is not a size/),
      expect.stringMatching(/^environment KV_PORT: port "http" /),
    ]);
    // KV_PORT left out takes KV_IP with it (one without the other is no problem of its own), and the search goes on.
    writeFileSync(join(dir, 'occs-lb.config.json'), JSON.stringify({ kv: 'cosnul://x', minServers: -1 }));
    const kvPort = await failure(loadSettings({ frontendPort: '0' }, io(dir, { KV_IP: '10.0.0.1', KV_PORT: 'abc' })));
    expect(kvPort.detail?.split('\n').map((line) => line.trim())).toEqual([
      expect.stringMatching(/^--frontend-port: port 0 /),
      expect.stringMatching(/^environment KV_PORT: port "abc" /),
      // The store the file names is checked with the rest, and named as the file's key, not as --kv.
      expect.stringMatching(/^occs-lb\.config\.json: kv: "cosnul:\/\/x" has an unknown scheme/),
      expect.stringMatching(/^occs-lb\.config\.json: minServers: "-1" is negative/),
    ]);
    // Without a config file too: two bad flags are two lines.
    const both = await failure(loadSettings({ kvTimeout: 'soon', kvMaxSize: 'lots' }, io(makeTempDir())));
    expect(both.message).toBe('the settings have 2 problems');
    expect(both.detail).toMatch(/--kv-timeout: "soon"[^\n]*\n\s+--kv-max-size: "lots"/);
  });

  it.each([
    [{ minServers: '-1' }, '--min-servers: "-1" is negative: it must be a whole number, 0 or more'],
    [{ minServers: '1.5' }, '--min-servers: "1.5" is not a whole number: it must be a whole number, 0 or more'],
    [{ kvTimeout: '0' }, '--kv-timeout: "0" must be more than 0: it takes 1ms to 24 days'],
    [{ kvTimeout: '-1s' }, '--kv-timeout: "-1s" is negative: it takes 1ms to 24 days, such as 500ms, 10s or 1m'],
    [{ kvTimeout: 'soon' }, '--kv-timeout: "soon" is not a duration such as 500ms, 10s or 1m; it takes 1ms to 24 days'],
    [{ kvMaxSize: '0' }, '--kv-max-size: "0" must be more than 0 bytes: a size such as 16MiB, 512KiB or a number of bytes'],
    [{ kvMaxSize: '-1' }, '--kv-max-size: "-1" is negative: a size must be more than 0 bytes, such as 16MiB, 512KiB or a number of bytes'],
    [{ kvMaxSize: 'lots' }, '--kv-max-size: "lots" is not a size such as 16MiB, 512KiB or a number of bytes (more than 0)'],
    [{ frontendPort: '-1' }, '--frontend-port: port "-1" is negative: a port is from 1 to 65535'],
    [{ frontendPort: 'x' }, '--frontend-port: port "x" is not a whole number from 1 to 65535'],
  ])('%j is refused stating the rule: %s', async (flags, message) => {
    expect((await failure(loadSettings(flags, io(makeTempDir())))).message).toBe(message);
  });

  it('reads the etcd user and password (flag, variable or file), never keeping a password without a user', async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'pw'), 'from-file\n');
    const viaEnv = await loadSettings({}, io(dir, { KV_USER: 'occs', KV_PASSWORD_FILE: 'pw' }));
    expect([viaEnv.kvUser, viaEnv.kvPassword]).toEqual(['occs', 'from-file']);
    const viaFlags = await loadSettings({ kvUser: 'flag-user', kvPassword: 'flag-pw' }, io(dir, { KV_USER: 'occs', KV_PASSWORD: 'env-pw' }));
    expect([viaFlags.kvUser, viaFlags.kvPassword]).toEqual(['flag-user', 'flag-pw']);
    const alone = await failure(loadSettings({ kvPassword: 'pw' }, io(dir)));
    expect(alone.message).toContain('password was given without a user');
    const halfTls = await failure(loadSettings({ kvCert: 'c.pem' }, io(dir)));
    expect(halfTls.message).toContain('--kv-cert and --kv-key go together');
  });

  it.each([
    [{ frontendPort: '70000' }, {}, '--frontend-port'],
    [{ balance: 'fastest' }, {}, '--balance'],
    [{ kvTimeout: 'soon' }, {}, '--kv-timeout'],
    [{}, { KV_IP: '10.0.0.1' }, 'KV_PORT'],
    [{}, { OCCS_LB_STATS_PASSWORD: 'pass word' }, 'OCCS_LB_STATS_PASSWORD'],
    [{ token: 'a', tokenFile: 'b' }, {}, '--token-file'],
    [{}, { OCCS_API_TOKEN: 'tök€n' }, 'OCCS_API_TOKEN'],
    [{ prefix: ['apps/../../agent/self'] }, {}, 'apps/../../agent/self'],
    [{}, { OCCS_BACKEND_KEY: 'apps/./x' }, 'apps/./x'],
  ])('refuses bad input %j %j, naming %s (exit 2)', async (flags, env, name) => {
    const error = await failure(loadSettings(flags, io(makeTempDir(), env)));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(name);
  });

  it("chooses one reload strategy; flags replace the config file's choice; two in one layer are refused", async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'occs-lb.config.json'), JSON.stringify({ pidFile: 'run/haproxy.pid', haproxyConfig: 'haproxy.cfg', reloadTimeout: '3s' }));
    const fromFile = await loadSettings({}, io(dir));
    expect(fromFile.haproxy).toMatchObject({
      reload: { kind: 'pid-file', pidFile: join(dir, 'run/haproxy.pid') },
      config: join(dir, 'haproxy.cfg'),
      reloadTimeoutMs: 3000,
    });
    const flagged = await loadSettings({ masterSocket: 'm.sock' }, io(dir));
    expect(flagged.haproxy.reload).toEqual({ kind: 'master-socket', socket: join(dir, 'm.sock') });
    const both = await failure(loadSettings({ masterSocket: 'm.sock', reloadCmd: 'true' }, io(dir)));
    expect(both.message).toContain('--master-socket and --reload-cmd both choose how to reload');
    const out = await loadSettings({ out: 'x/haproxy.cfg' }, io(makeTempDir()));
    expect(out.haproxy.config).toMatch(/x\/haproxy\.cfg$/);
  });

  it('resolves several resources relative to the config file', async () => {
    const dir = makeTempDir();
    mkdirSync(join(dir, 'conf'));
    writeFileSync(
      join(dir, 'conf', 'lb.json'),
      JSON.stringify({
        prefixes: ['apps/a'],
        resources: [
          { template: 'a.ejs', destination: 'out/a.cfg' },
          { template: '/abs/b.ejs', destination: 'b.cfg', prefixes: ['apps/b'], haproxy: false },
        ],
      }),
    );
    const s = await loadSettings({ config: 'conf/lb.json' }, io(dir));
    expect(s.resources).toEqual([
      { template: join(dir, 'conf/a.ejs'), destination: join(dir, 'conf/out/a.cfg'), prefixes: ['apps/a'], haproxy: true },
      { template: '/abs/b.ejs', destination: join(dir, 'conf/b.cfg'), prefixes: ['apps/b'], haproxy: false },
    ]);
    const ambiguous = await failure(loadSettings({ config: 'conf/lb.json', out: 'x.cfg' }, io(dir)));
    expect(ambiguous.exitCode).toBe(2);
    expect(ambiguous.message).toContain('--out is ambiguous');
  });

  it.each([
    ['1m30s', { minMs: 90_000, maxMs: 360_000 }],
    ['1s:1m30s', { minMs: 1000, maxMs: 90_000 }],
    ['1h5m', { minMs: 3_900_000, maxMs: 15_600_000 }],
    ['1.5s:2', { minMs: 1500, maxMs: 2000 }],
    ['0', { minMs: 0, maxMs: 0 }],
  ])('--wait %s: durations as confd and consul-template write them (Go style)', async (wait, expected) => {
    expect((await loadSettings({ wait }, io(makeTempDir()))).watch).toMatchObject({ waitMinMs: expected.minMs, waitMaxMs: expected.maxMs });
  });

  it.each([
    ['2s:1s', '--wait: "2s:1s": MAX (1s) is below MIN (2s)'],
    ['1m:30s', '--wait: "1m:30s": MAX (30s) is below MIN (1m)'],
    ['soon', '--wait: "soon" is not MIN[:MAX], e.g. 200ms:2s, 1s:1m30s or 0'],
    ['1m30', '--wait: "1m30" is not MIN[:MAX], e.g. 200ms:2s, 1s:1m30s or 0'],
  ])('--wait %s is exit 2 saying what is wrong', async (wait, message) => {
    const error = await failure(loadSettings({ wait }, io(makeTempDir())));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(message);
  });
});

describe('Consul reads and clusters', () => {
  it('reads --kv-consistency and --kv-max-stale from flags, OCCS_LB_ variables or the config file (default: no query parameter, 2 s)', async () => {
    const dir = makeTempDir();
    expect(await loadSettings({}, io(dir))).toMatchObject({ kvConsistency: 'default', kvMaxStaleMs: 2000 });
    writeFileSync(join(dir, 'occs-lb.config.json'), JSON.stringify({ kvConsistency: 'stale', kvMaxStale: '5s' }));
    expect(await loadSettings({}, io(dir))).toMatchObject({ kvConsistency: 'stale', kvMaxStaleMs: 5000 });
    expect(await loadSettings({ kvConsistency: 'consistent', kvMaxStale: '500ms' }, io(dir))).toMatchObject({
      kvConsistency: 'consistent',
      kvMaxStaleMs: 500,
    });
    const env = { OCCS_LB_KV_CONSISTENCY: 'stale', OCCS_LB_KV_MAX_STALE: '10s' };
    expect(withEnvironment({}, env, () => false, 'watch').flags).toMatchObject({ kvConsistency: 'stale', kvMaxStale: '10s' });
    expect(thrown(() => withEnvironment({}, { OCCS_LB_KV_CONSISTENCY: 'eventual' }, () => false, 'render')).message).toBe(
      'environment OCCS_LB_KV_CONSISTENCY: "eventual" is not one of default, stale, consistent',
    );
  });

  it.each([
    [{ kvMaxStale: '0' }, '--kv-max-stale: "0" must be more than 0: it takes 1ms to 24 days'],
    [{ kvConsistency: 'eventual' }, '--kv-consistency: "eventual" is not one of default, stale, consistent'],
  ])('refuses %j (exit 2)', async (flags, message) => {
    const error = await failure(loadSettings(flags, io(makeTempDir())));
    expect([error.exitCode, error.message]).toEqual([2, message]);
  });

  it.each([
    ['10.0.0.1', '9109', 'http://10.0.0.1:9109'],
    ['10.0.0.1,10.0.0.2', '8500', 'http://10.0.0.1:8500,10.0.0.2:8500'],
    [' 10.0.0.1 , consul-2.example:8501 ', '8500', 'http://10.0.0.1:8500,consul-2.example:8501'],
    ['::1,[fe80::1]:8501,[fe80::2]', '8500', 'http://[::1]:8500,[fe80::1]:8501,[fe80::2]:8500'],
  ])('KV_IP=%j with KV_PORT=%s is the store %s (KV_PORT for each address without a port)', async (ip, port, spec) => {
    expect((await loadSettings({}, io(makeTempDir(), { KV_IP: ip, KV_PORT: port }))).kv?.spec).toBe(spec);
  });

  it('takes KV_IP without KV_PORT when every address has its own port', async () => {
    expect((await loadSettings({}, io(makeTempDir(), { KV_IP: '10.0.0.1:8500,10.0.0.2:8501' }))).kv?.spec).toBe('http://10.0.0.1:8500,10.0.0.2:8501');
  });

  it.each([
    [{ KV_IP: '10.0.0.1,,10.0.0.2', KV_PORT: '8500' }, 'environment KV_IP: "10.0.0.1,,10.0.0.2" has an empty address between commas'],
    [{ KV_IP: '10.0.0.1:http', KV_PORT: '8500' }, 'environment KV_IP: port "http" is not a whole number from 1 to 65535'],
    [{ KV_IP: '10.0.0.1:8500,10.0.0.2' }, 'KV_IP is set but KV_PORT is not'],
    [{ KV_PORT: '8500' }, 'KV_PORT is set but KV_IP is not'],
  ])('refuses %j (exit 2)', async (env, message) => {
    const error = await failure(loadSettings({}, io(makeTempDir(), env)));
    expect([error.exitCode, error.message]).toEqual([2, message]);
  });
});
