import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, ROOT } from '../support/cli.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { haproxyCheck, serverLines } from '../support/haproxy.js';
import { makeTempDir } from '../support/temp.js';

const TOKEN = 'occs-token-5f0e1c9a7b';
const SEED_SERVERS = ['server one 10.9.1.1:32001 check', 'server two 10.9.1.2:32002 check'];
const HOSTILE_KEYS = ['newline', 'cr', 'hash', 'semicolon', 'dollar', 'quote', 'space', 'badport', 'empty', 'zone'];

let store: ConsulKvServer;

beforeEach(async () => {
  store = await new ConsulKvServer({ token: TOKEN }).start();
  store.put('apps/myapp/containers/one', '10.9.1.1:32001');
  store.put('apps/myapp/containers/two', '10.9.1.2:32002');
});

afterEach(async () => {
  await store.stop();
});

/** The old image's environment, pointing at the test store. */
const seedEnv = (overrides: Record<string, string> = {}) => ({
  KV_IP: '127.0.0.1',
  KV_PORT: String(store.port),
  OCCS_API_TOKEN: TOKEN,
  OCCS_BACKEND_KEY: 'apps/myapp/containers',
  ...overrides,
});

describe('occs-lb render', () => {
  it('renders the seed config from the OCCS variables, and real haproxy -c -dW accepts it', async () => {
    const result = await runCli(['render'], { env: seedEnv() });
    expect(result.code).toBe(0);
    expect(serverLines(result.stdout)).toEqual(SEED_SERVERS);
    expect(result.stdout).toMatch(
      /backend nginx_80\n {4}balance roundrobin\n {4}mode http\n {4}option httpchk\n {4}http-check send meth HEAD uri \/ ver HTTP\/1.1 hdr Host localhost\n {4}server one/,
    );
    expect(result.stdout).toMatch(/frontend main\n {4}bind \*:5000\n {4}default_backend nginx_80/);
    expect(result.stdout).toContain('stats uri /haproxy?stats');
    expect(result.stdout).toContain('bind *:1936');
    expect(result.stdout).toContain('stats auth occsdemo:occspass');
    expect(result.stderr).toContain('demo credentials (set OCCS_LB_STATS_USER');
    const check = haproxyCheck(result.stdout);
    expect(check.output).toContain('Configuration file is valid');
    expect(check.ok).toBe(true);
  });

  it.each(['kv.properties', 'kv.json', 'consul-export.json'])('renders the same from --kv file:examples/%s', async (file) => {
    const result = await runCli(['render', '--kv', `file:examples/${file}`, '--prefix', 'apps/myapp/containers']);
    expect(result.code).toBe(0);
    expect(serverLines(result.stdout)).toEqual(SEED_SERVERS);
    expect(haproxyCheck(result.stdout).ok).toBe(true);
  });

  it('a wrong token exits 3 saying "unauthorised", and never prints the token', async () => {
    const wrong = 'wrong-token-c0ffee';
    const result = await runCli(['render'], { env: seedEnv({ OCCS_API_TOKEN: wrong }) });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('unauthorised');
    expect(result.stderr).toContain('OCCS_API_TOKEN');
    expect(`${result.stdout}${result.stderr}`).not.toContain(wrong);
    expect(result.stdout).toBe('');
  });

  it('the token never appears, even with --verbose stack traces or an error body that echoes it', async () => {
    store.fail({ kind: 'status', status: 500, body: `bad token ${TOKEN} rejected` });
    const result = await runCli(['render', '--verbose'], { env: seedEnv() });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('HTTP 500');
    expect(result.stderr).toContain('***');
    expect(result.stderr).not.toContain(TOKEN);
  });

  it('a store that is down exits 3 with what to check', async () => {
    await store.stop();
    const result = await runCli(['render'], { env: seedEnv() });
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/refused the connection.*KV_IP\/KV_PORT/);
  });

  it('a store that never answers exits 3 when the timeout is over', async () => {
    store.fail({ kind: 'hang' });
    const result = await runCli(['render', '--kv-timeout', '1s'], { env: seedEnv() });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('did not answer within 1s');
  });

  it('an empty prefix (404) is a successful answer: exit 0 and a backend with no servers', async () => {
    const result = await runCli(['render'], { env: seedEnv({ OCCS_BACKEND_KEY: 'apps/nothing/here' }) });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('backend nginx_80');
    expect(serverLines(result.stdout)).toEqual([]);
    expect(haproxyCheck(result.stdout).ok).toBe(true);
  });

  it('without a store, exits 2 and shows both ways to set one', async () => {
    const result = await runCli(['render'], { env: { OCCS_BACKEND_KEY: 'apps/myapp/containers' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('KV_IP and KV_PORT');
    expect(result.stderr).toContain('--kv');
  });

  describe('hostile values', () => {
    it('never reach the output; each is named in a warning; names are made safe and unique', async () => {
      const result = await runCli(['render', '--kv', 'file:test/fixtures/hostile.json', '--prefix', 'apps/myapp/containers']);
      expect(result.code).toBe(0);
      expect(serverLines(result.stdout)).toEqual([
        'server good 10.9.1.1:32001 check',
        'server web_1-2 10.9.1.2:32002 check',
        'server web_1 10.9.1.3:32003 check',
      ]);
      for (const bad of ['10.6.6', 'injected', '6666', 'HOME', 'backup', 'shutdown', '99999']) {
        expect(result.stdout).not.toContain(bad);
      }
      for (const key of HOSTILE_KEYS) {
        expect(result.stderr).toContain(`skipped /apps/myapp/containers/${key}:`);
      }
      expect(result.stderr).toContain('server name "web 1" of /apps/myapp/containers/web 1 is not [A-Za-z0-9._:-]+; using "web_1-2"');
      expect(haproxyCheck(result.stdout).ok).toBe(true);
      // Keys are data in the logs too: no fake log line, no terminal escape.
      expect(result.stderr).toContain('skipped /apps/myapp/containers/fake\\u000awarning: all good:');
      expect(result.stderr).not.toMatch(/^warning: all good/m);
      expect(result.stderr).not.toContain('\u001b');
    });

    it('the same from the Consul store', async () => {
      const hostile = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/hostile.json'), 'utf8')) as Record<string, string>;
      for (const [key, value] of Object.entries(hostile)) store.put(key, value);
      const result = await runCli(['render'], { env: seedEnv() });
      expect(result.code).toBe(0);
      expect(serverLines(result.stdout)).toHaveLength(5);
      expect(result.stdout).not.toContain('10.6.6');
      for (const key of HOSTILE_KEYS) expect(result.stderr).toContain(`skipped /apps/myapp/containers/${key}:`);
    });

    it('--strict exits 5, lists every rejected key and prints nothing', async () => {
      const result = await runCli(['render', '--strict', '--kv', 'file:test/fixtures/hostile.json', '--prefix', 'apps/myapp/containers']);
      expect(result.code).toBe(5);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`${HOSTILE_KEYS.length + 2} key/value entries were rejected (--strict)`);
      expect(result.stderr).not.toContain('\u001b');
      for (const key of HOSTILE_KEYS) expect(result.stderr).toContain(`/apps/myapp/containers/${key}:`);
    });

    it('a custom template that prints a raw value with <%= %> is refused (exit 5), naming the key', async () => {
      const dir = makeTempDir();
      const template = join(dir, 'raw.ejs');
      writeFileSync(
        template,
        'backend b\n<% for (const p of gets("/apps/myapp/containers/*")) { -%>\n    server <%= base(p.key) %> <%= p.value %>\n<% } -%>\n',
      );
      const result = await runCli(['render', '--template', template, '--kv', 'file:test/fixtures/hostile.json', '--prefix', 'apps/myapp/containers']);
      expect(result.code).toBe(5);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`template ${template}:3`);
      expect(result.stderr).toMatch(/refused to print the value of \/apps\/myapp\/containers\/\w+/);
    });
  });

  it('a template with a syntax error exits 4 naming the template and line', async () => {
    const dir = makeTempDir();
    const template = join(dir, 'broken.ejs');
    writeFileSync(template, 'global\n    maxconn 10\n<% for (const s of servers()) { %>\n    server <%= s.name %>\n<% }} %>\n');
    const result = await runCli(['render', '--template', template, '--kv', 'file:examples/kv.properties', '--prefix', 'apps/myapp/containers']);
    expect(result.code).toBe(4);
    expect(result.stderr).toContain(`template ${template}:5:`);
    expect(result.stderr).toContain('<% }} %>');
    expect(result.stdout).toBe('');
  });

  describe('--out', () => {
    it("installs the complete config, keeping the file's mode, and leaves no temp file", async () => {
      const dir = makeTempDir();
      const out = join(dir, 'haproxy.cfg');
      writeFileSync(out, 'old config\n');
      chmodSync(out, 0o640);
      const result = await runCli(['render', '--out', out], { env: seedEnv() });
      expect(result.code).toBe(0);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`wrote ${out}`);
      expect(serverLines(readFileSync(out, 'utf8'))).toEqual(SEED_SERVERS);
      expect(statSync(out).mode & 0o777).toBe(0o640);
      expect(readdirSync(dir)).toEqual(['haproxy.cfg']);

      const again = await runCli(['render', '--out', out], { env: seedEnv() });
      expect(again.stderr).toContain('is unchanged');
    });

    it.each([
      ['the store refuses the token', ['render'], { OCCS_API_TOKEN: 'nope-nope-nope' }, 3],
      ['an entry is rejected with --strict', ['render', '--strict'], {}, 5],
      ['the template is broken', ['render', '--template', 'test/fixtures/does-not-exist.ejs'], {}, 4],
    ])('leaves the old file untouched when %s', async (_, args, env, code) => {
      store.put('apps/myapp/containers/bad', '10.0.0.1:80 backup');
      const dir = makeTempDir();
      const out = join(dir, 'haproxy.cfg');
      writeFileSync(out, 'old config\n');
      const result = await runCli([...args, '--out', out], { env: seedEnv(env) });
      expect(result.code).toBe(code);
      expect(readFileSync(out, 'utf8')).toBe('old config\n');
      expect(readdirSync(dir)).toEqual(['haproxy.cfg']);
    });
  });

  describe('--out checks the new config with haproxy -c before installing it', () => {
    /** A template HAProxy rejects (an unknown keyword in the backend), valid EJS otherwise. */
    function rejectedTemplate(): string {
      const path = join(makeTempDir(), 'rejected.cfg.ejs');
      const text = readFileSync(join(ROOT, 'templates/haproxy.cfg.ejs'), 'utf8');
      writeFileSync(path, text.replace('backend <%= settings.backendName %>', 'backend <%= settings.backendName %>\n    no-such-keyword on'));
      return path;
    }

    it('a config HAProxy rejects is exit 5, naming the line, and the installed file stays as it was', async () => {
      const dir = makeTempDir();
      const out = join(dir, 'haproxy.cfg');
      writeFileSync(out, 'old config\n');
      const result = await runCli(['render', '--template', rejectedTemplate(), '--out', out], { env: seedEnv() });
      expect(result.code).toBe(5);
      expect(result.stderr).toMatch(
        new RegExp(
          `haproxy -c rejected the new config of ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at line \\d+ \\(from template rejected\\.cfg\\.ejs:\\d+\\): .*no-such-keyword`,
        ),
      );
      expect(result.stderr).toContain('(nothing was written; fix the template or the entries, or install it unchecked with --no-check)');
      expect(readFileSync(out, 'utf8')).toBe('old config\n');
      expect(readdirSync(dir)).toEqual(['haproxy.cfg']);
    });

    it('--no-check installs it unchecked', async () => {
      const out = join(makeTempDir(), 'haproxy.cfg');
      const result = await runCli(['render', '--template', rejectedTemplate(), '--out', out, '--no-check'], { env: seedEnv() });
      expect(result.code).toBe(0);
      expect(readFileSync(out, 'utf8')).toContain('no-such-keyword on');
    });

    it('without HAProxy on PATH: exit 2 saying so and how to go on, nothing written; --no-check installs', async () => {
      const dir = makeTempDir();
      const out = join(dir, 'haproxy.cfg');
      const env = seedEnv({ PATH: dirname(process.execPath) });
      const result = await runCli(['render', '--out', out], { env });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/HAProxy is not installed here.*--no-check/s);
      expect(readdirSync(dir)).toEqual([]);
      const unchecked = await runCli(['render', '--out', out, '--no-check'], { env });
      expect(unchecked.code).toBe(0);
      expect(serverLines(readFileSync(out, 'utf8'))).toEqual(SEED_SERVERS);
    });

    it('printing to stdout needs no HAProxy', async () => {
      const result = await runCli(['render'], { env: seedEnv({ PATH: dirname(process.execPath) }) });
      expect(result.code).toBe(0);
      expect(serverLines(result.stdout)).toEqual(SEED_SERVERS);
    });
  });

  it('writes each destination of a config file with several resources', async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'status.ejs'), '<% for (const s of servers()) { -%>\n<%= s.name %> <%= s.address %>\n<% } -%>\n');
    writeFileSync(
      join(dir, 'occs-lb.config.json'),
      JSON.stringify({
        kv: `file:${join(ROOT, 'examples/kv.properties')}`,
        prefixes: ['apps/myapp/containers'],
        statsUser: 'admin',
        statsPassword: 'long-random-password',
        resources: [
          { template: join(ROOT, 'templates/haproxy.cfg.ejs'), destination: 'haproxy.cfg' },
          { template: 'status.ejs', destination: 'servers.txt', haproxy: false },
        ],
      }),
    );
    const result = await runCli(['render'], { cwd: dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).not.toContain('demo credentials');
    expect(serverLines(readFileSync(join(dir, 'haproxy.cfg'), 'utf8'))).toEqual(SEED_SERVERS);
    expect(readFileSync(join(dir, 'servers.txt'), 'utf8')).toBe('one 10.9.1.1:32001\ntwo 10.9.1.2:32002\n');
  });

  it('a config file with an unknown setting exits 2 naming the key and the file', async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, '.occs-lbrc.json'), JSON.stringify({ kv: 'file:x', backend_name: 'web' }));
    const result = await runCli(['render'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(join(dir, '.occs-lbrc.json'));
    expect(result.stderr).toContain('unknown setting "backend_name", did you mean "backendName"?');
  });

  it.each([
    [
      'occs-lb.config.json',
      '{\n  "kv": "file:x",\n  "prefixes": ["a"],,\n}\n',
      /is not valid JSON at line 3, column 21: unexpected "," where a property name in double quotes should be/,
      '>>    3 |   "prefixes": ["a"],,\n        |                     ^',
    ],
    [
      // V8 gives no position for a trailing comma in an array.
      'occs-lb.config.json',
      '{\n  "kv": "file:x",\n  "prefixes": [\n    "a",\n  ]\n}\n',
      /is not valid JSON at line 4, column 8: a trailing comma after the last element \(JSON allows none before '\]'\)/,
      '>>    4 |     "a",\n        |        ^',
    ],
    [
      '.occs-lbrc.json',
      '{\n  "kv": "file:x",\n  "prefixes": ["a"],\n}\n',
      /is not valid JSON at line 3, column 20: a trailing comma after the last property \(JSON allows none before '}'\)/,
      '>>    3 |   "prefixes": ["a"],\n        |                    ^',
    ],
    [
      'package.json',
      '{\n  "name": "x",\n  "occs-lb": {"kv": "file:x",}\n}\n',
      /is not valid JSON at line 3, column 29: a trailing comma after the last property/,
      '>>    3 |   "occs-lb": {"kv": "file:x",}\n        |                             ^',
    ],
    [
      '.occs-lbrc.yaml',
      'kv: file:x\nprefixes:\n  - a\n - b\n',
      /is not valid YAML at line 4, column 2: bad indentation of a mapping entry/,
      '>>    4 |  - b\n        |  ^',
    ],
    ['.occs-lbrc', 'kv: file:x\nprefixes: [a\n', /is not valid YAML at line 3, column 1: /, '>>    3 | \n        | ^'],
  ])('a config file that does not parse (%s) exits 2 with the line, the column, the reason and the lines around', async (name, text, said, marked) => {
    const dir = makeTempDir();
    writeFileSync(join(dir, name), text);
    const result = await runCli(['render'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`config file ${join(dir, name)} `);
    expect(result.stderr).toMatch(said);
    expect(result.stderr).toContain(marked);
  });

  it('an unknown key in a resource suggests the known one', async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, '.occs-lbrc.json'), JSON.stringify({ kv: 'file:x', resources: [{ template: 't.ejs', destinaton: 'x.cfg' }] }));
    const result = await runCli(['render'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown setting "resources[0].destinaton", did you mean "destination"?');
  });

  it('a secret file that cannot be read is exit 2 naming the setting that named it', async () => {
    const missing = join(makeTempDir(), 'missing');
    const password = await runCli(['render', '--kv', 'etcd://127.0.0.1:1', '--prefix', 'x', '--kv-user', 'u', '--kv-password-file', missing]);
    expect(password.code).toBe(2);
    expect(password.stderr).toContain(`cannot read ${missing}, named by --kv-password-file (ENOENT); point --kv-password-file at a readable file`);
    expect(password.stderr).not.toContain(') (');
    expect(password.stderr).not.toMatch(/token|OCCS_API_TOKEN_FILE/);
    const token = await runCli(['render', '--prefix', 'x'], { env: { ...seedEnv(), OCCS_API_TOKEN: '', OCCS_API_TOKEN_FILE: missing } });
    expect(token.code).toBe(2);
    expect(token.stderr).toContain(`named by environment OCCS_API_TOKEN_FILE`);
  });

  it('an empty token file is a warning (no token is sent), not silence', async () => {
    const empty = join(makeTempDir(), 'token');
    writeFileSync(empty, '\n');
    const kv = `file:${join(ROOT, 'examples/kv.properties')}`;
    const result = await runCli(['render', '--kv', kv, '--prefix', 'apps/myapp/containers', '--token-file', empty]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('warning: the token file named by --token-file is empty: no token is sent');
    const json = JSON.parse(
      (await runCli(['validate', '--kv', kv, '--prefix', 'apps/myapp/containers', '--token-file', empty, '--no-haproxy', '--format', 'json'])).stdout,
    );
    expect(json.warnings).toContainEqual({ source: 'config', message: 'the token file named by --token-file is empty: no token is sent' });
  });

  it('--help documents the environment and the exit codes', async () => {
    const result = await runCli(['render', '--help']);
    expect(result.code).toBe(0);
    for (const text of ['--out', '--kv', 'OCCS_BACKEND_KEY', 'OCCS_API_TOKEN_FILE', '3 key/value store unreachable', '5 rendered config rejected']) {
      expect(result.stdout).toContain(text);
    }
  });

  it('an unknown option is a usage error (exit 2)', async () => {
    const result = await runCli(['render', '--no-such-flag']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown option '--no-such-flag'");
  });
});

describe('occs-lb render from an https store', () => {
  const tls = (name: string) => readFileSync(join(ROOT, 'test/fixtures/tls', name));
  let secure: ConsulKvServer;

  beforeEach(async () => {
    secure = await new ConsulKvServer({ tls: { key: tls('server.key'), cert: tls('server.pem') } }).start();
    secure.put('apps/myapp/containers/one', '10.9.1.1:32001');
  });

  afterEach(async () => {
    await secure.stop();
  });

  const args = () => ['render', '--kv', secure.url, '--prefix', 'apps/myapp/containers'];

  it('verifies the certificate by default: an unknown CA is exit 3 with what to do', async () => {
    const result = await runCli(args());
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('TLS certificate that is not trusted');
    expect(result.stderr).toContain('--kv-ca');
  });

  it('trusts the CA given with --kv-ca', async () => {
    const result = await runCli([...args(), '--kv-ca', 'test/fixtures/tls/ca.pem']);
    expect(result.code).toBe(0);
    expect(serverLines(result.stdout)).toEqual(['server one 10.9.1.1:32001 check']);
  });

  it('--kv-ca adds a CA: the ones Node already trusts (NODE_EXTRA_CA_CERTS) still count', async () => {
    const result = await runCli([...args(), '--kv-ca', 'test/fixtures/tls/server.pem'], {
      env: { NODE_EXTRA_CA_CERTS: join(ROOT, 'test/fixtures/tls/ca.pem') },
    });
    expect(result.code).toBe(0);
  });

  it('skips verification only when asked with --insecure', async () => {
    const result = await runCli([...args(), '--insecure']);
    expect(result.code).toBe(0);
    expect(serverLines(result.stdout)).toEqual(['server one 10.9.1.1:32001 check']);
  });
});

describe('occs-lb render keeps secrets and streams clean', () => {
  it('never shows credentials or a ?token= given in --kv, even in debug logs', async () => {
    for (const kv of ['http://user:PASSWD-1@127.0.0.1:1', 'http://127.0.0.1:1/?token=SECRET-2']) {
      const result = await runCli(['render', '--verbose', '--kv', kv, '--prefix', 'apps/x']);
      expect(result.code).toBe(2);
      expect(result.stderr).not.toMatch(/PASSWD-1|SECRET-2/);
    }
  });

  it('a file:// URL with a host is a usage error (exit 2)', async () => {
    const result = await runCli(['render', '--kv', 'file://remote/kv.json', '--prefix', 'apps/x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('is not a local file URL');
  });

  it('a reader that stops early (render | head) is not a crash', async () => {
    const dir = makeTempDir();
    const big = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`apps/big/containers/c${i}`, `10.1.${i >> 8}.${i & 255}:80`]));
    writeFileSync(join(dir, 'big.json'), JSON.stringify(big));
    const { spawn } = await import('node:child_process');
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin/occs-lb.js'), 'render', '--kv', `file:${join(dir, 'big.json')}`, '--prefix', 'apps/big/containers'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toContain('EPIPE');
    expect(stderr).not.toContain('unexpected failure');
    expect(code).toBe(0);
  });

  it('installs several destinations all-or-nothing', async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'a.cfg'), 'old a\n');
    writeFileSync(
      join(dir, 'occs-lb.config.json'),
      JSON.stringify({
        kv: `file:${join(ROOT, 'examples/kv.properties')}`,
        prefixes: ['apps/myapp/containers'],
        resources: [
          { template: join(ROOT, 'templates/haproxy.cfg.ejs'), destination: 'a.cfg' },
          { template: join(ROOT, 'templates/haproxy.cfg.ejs'), destination: 'missing-dir/b.cfg' },
        ],
      }),
    );
    const result = await runCli(['render'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no file was changed');
    expect(readFileSync(join(dir, 'a.cfg'), 'utf8')).toBe('old a\n');
    expect(readdirSync(dir).sort()).toEqual(['a.cfg', 'occs-lb.config.json']);
  });
});

describe('occs-lb render from etcd', () => {
  it('renders the same config from etcd, keys with or without a leading slash, same OCCS_BACKEND_KEY', async () => {
    const { EtcdServer } = await import('../support/etcd-server.js');
    const etcd = await new EtcdServer().start();
    try {
      await etcd.enableAuth('occs', 'etcd-secret-pw');
      await etcd.put('apps/myapp/containers/one', '10.9.1.1:32001');
      await etcd.put('/apps/myapp/containers/two', '10.9.1.2:32002');
      const env = { OCCS_BACKEND_KEY: 'apps/myapp/containers', KV_USER: 'occs', KV_PASSWORD: 'etcd-secret-pw' };
      const result = await runCli(['render', '--kv', etcd.url], { env });
      expect(result.code).toBe(0);
      expect(serverLines(result.stdout)).toEqual(SEED_SERVERS);
      expect(haproxyCheck(result.stdout).ok).toBe(true);

      const wrong = await runCli(['render', '--kv', etcd.url, '--verbose'], { env: { ...env, KV_PASSWORD: 'not-the-password' } });
      expect(wrong.code).toBe(3);
      expect(wrong.stderr).toContain('unauthorised');
      expect(wrong.stderr).toContain('authentication failed');
      expect(`${wrong.stdout}${wrong.stderr}`).not.toContain('not-the-password');
    } finally {
      await etcd.stop();
    }
  });
});
