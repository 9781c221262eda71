import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleOf, makeCa, makeLeaf, type TestCert } from '../support/certs.js';
import { ROOT, runCli } from '../support/cli.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { HaproxyProcess, answeringConfig, freePort, waitFor } from '../support/haproxy-process.js';
import { useStackRig } from '../support/stack-rig.js';
import { makeTempDir } from '../support/temp.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

/** Tokens an operator might really have: quotes and backslashes, and a plain long one. */
const TOKENS = ['q"uo\\te-T0ken-8f2', 'plain-token-0123456789abcdef'];

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** 28 characters; a store may echo its first 14 ("token prefix …"). */
const LONG_TOKEN = 'tKn-9f3QzX7-LmPq2Rv8Ws4Yh6Jb';
const ECHOED_PREFIX = LONG_TOKEN.slice(0, 14);

/** Every 4 consecutive characters of `piece` that `output` shows, in any letter case: a piece of a secret given away. */
const shownPieces = (output: string, piece: string): string[] =>
  [...Array(piece.length - 3).keys()].map((i) => piece.slice(i, i + 4)).filter((p) => output.toLowerCase().includes(p.toLowerCase()));

/** How a store may echo a token in an error body. */
const ECHOES: Array<[string, (token: string) => string]> = [
  ['as is', (t) => `invalid token ${t}`],
  ['JSON-escaped', (t) => JSON.stringify({ error: `bad token ${t}` })],
  ['upper-cased', (t) => `INVALID TOKEN ${t.toUpperCase()}`],
  ['base64', (t) => `token=${b64(t)}`],
  ['base64 inside base64', (t) => `blob=${b64(JSON.stringify({ token: t }))}`],
  ['split by a line break', (t) => `bad token ${t.slice(0, 7)}\r\n  ${t.slice(7)}`],
  ['URL-encoded', (t) => `GET /v1/kv/x?token=${encodeURIComponent(t)} denied`],
];

/** An output as a reader may take it: as is, with line breaks and escapes removed, and every JSON document in it decoded; lower-cased. */
function readings(output: string): string[] {
  const strings = (v: unknown): string[] =>
    typeof v === 'string' ? [v] : Array.isArray(v) ? v.flatMap(strings) : v && typeof v === 'object' ? Object.values(v).flatMap(strings) : [];
  const decoded: string[] = [];
  for (const doc of [output, ...output.split('\n')]) {
    try {
      decoded.push(strings(JSON.parse(doc)).join('\n'));
    } catch {
      // not JSON
    }
  }
  return [output, ...decoded].flatMap((t) => [t, t.replace(/\\[nrt]|\\u00[0-9a-f]{2}|\s/gi, '')]).map((t) => t.toLowerCase());
}

/**
 * The token, or a piece of it that gives it away, anywhere in `output`: as is, in any letter
 * case, JSON-escaped or base64 (in any alignment), also with line breaks and escapes removed,
 * and inside every JSON document of the output once decoded.
 */
function exposed(output: string, token: string): string[] {
  const texts = readings(output);
  const forms = [token, JSON.stringify(token).slice(1, -1), encodeURIComponent(token), token.slice(2, -2)];
  for (let shift = 0; shift < 3; shift++) forms.push(b64('x'.repeat(shift) + token).slice(4, -4));
  return forms.filter((form) => texts.some((t) => t.includes(form.toLowerCase())));
}

describe('the token never appears, in any form a store can echo it', () => {
  const stores = new Map<string, ConsulKvServer>();
  beforeAll(async () => {
    for (const token of TOKENS) stores.set(token, await new ConsulKvServer({ token }).start());
  });
  afterAll(async () => {
    for (const store of stores.values()) await store.stop();
  });

  it.each(TOKENS)('token %s: render (text and JSON logs) and validate --format json', async (token) => {
    const store = stores.get(token)!;
    for (const [how, echo] of ECHOES) {
      store.fail({ kind: 'status', status: 500, body: echo(token) });
      for (const args of [['render'], ['render', '--log-format', 'json', '-v'], ['validate', '--format', 'json', '--no-haproxy']]) {
        const result = await runCli([...args, '--kv', store.url, '--prefix', PREFIX], { env: { OCCS_API_TOKEN: token } });
        expect(result.code, `${args.join(' ')}, echoed ${how}`).toBe(3);
        const output = result.stdout + result.stderr;
        expect(output, `${args.join(' ')}, echoed ${how}`).toContain('answered HTTP 500');
        expect(exposed(output, token), `${args.join(' ')}, echoed ${how}: ${output}`).toEqual([]);
      }
    }
  });

  it('a token with a space, a control or a non-ASCII character is refused (exit 2) without being shown', async () => {
    const dir = makeTempDir();
    for (const token of ['two words-zq7x', 'nön-ascii-zq7x', 'tab\tzq7x-value']) {
      writeFileSync(join(dir, 'token'), token);
      for (const env of [{ OCCS_API_TOKEN: token }, { OCCS_API_TOKEN_FILE: join(dir, 'token') }] as Array<Record<string, string>>) {
        const result = await runCli(['validate', '--format', 'json', '--no-haproxy', '--kv', 'http://127.0.0.1:9', '--prefix', PREFIX], { env });
        expect(result.code).toBe(2);
        expect(result.stderr).toContain('contains whitespace, control or non-ASCII characters');
        expect(exposed(result.stdout + result.stderr, token)).toEqual([]);
        expect(result.stdout + result.stderr).not.toContain('zq7x');
      }
    }
  });
});

describe('a store that echoes a piece of the token', () => {
  it('shows none of it in render (text and JSON logs) and validate --format json', async () => {
    const store = await new ConsulKvServer({ token: LONG_TOKEN }).start();
    try {
      store.fail({ kind: 'status', status: 500, body: `error: token prefix ${ECHOED_PREFIX}` });
      for (const args of [['render'], ['render', '--log-format', 'json'], ['validate', '--format', 'json', '--no-haproxy']]) {
        const result = await runCli([...args, '--kv', store.url, '--prefix', PREFIX], { env: { OCCS_API_TOKEN: LONG_TOKEN } });
        const output = result.stdout + result.stderr;
        expect(result.code, args.join(' ')).toBe(3);
        expect(output, args.join(' ')).toContain('answered HTTP 500: error: token prefix ***');
        expect(shownPieces(output, ECHOED_PREFIX), `${args.join(' ')}: ${output}`).toEqual([]);
      }
    } finally {
      await store.stop();
    }
  });
});

/**
 * A template whose config HAProxy rejects at a line that holds the stats password, two lines
 * below one that holds "haproxy" as an ordinary word.
 */
const ECHOING_TEMPLATE = `global
defaults
    mode http
    timeout client 1s
    timeout server 1s
    timeout connect 1s
listen stats
    bind 127.0.0.1:<%= settings.statsPort %>
    stats uri /haproxy?stats
    stats auth <%= settings.statsUser %>:<%= settings.statsPassword %>
    server s1 10.0.0.1:80 <%= settings.statsPassword %>
`;

describe.each(['haproxy', 'e'])('a stats password shorter than 8 characters (%j)', (password) => {
  const env = { OCCS_LB_STATS_PASSWORD: password };
  /** A temp dir as cwd, with templates/haproxy.cfg.ejs holding `template` and a file: store. */
  const project = (template: string): { dir: string; args: string[] } => {
    const dir = makeTempDir();
    mkdirSync(join(dir, 'templates'));
    writeFileSync(join(dir, 'templates', 'haproxy.cfg.ejs'), template);
    writeFileSync(join(dir, 'kv.properties'), `${PREFIX}/a=10.0.0.1:80\n`);
    return { dir, args: ['--kv', 'file:kv.properties', '--prefix', PREFIX, '--template', 'templates/haproxy.cfg.ejs'] };
  };
  const notice =
    'the stats password has fewer than 8 characters: it is masked only where a store or HAProxy echoes it, ' +
    'not in every message (it could be an ordinary word there); choose a longer one';
  // A config excerpt is an echo: "haproxy" standing alone there is masked like the password it equals.
  const uriLine = `      9 |     stats uri /${password === 'haproxy' ? '***' : 'haproxy'}?stats\n`;

  it('leaves the messages of render intact, masking it only where HAProxy echoes it (text and JSON logs)', async () => {
    const { dir, args } = project(ECHOING_TEMPLATE);
    const text = await runCli(['render', ...args, '--out', join(dir, 'haproxy.cfg')], { cwd: dir, env });
    expect(text.code).toBe(5);
    expect(text.stderr).toContain(`warning: ${notice}`);
    expect(text.stderr).toContain(
      `error: haproxy -c rejected the new config of ${join(dir, 'haproxy.cfg')} at line 11 (from template haproxy.cfg.ejs:11): 'server stats/s1' : unknown keyword '***'.`,
    );
    expect(text.stderr).toContain(uriLine);
    expect(text.stderr).toContain('     10 |     stats auth occsdemo:***\n');
    expect(text.stderr).toContain('>>   11 |     server s1 10.0.0.1:80 ***\n');

    const json = await runCli(['render', ...args, '--out', join(dir, 'haproxy.cfg'), '--log-format', 'json'], { cwd: dir, env });
    const lines = json.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { level: string; msg: string; detail?: string; time: string });
    expect(lines.map((l) => l.msg)).toContain(notice);
    const error = lines.find((l) => l.level === 'error')!;
    expect(error.msg).toMatch(
      /^haproxy -c rejected the new config of .*\/haproxy\.cfg at line 11 \(from template haproxy\.cfg\.ejs:11\): 'server stats\/s1' : unknown keyword '\*\*\*'\./,
    );
    expect(error.detail).toContain('stats auth occsdemo:***\n');
    expect(error.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('leaves the report of validate --format json intact, masking it only where HAProxy echoes it', async () => {
    const { dir, args } = project(ECHOING_TEMPLATE);
    const result = await runCli(['validate', ...args, '--format', 'json'], { cwd: dir, env });
    expect(result.code).toBe(5);
    const report = JSON.parse(result.stdout) as {
      configs: string[];
      steps: Array<{ step: string; status: string }>;
      errors: Array<{ source: string; message: string; line?: number; context?: string }>;
      warnings: Array<{ source: string; message: string }>;
    };
    expect(report.configs).toEqual([`rendered from ${join(dir, 'templates', 'haproxy.cfg.ejs')}`]);
    expect(report.steps).toContainEqual(expect.objectContaining({ step: 'haproxy -c', status: 'failed' }));
    expect(report.errors).toEqual([
      expect.objectContaining({
        source: 'haproxy',
        message: "[ALERT] 'server stats/s1' : unknown keyword '***'. (from template haproxy.cfg.ejs:11)",
        line: 11,
      }),
    ]);
    expect(report.errors[0]!.context).toContain('stats auth occsdemo:***\n');
    expect(report.warnings).toContainEqual({ source: 'config', message: notice });
  });

  it('leaves the path templates/haproxy.cfg.ejs whole in a template error (text and validate --format json)', async () => {
    const { dir, args } = project('global\n<% if (true) { %>\n');
    const text = await runCli(['render', ...args], { cwd: dir, env });
    expect(text.code).toBe(4);
    expect(text.stderr).toContain(`error: template ${join(dir, 'templates', 'haproxy.cfg.ejs')}:2: `);
    const json = await runCli(['validate', ...args, '--format', 'json', '--no-haproxy'], { cwd: dir, env });
    expect(json.code).toBe(4);
    const report = JSON.parse(json.stdout) as { errors: Array<{ source: string; message: string }> };
    expect(report.errors).toEqual([
      expect.objectContaining({ source: 'template', message: expect.stringContaining(`template ${join(dir, 'templates', 'haproxy.cfg.ejs')}:2: `) }),
    ]);
  });

  it('is masked where a store echoes it, the rest of the message and the report whole', async () => {
    const store = await new ConsulKvServer().start();
    try {
      store.fail({ kind: 'status', status: 500, body: `denied: stats password ${password} is not a token` });
      const echo = 'answered HTTP 500: denied: stats password *** is not a token';
      const text = await runCli(['render', '--kv', store.url, '--prefix', PREFIX], { env });
      expect(text.code).toBe(3);
      expect(text.stderr).toContain(`error: key/value store at ${store.url} ${echo} when reading "${PREFIX}"; check that`);
      const json = await runCli(['validate', '--format', 'json', '--no-haproxy', '--kv', store.url, '--prefix', PREFIX], { env });
      expect(json.code).toBe(3);
      const report = JSON.parse(json.stdout) as { errors: Array<{ source: string; message: string }>; steps: Array<{ step: string; note?: string }> };
      expect(report.errors).toEqual([{ source: 'kv', message: expect.stringContaining(echo) }]);
      // The default template's path, around the echo, is whole.
      expect(report.steps).toEqual([{ step: 'template', status: 'ok', note: join(ROOT, 'templates', 'haproxy.cfg.ejs') }]);
    } finally {
      await store.stop();
    }
  });
});

describe('watch', () => {
  const rig = useWatchRig();

  it('shows no piece of the token a store echoes in its JSON logs, and leaves them intact with a short stats password', async () => {
    const store = await new ConsulKvServer({ token: LONG_TOKEN }).start();
    try {
      store.put(`${PREFIX}/a`, rig.address(0));
      const w = rig.startWatch(store.url, [], { OCCS_API_TOKEN: LONG_TOKEN, OCCS_LB_STATS_PASSWORD: 'haproxy' });
      await w.haproxyPid(); // "started haproxy (pid …)", whole
      await rig.servedBy(['a']);
      expect(w.raw).not.toContain('***');
      const before = w.logs.length;
      store.fail({ kind: 'status', status: 500, body: `error: token prefix ${ECHOED_PREFIX}` });
      const failed = await w.waitForLog(/answered HTTP 500/, before);
      expect(failed.msg).toContain('answered HTTP 500: error: token prefix ***');
      expect(shownPieces(w.raw, ECHOED_PREFIX)).toEqual([]);
    } finally {
      store.fail(undefined);
      await rig.watch?.stop();
      await store.stop();
    }
  });

  it('never logs the token (JSON lines) when the store echoes it, and HAProxy and --reload-cmd get none of our secrets', async () => {
    const token = TOKENS[0]!;
    const dir = rig.dir;
    const secretFile = join(dir, 'password');
    writeFileSync(secretFile, 'etcd-password-not-for-children');
    const store = await new ConsulKvServer({ token }).start();
    try {
      store.put(`${PREFIX}/a`, rig.address(0));
      const w = rig.startWatch(store.url, [], {
        OCCS_API_TOKEN: token,
        KV_USER: 'occs',
        KV_PASSWORD_FILE: secretFile,
        OCCS_LB_STATS_PASSWORD: 'stats-password-1234',
      });
      const master = await w.haproxyPid();
      await rig.servedBy(['a']);
      const before = w.logs.length;
      store.fail({ kind: 'status', status: 500, body: `${ECHOES.map(([, echo]) => echo(token)).join('\n')}` });
      await w.waitForLog(/answered HTTP 500/, before);
      expect(exposed(w.raw, token)).toEqual([]);

      const workers = readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).map(Number);
      for (const pid of [master, ...workers]) {
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
        for (const secret of ['OCCS_API_TOKEN', 'KV_PASSWORD_FILE', 'OCCS_LB_STATS_PASSWORD', 'stats-password-1234']) expect(environ).not.toContain(secret);
        expect(exposed(environ, token)).toEqual([]);
      }
    } finally {
      store.fail(undefined);
      await rig.watch?.stop();
      await store.stop();
    }
  });
});

describe('reload --reload-cmd', () => {
  it('runs the command without our secrets in its environment', async () => {
    const port = await freePort();
    const h = new HaproxyProcess(port, 'master-worker');
    h.writeConfig(answeringConfig(port, 'v1'));
    await h.start();
    try {
      const dump = join(h.dir, 'env.txt');
      const result = await runCli(['reload', '--haproxy-config', h.config, '--reload-cmd', `env > ${dump}; kill -USR2 ${h.masterPid}`], {
        env: { OCCS_API_TOKEN: 'reload-token-abcdef', OCCS_API_TOKEN_FILE: '/run/secrets/t', KV_USER: 'occs', KV_PASSWORD: 'kv-password-abcdef' },
      });
      expect(result.code).toBe(0);
      const environ = readFileSync(dump, 'utf8');
      expect(environ).toContain('PATH=');
      for (const secret of ['OCCS_API_TOKEN', 'reload-token-abcdef', '/run/secrets/t', 'KV_PASSWORD', 'kv-password-abcdef'])
        expect(environ).not.toContain(secret);
    } finally {
      await h.stop();
    }
  });
});

describe('invisible characters in data never reach a log line raw', () => {
  // Bidirectional overrides and isolates, a zero-width joiner, a BOM, a soft hyphen, a tag character.
  const INVISIBLE = ['\u202e', '\u2066', '\u2069', '\u200d', '\ufeff', '\u00ad', '\u{e0041}'];
  const key = `${PREFIX}/evil${INVISIBLE.join('')}name`;

  it.each(['text', 'json'])('a skipped key is named with \\uXXXX escapes in %s logs', async (format) => {
    const dir = makeTempDir();
    const kv = join(dir, 'kv.json');
    writeFileSync(kv, JSON.stringify({ [key]: 'not-an-address', [`${PREFIX}/ok`]: '10.0.0.1:80' }));
    const result = await runCli(['render', '--kv', `file:${kv}`, '--prefix', PREFIX, '--log-format', format]);
    expect(result.code).toBe(0);
    const warning = result.stderr.split('\n').find((l) => l.includes('evil'))!;
    expect(warning).toBeDefined();
    for (const c of INVISIBLE) expect(warning).not.toContain(c);
    expect(warning).toContain('\\u202e');
    if (format === 'json') expect((JSON.parse(warning) as { key: string }).key).toBe(`/${key}`); // the data itself, once decoded
  });

  it('a value with an invisible character is never printed into the config', async () => {
    const dir = makeTempDir();
    const kv = join(dir, 'kv.json');
    const template = join(dir, 't.ejs');
    writeFileSync(kv, JSON.stringify({ 'apps/web/timeout': '30s\u202e' }));
    writeFileSync(template, 'defaults\n    timeout client <%= getv("/apps/web/timeout") %>\n');
    const result = await runCli(['render', '--kv', `file:${kv}`, '--prefix', 'apps/web', '--template', template]);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('invisible character U+202E');
    expect(result.stdout).toBe('');
  });
});

/** Every 16-character run of a private key's base64, and of its PEM as a store holds it (base64, any alignment). */
function keyRuns(pem: string): string[] {
  const body = pem
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('-----'))
    .join('');
  const forms = [body, ...[0, 1, 2].map((shift) => b64('x'.repeat(shift) + pem).slice(4, -4))];
  return forms.flatMap((form) => Array.from({ length: form.length - 15 }, (_, i) => form.slice(i, i + 16).toLowerCase()));
}

/** The runs of the keys that `output` shows in any reading (as is, unescaped, JSON decoded). */
const keysShown = (output: string, keys: readonly string[]): string[] => {
  const texts = readings(output);
  return keys.flatMap(keyRuns).filter((run) => texts.some((t) => t.includes(run)));
};

describe('a private key never appears in any output', () => {
  /** web: served; stray: its key refused with web's certificate; cut: a key block cut short; loose: a bundle, key first, stored where routes and weights go. */
  const k = {} as { dir: string; web: TestCert; stray: TestCert; cut: TestCert; loose: TestCert; keys: string[] };
  beforeAll(() => {
    const dir = makeTempDir();
    const ca = makeCa(dir, 'Safety CA');
    const leaf = () => makeLeaf(dir, ca, 'www.example.test', { san: ['DNS:www.example.test'] });
    Object.assign(k, { dir, web: leaf(), stray: leaf(), cut: leaf(), loose: leaf() });
    k.keys = [k.web.key, k.stray.key, k.cut.key, k.loose.key];
  }, 60_000);

  /** A store file of stack mode holding every kind of bundle, good and refused. */
  const storeFile = (): string => {
    const kv = join(makeTempDir(), 'kv.json');
    const cutKey = k.cut.key.split('\n');
    cutKey.splice(2, 1);
    writeFileSync(
      kv,
      JSON.stringify({
        'apps/web/containers/w1': '10.0.0.1:80',
        'lb/certs/web': bundleOf(k.web),
        'lb/certs/stray': bundleOf(k.web, [], k.stray.key),
        'lb/certs/cut': bundleOf(k.cut, [], cutKey.join('\n')),
        'lb/routes/web': `www.example.test ${k.loose.key}`,
        'lb/weights/web/w1': k.loose.key + k.loose.cert,
      }),
    );
    return kv;
  };

  it('render and validate (text, JSON logs and reports, -v, --strict): the refusals say why, and show none of it', async () => {
    const kv = storeFile();
    const out = join(makeTempDir(), 'haproxy.cfg');
    const base = ['--kv', `file:${kv}`, '--stack', 'apps', '--https-port', '8443', '-v'];
    const runs: Array<[string[], number]> = [
      [['render', ...base, '--out', out], 0],
      [['render', ...base, '--out', out, '--log-format', 'json'], 0],
      [['render', ...base, '--out', out, '--strict'], 5],
      [['validate', ...base], 0],
      [['validate', ...base, '--format', 'json'], 0],
      [['validate', ...base, '--format', 'json', '--strict'], 5],
    ];
    for (const [args, code] of runs) {
      const result = await runCli(args);
      const output = result.stdout + result.stderr;
      expect(result.code, `${args.join(' ')}: ${output}`).toBe(code);
      expect(output, args.join(' ')).toMatch(/the private key does not belong/);
      expect(output, args.join(' ')).toMatch(/the private key block does not hold a key that can be read/);
      expect(output, args.join(' ')).toMatch(/\/lb\/routes\/web\b.*holds a private key, which is never shown/);
      expect(keysShown(output, k.keys), `${args.join(' ')}: ${output}`).toEqual([]);
    }
    // Nor in the files anyone may read: the config and its maps (the bundles are 0600 in a 0700 directory).
    for (const file of readdirSync(dirname(out)).filter((f) => !f.endsWith('.certs'))) {
      expect(keysShown(readFileSync(join(dirname(out), file), 'utf8'), k.keys), file).toEqual([]);
    }
  });

  it('haproxy -c refusing HTTPS (a template that hands the crt-list over as a certificate), as render and validate quote it', async () => {
    const dir = makeTempDir();
    mkdirSync(join(dir, 'certs'));
    writeFileSync(join(dir, 'certs', 'web.pem'), bundleOf(k.web));
    writeFileSync(
      join(dir, 't.ejs'),
      'global\ndefaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\nfrontend main\n' +
        '    bind 127.0.0.1:8443 ssl crt <%= tls.crtList %>\n    http-request return status 200\n',
    );
    const base = ['--kv', `file:${storeFile()}`, '--prefix', 'apps/web/containers', '--template', join(dir, 't.ejs')];
    const https = ['--https-port', '8443', '--cert-dir', join(dir, 'certs'), '-v'];
    for (const args of [
      ['render', ...base, ...https, '--out', join(dir, 'haproxy.cfg')],
      ['validate', ...base, ...https, '--format', 'json'],
    ]) {
      const result = await runCli(args);
      const output = result.stdout + result.stderr;
      expect(result.code, `${args.join(' ')}: ${output}`).toBe(5);
      expect(output).toMatch(/unable to load/);
      expect(keysShown(output, k.keys), `${args.join(' ')}: ${output}`).toEqual([]);
    }
  });

  it('a template printing a bundle: the refusal names the key and shows none of it', async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 't.ejs'), 'global\n# <%= getv("/lb/weights/web/w1") %>\n');
    const args = ['render', '--kv', `file:${storeFile()}`, '--prefix', 'lb', '--template', join(dir, 't.ejs'), '-v'];
    const result = await runCli(args);
    const output = result.stdout + result.stderr;
    expect(result.code, output).toBe(5);
    expect(output).toMatch(/refused to print the value of \/lb\/weights\/web\/w1/);
    expect(keysShown(output, k.keys), output).toEqual([]);
  });

  describe('watch -v', () => {
    const stack = useStackRig();

    it('logs (JSON), /healthz (text and JSON) and /metrics', async () => {
      const { rig } = stack;
      rig.store.put('apps/web/containers/w1', rig.address(0));
      rig.store.put('lb/routes/web', `www.example.test ${k.loose.key}`);
      rig.store.put('lb/certs/web', bundleOf(k.web));
      rig.store.put('lb/certs/stray', bundleOf(k.web, [], k.stray.key));
      rig.store.put('lb/weights/web/w1', k.loose.key);
      const w = await stack.start(rig.store.url, ['--https-port', String(await freePort()), '-v', '--log-format', 'json']);
      await w.waitForLog(/^skipped \/lb\/certs\/stray: the private key does not belong/);
      await waitFor('the certificate to be served', async () => (await rig.status('/healthz?format=json')).body.includes('www.example.test'));
      const outputs = [w.raw, ...(await Promise.all(['/healthz', '/healthz?format=json', '/metrics'].map(async (p) => (await rig.status(p)).body)))];
      for (const output of outputs) expect(keysShown(output, k.keys), output).toEqual([]);
    });
  });
});
