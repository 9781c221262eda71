import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { HaproxyProcess, answeringConfig, freePort } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

/** Tokens an operator might really have: quotes and backslashes, and a plain long one. */
const TOKENS = ['q"uo\\te-T0ken-8f2', 'plain-token-0123456789abcdef'];

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

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

/**
 * The token, or a piece of it that gives it away, anywhere in `output`: as is, in any letter
 * case, JSON-escaped or base64 (in any alignment), also with line breaks and escapes removed,
 * and inside every JSON document of the output once decoded.
 */
function exposed(output: string, token: string): string[] {
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
  const texts = [output, ...decoded].flatMap((t) => [t, t.replace(/\\[nrt]|\\u00[0-9a-f]{2}|\s/gi, '')]).map((t) => t.toLowerCase());
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

describe('watch', () => {
  const rig = useWatchRig();

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
