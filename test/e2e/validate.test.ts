import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../support/cli.js';
import { makeTempDir } from '../support/temp.js';

const seed = ['--kv', 'file:examples/kv.properties', '--prefix', 'apps/myapp/containers'];

describe('occs-lb validate', () => {
  it("names the template line that printed a line haproxy -c rejects, in validate's report and in render --out's error", async () => {
    const dir = makeTempDir();
    const template = join(dir, 'mine.cfg.ejs');
    const shipped = readFileSync(join(ROOT, 'templates/haproxy.cfg.ejs'), 'utf8');
    const lines = shipped.split('\n');
    const at = lines.findIndex((l) => l.startsWith('    default_backend')) + 1;
    lines.splice(at, 0, '    bogus_directive <%= settings.frontendPort %>');
    writeFileSync(template, lines.join('\n'));
    const checked = await runCli(['validate', ...seed, '--template', template]);
    expect(checked.code).toBe(5);
    expect(checked.stdout).toMatch(new RegExp(`\\[ALERT\\] unknown keyword 'bogus_directive' .*\\(from template mine\\.cfg\\.ejs:${at + 1}\\)`));
    const rendered = await runCli(['render', ...seed, '--template', template, '--out', join(dir, 'haproxy.cfg')]);
    expect(rendered.code).toBe(5);
    expect(rendered.stderr).toMatch(new RegExp(`at line \\d+ \\(from template mine\\.cfg\\.ejs:${at + 1}\\): unknown keyword 'bogus_directive'`));
  });

  it('passes the default template with the example data, step by step', async () => {
    const result = await runCli(['validate', ...seed]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ok +template/m);
    expect(result.stdout).toMatch(/^ok +key\/value entries \(2 read, 0 skipped\)/m);
    expect(result.stdout).toMatch(/^ok +haproxy -c \(HAProxy 2\.6/m);
    expect(result.stdout).toContain('nginx_80: 2 servers');
    expect(result.stdout).toMatch(/result: ok\n$/);
  });

  it('lists hostile values as skipped, with their keys and reasons, and still passes', async () => {
    const result = await runCli(['validate', '--kv', 'file:test/fixtures/hostile.json', '--prefix', 'apps/myapp/containers']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('warning [kv] skipped /apps/myapp/containers/newline: value contains a line break');
    expect(result.stdout).toContain('warning [kv] skipped /apps/myapp/containers/badport: port 99999 is outside 1-65535');
    expect(result.stdout).toContain('nginx_80: 3 servers');
    expect(result.stdout).toContain('result: ok');
  });

  it("a template that yields an invalid directive: exit 5 with the rendered line and HAProxy's message", async () => {
    const dir = makeTempDir();
    const template = join(dir, 'bad.ejs');
    writeFileSync(
      template,
      [
        'defaults',
        '    mode http',
        '    timeout connect 1s',
        '    timeout client 1s',
        '    timeout server 1s',
        'frontend main',
        '    bind 127.0.0.1:1',
        '    default_backend web',
        'backend web',
        '    bogus_directive on',
        '<% for (const s of servers()) { -%>',
        '    server <%= s.name %> <%= s.address %>',
        '<% } -%>',
        '',
      ].join('\n'),
    );
    const result = await runCli(['validate', ...seed, '--template', template]);
    expect(result.code).toBe(5);
    expect(result.stdout).toContain("error   [haproxy] line 10: [ALERT] unknown keyword 'bogus_directive' in 'backend' section");
    expect(result.stdout).toContain('>>   10 |     bogus_directive on');
    expect(result.stdout).toContain('result: rejected');
    expect(result.stderr).toContain('the config was rejected');
  });

  it('--format json prints one JSON document with ok, errors, warnings and server counts', async () => {
    const ok = JSON.parse((await runCli(['validate', ...seed, '--format', 'json'])).stdout);
    expect(ok).toMatchObject({ ok: true, errors: [], backends: { nginx_80: 2 } });
    expect(ok.warnings).toEqual([expect.objectContaining({ source: 'config', message: expect.stringContaining('demo credentials') })]);

    const failed = await runCli(['validate', ...seed, '--min-servers', '3', '--format', 'json']);
    expect(failed.code).toBe(5);
    const report = JSON.parse(failed.stdout);
    expect(report.ok).toBe(false);
    expect(report.errors).toEqual([{ source: 'min-servers', message: 'backend nginx_80 has 2 servers, fewer than --min-servers 3' }]);
  });

  it('--strict: an entry it refuses is "rejected" (not "skipped") in the report, and the error has one set of parentheses', async () => {
    const kv = join(makeTempDir(), 'kv.properties');
    writeFileSync(kv, 'apps/x/a=10.0.0.1:80\napps/x/bad=10.0.0.1:80 backup\n');
    const text = await runCli(['validate', '--kv', `file:${kv}`, '--prefix', 'apps/x', '--strict', '--no-haproxy']);
    expect(text.code).toBe(5);
    expect(text.stdout).toMatch(/^failed +key\/value entries \(2 read, 1 rejected by --strict\)$/m);
    expect(text.stdout).toMatch(/^error +\[kv\] rejected \/apps\/x\/bad by --strict: value contains whitespace$/m);
    expect(text.stdout).not.toMatch(/skipped \/apps/);
    expect(text.stderr).toContain('error: the config was rejected: 1 error, listed in the report (fix the template, the entries or the settings)');
    const lenient = await runCli(['validate', '--kv', `file:${kv}`, '--prefix', 'apps/x', '--no-haproxy']);
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toMatch(/^warning +\[kv\] skipped \/apps\/x\/bad: value contains whitespace$/m);
  });

  it('an admin socket in a directory that does not exist fails the check (HAProxy would not start), unless --allow-warnings', async () => {
    const socket = join(makeTempDir(), 'missing', 'admin.sock');
    const failed = await runCli(['validate', ...seed, '--admin-socket', socket]);
    expect(failed.code).toBe(5);
    expect(failed.stdout).toContain(
      `error   [config] the admin socket's directory ${join(socket, '..')} does not exist: HAProxy will not start with this config`,
    );
    expect(failed.stdout).toMatch(/^result: rejected/m);
    const allowed = await runCli(['validate', ...seed, '--admin-socket', socket, '--allow-warnings']);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain(`warning [config] the admin socket's directory`);
  });

  it('checks a given FILE; HAProxy warnings fail it unless --allow-warnings', async () => {
    const dir = makeTempDir();
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(
      file,
      'defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n    option httplog\nfrontend f\n    bind 127.0.0.1:1\n',
    );
    const strict = await runCli(['validate', file]);
    expect(strict.code).toBe(5);
    expect(strict.stdout).toMatch(/error +\[haproxy\] \[WARNING\] log format ignored for frontend 'f'/);
    expect(strict.stderr).toContain('--allow-warnings');
    const lenient = await runCli(['validate', file, '--allow-warnings']);
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toMatch(/warning \[haproxy\] \[WARNING\] log format ignored/);
  });

  it('a template error is exit 4, in the report too', async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 't.ejs'), 'a\n<% if (x { %>\n');
    const result = await runCli(['validate', ...seed, '--template', join(dir, 't.ejs'), '--format', 'json']);
    expect(result.code).toBe(4);
    const report = JSON.parse(result.stdout);
    expect(report.errors[0]).toMatchObject({ source: 'template', message: expect.stringContaining(`${join(dir, 't.ejs')}:2`) });
  });

  it('without HAProxy: exit 2 offering --haproxy PATH or --no-haproxy, which skips only that step', async () => {
    const missing = await runCli(['validate', ...seed, '--haproxy', '/nonexistent/haproxy']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('HAProxy is not installed');
    expect(missing.stderr).toContain('--haproxy PATH');
    expect(missing.stderr).toContain('--no-haproxy');
    const json = await runCli(['validate', ...seed, '--haproxy', '/nonexistent/haproxy', '--format', 'json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, errors: [{ source: 'config', message: expect.stringContaining('HAProxy is not installed') }] });
    const skipped = await runCli(['validate', ...seed, '--no-haproxy']);
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toMatch(/^skipped +haproxy -c \(--no-haproxy\)/m);
    expect(skipped.stdout).toMatch(/^ok +key\/value entries/m);
  });

  it.each(['consul://', 'occs://', 'etcd://'])('--kv %s (no host): exit 2 saying so, with the JSON document under --format json', async (kv) => {
    const text = await runCli(['validate', '--kv', kv, '--prefix', 'apps/x']);
    expect(text.code).toBe(2);
    expect(text.stderr).toContain(`--kv: "${kv}" names no host`);
    expect(text.stderr).not.toMatch(/unexpected failure|Invalid URL/);
    const json = await runCli(['validate', '--kv', kv, '--prefix', 'apps/x', '--format', 'json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, errors: [{ source: 'config', message: `--kv: "${kv}" names no host` }] });
  });
});
