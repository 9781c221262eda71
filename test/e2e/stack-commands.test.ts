import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../support/cli.js';
import { makeTempDir } from '../support/temp.js';

let dir = '';
let kv = '';
beforeEach(() => {
  dir = makeTempDir();
  kv = `file:${join(dir, 'kv.properties')}`;
  writeFileSync(
    join(dir, 'kv.properties'),
    [
      'apps/web/containers/w1=10.0.0.1:8080',
      'apps/web/containers/w2=10.0.0.2:8080',
      'apps/api/containers/a1=10.0.0.3:8080',
      'lb/routes/web=www.example.com example.com',
      'lb/routes/api=example.com/api /status',
      'lb/weights/web/w2=10',
    ].join('\n'),
  );
});

describe('render and validate in stack mode', () => {
  it('render --out writes the config and its two map files, which HAProxy takes together', async () => {
    const out = join(dir, 'haproxy.cfg');
    const result = await runCli(['render', '--kv', kv, '--stack', 'apps', '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(dir, 'haproxy.hosts.map'), 'utf8')).toContain('example.com/ web\nexample.com/api api\nwww.example.com/ web\n');
    expect(readFileSync(join(dir, 'haproxy.paths.map'), 'utf8')).toContain('/status api\n');
    expect(readFileSync(out, 'utf8')).toContain('    server w2 10.0.0.2:8080 check weight 10\n');
    execFileSync('haproxy', ['-c', '-q', '-f', out]);
  });

  it('render without --out is exit 2: the config alone would name map files that are not there', async () => {
    const result = await runCli(['render', '--kv', kv, '--stack', 'apps']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('give --out FILE');
  });

  it('validate checks the config with its maps and reports services, servers and routes', async () => {
    const text = await runCli(['validate', '--kv', kv, '--stack', 'apps', '--default-service', 'shop']);
    expect(text.code, text.stdout + text.stderr).toBe(0);
    expect(text.stdout).toContain('service api: 1 server, routes /status example.com/api\n');
    expect(text.stdout).toContain('service web: 2 servers, routes example.com/ www.example.com/\n');
    expect(text.stdout).toContain('the default service "shop" is no app');
    const json = await runCli(['validate', '--kv', kv, '--stack', 'apps', '--format', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      backends: { web: 2, api: 1 },
      services: [
        { name: 'api', servers: 1, routes: ['/status', 'example.com/api'] },
        { name: 'web', servers: 2, routes: ['example.com/', 'www.example.com/'] },
      ],
    });
  });
});

describe('the stack example (examples/stack.properties)', () => {
  it('validates as the README shows, every app reachable by one of its routes', async () => {
    const result = await runCli(['validate', '--kv', 'file:examples/stack.properties', '--stack', 'apps', '--format', 'json'], { cwd: ROOT });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: true,
      skipped: [],
      services: [
        { name: 'admin', servers: 1, routes: ['/admin', 'example.com/admin'] },
        { name: 'api', servers: 2, routes: ['api.example.com/', 'example.com/api'] },
        { name: 'web', servers: 3, routes: ['example.com/', 'www.example.com/'] },
      ],
    });
  });
});

describe('validate --min-servers in stack mode', () => {
  it('fails (exit 5) when an app a route names has no server left, naming it', async () => {
    const passes = await runCli(['validate', '--kv', kv, '--stack', 'apps', '--min-servers', '1']);
    expect(passes.code, passes.stdout + passes.stderr).toBe(0);
    writeFileSync(join(dir, 'kv.properties'), ['apps/web/containers/w1=10.0.0.1:8080', 'lb/routes/web=example.com', 'lb/routes/api=/status'].join('\n'));
    const json = await runCli(['validate', '--kv', kv, '--stack', 'apps', '--min-servers', '1', '--format', 'json']);
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      errors: [{ source: 'min-servers', message: 'backend api has 0 servers, fewer than --min-servers 1' }],
    });
  });
});
