import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli } from '../support/cli.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { freePort, waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { localHaproxyArgs } from '../support/watch-args.js';
import { WatchProcess } from '../support/watch-process.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

const SEED = { kv: 'file:examples/kv.properties', prefix: 'apps/myapp/containers' };

describe('every option from the environment (OCCS_LB_<OPTION>)', () => {
  it('configures render with no flag at all; a flag wins over its variable, a variable over the config file', async () => {
    const env = { OCCS_LB_KV: SEED.kv, OCCS_LB_PREFIX: SEED.prefix, OCCS_LB_FRONTEND_PORT: '6001', OCCS_LB_BACKEND_NAME: 'web_80' };
    const plain = await runCli(['render'], { env });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain('bind *:6001');
    expect(plain.stdout).toContain('backend web_80');
    expect(plain.stdout).toContain('    server one 10.9.1.1:32001 check');

    const flagged = await runCli(['render', '--frontend-port', '7001'], { env });
    expect(flagged.stdout).toContain('bind *:7001');

    const dir = makeTempDir();
    writeFileSync(
      join(dir, 'occs-lb.config.json'),
      JSON.stringify({ frontendPort: 8001, balance: 'leastconn', kv: `file:${join(ROOT, 'examples/kv.properties')}` }),
    );
    const filed = await runCli(['render', '--prefix', SEED.prefix], { cwd: dir, env: { OCCS_LB_FRONTEND_PORT: '6001' } });
    expect(filed.code, filed.stderr).toBe(0);
    expect(filed.stdout).toContain('bind *:6001');
    expect(filed.stdout).toContain('balance leastconn');
  });

  it('takes switches as true or false and a repeatable option separated by commas; the old variables still work, the new one wins', async () => {
    const dir = makeTempDir();
    const kv = join(dir, 'kv.properties');
    writeFileSync(kv, 'apps/a/containers/one=10.0.0.1:80\napps/b/containers/bad=not-an-address\n');
    // The first prefix holds the servers (and is checked): the order of the list is kept.
    const strict = await runCli(['validate', '--no-haproxy'], {
      env: { OCCS_LB_KV: `file:${kv}`, OCCS_LB_PREFIX: 'apps/b/containers, apps/a/containers', OCCS_LB_STRICT: 'true' },
    });
    expect(strict.code).toBe(5);
    expect(strict.stdout).toContain('rejected /apps/b/containers/bad by --strict');
    const lenient = await runCli(['validate', '--no-haproxy'], {
      env: { OCCS_LB_KV: `file:${kv}`, OCCS_LB_PREFIX: 'apps/b/containers,apps/a/containers', OCCS_LB_STRICT: 'off' },
    });
    expect(lenient.code).toBe(0);
    const reordered = await runCli(['validate', '--no-haproxy'], {
      env: { OCCS_LB_KV: `file:${kv}`, OCCS_LB_PREFIX: 'apps/a/containers,apps/b/containers', OCCS_LB_STRICT: '1' },
    });
    expect(reordered.code).toBe(0);

    // OCCS_BACKEND_KEY, the seed's name, is overridden by OCCS_LB_PREFIX.
    const both = await runCli(['render', '--kv', `file:${kv}`], { env: { OCCS_BACKEND_KEY: 'apps/b/containers', OCCS_LB_PREFIX: 'apps/a/containers' } });
    expect(both.stdout).toContain('server one 10.0.0.1:80 check');
    const seed = await runCli(['render', '--kv', `file:${kv}`], { env: { OCCS_BACKEND_KEY: 'apps/a/containers' } });
    expect(seed.stdout).toContain('server one 10.0.0.1:80 check');

    const json = await runCli(['validate', '--no-haproxy'], { env: { OCCS_LB_KV: SEED.kv, OCCS_LB_PREFIX: SEED.prefix, OCCS_LB_FORMAT: 'json' } });
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true });
  });

  it.each([
    [{ OCCS_LB_STRICT: 'maybe' }, 'environment OCCS_LB_STRICT: "maybe" is not true or false'],
    [{ OCCS_LB_KV_TIMEOUT: 'soon' }, 'environment OCCS_LB_KV_TIMEOUT: "soon" is not a duration'],
  ])('a bad value %o is exit 2 that names the variable', async (env, message) => {
    const result = await runCli(['validate', '--no-haproxy', '--kv', SEED.kv, '--prefix', SEED.prefix], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('a bad watch setting from its variable is exit 2 that names the variable', async () => {
    const result = await runCli(['watch', '--log-format', 'text', '--kv', SEED.kv, '--prefix', SEED.prefix, '--out', join(makeTempDir(), 'haproxy.cfg')], {
      env: { OCCS_LB_LISTEN: 'everywhere' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('environment OCCS_LB_LISTEN: "everywhere" is not HOST:PORT');
  });

  it('the help lists each option with its variable', async () => {
    const help = (await runCli(['watch', '--help'])).stdout;
    for (const variable of ['OCCS_LB_MIN_SERVERS', 'OCCS_LB_STACK', 'OCCS_LB_SHUTDOWN_DELAY', 'OCCS_LB_RUNTIME_API', 'OCCS_LB_CONFIG', 'OCCS_BACKEND_KEY']) {
      expect(help.replace(/\s+/g, ' ')).toContain(variable);
    }
  });
});

describe('the config file', () => {
  it('is named by OCCS_LB_CONFIG, and a missing one is exit 2 that says which variable named it', async () => {
    const dir = makeTempDir();
    const file = join(dir, 'lb.yaml');
    writeFileSync(file, `kv: file:${join(ROOT, 'examples/kv.properties')}\nprefixes: [apps/myapp/containers]\nfrontendPort: 6100\n`);
    const named = await runCli(['render'], { env: { OCCS_LB_CONFIG: file } });
    expect(named.code, named.stderr).toBe(0);
    expect(named.stdout).toContain('bind *:6100');
    const missing = await runCli(['render'], { env: { OCCS_LB_CONFIG: join(dir, 'nope.yaml') } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('does not exist (fix environment OCCS_LB_CONFIG)');
  });

  it('is found in /etc/occs-lb/ (a mounted ConfigMap) when the current directory has none', () => {
    // A private mount namespace with an overlay over /etc: the machine's own /etc is never written.
    const dir = makeTempDir();
    for (const sub of ['upper', 'work']) mkdirSync(join(dir, sub));
    mkdirSync(join(dir, 'upper', 'occs-lb'));
    writeFileSync(
      join(dir, 'upper', 'occs-lb', 'occs-lb.config.yaml'),
      `kv: file:${join(ROOT, 'examples/kv.properties')}\nprefixes: [apps/myapp/containers]\nfrontendPort: 6200\n`,
    );
    const script = `mount -t overlay overlay -o lowerdir=/etc,upperdir=${dir}/upper,workdir=${dir}/work /etc && cd ${dir} && exec "$0" "$@"`;
    const run = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, process.execPath, BIN, 'render'], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('bind *:6200');
    expect(run.stdout).toContain('server one 10.9.1.1:32001 check');
  });
});

describe('SIGHUP re-reads the config file and the templates, as well as the store', () => {
  const rig = useWatchRig();

  /** watch --exec haproxy on the rig, configured by a config file and a template of its own. */
  function start(config: Record<string, unknown>, template: string, env: Record<string, string> = {}) {
    const file = join(rig.dir, 'occs-lb.config.json');
    const tpl = join(rig.dir, 'haproxy.cfg.ejs');
    writeFileSync(tpl, template);
    // The store and its prefixes come from the file too, where SIGHUP can change them (a flag would win).
    const settings = { template: tpl, kv: rig.store.url, prefixes: [PREFIX], ...config };
    writeFileSync(file, JSON.stringify(settings));
    const flags = ['--out', rig.config(), '--exec', `haproxy -W -db -f ${rig.config()}`, ...localHaproxyArgs(rig.ports, rig.dir)];
    rig.watch = new WatchProcess([...flags, '--listen', `127.0.0.1:${rig.ports.status}`, '--wait', '0', '--config', file], env);
    const w = rig.watch;
    const rewrite = (more: Record<string, unknown>) => writeFileSync(file, JSON.stringify({ ...settings, ...more }));
    return { w, file, tpl, rewrite };
  }
  const shipped = readFileSync(join(ROOT, 'templates/haproxy.cfg.ejs'), 'utf8');

  it('a template edited, then SIGHUP: the new one renders; one that no longer compiles is reported and the previous one keeps serving', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const { w, tpl } = start({}, `# first\n${shipped}`);
    await w.waitForLog(/^started haproxy/);
    await rig.servedBy(['a']);

    writeFileSync(tpl, `# second\n${shipped}`);
    let before = w.logs.length;
    w.signal('SIGHUP');
    await w.waitForLog(/^SIGHUP: the config .* and 1 template\(s\) read again/, before);
    await w.waitForLog(/^reloaded: /, before);
    expect(readFileSync(rig.config(), 'utf8')).toMatch(/^# second\n/);

    writeFileSync(tpl, `# third\n<% if (x { %>\n${shipped}`);
    before = w.logs.length;
    w.signal('SIGHUP');
    const refused = await w.waitForLog(/^SIGHUP: .*haproxy\.cfg\.ejs.*; watch goes on with the settings and templates it had/, before);
    expect(refused.level).toBe('error');
    await w.waitForLog(/^reloaded: /, before);
    expect(readFileSync(rig.config(), 'utf8')).toMatch(/^# second\n/);
    // And the store is still followed, with the template that compiled.
    rig.store.put(`${PREFIX}/b`, rig.address(1));
    await rig.servedBy(['a', 'b']);
    expect(readFileSync(rig.config(), 'utf8')).toMatch(/^# second\n/);
  });

  it('a config file that names other prefixes: followed after SIGHUP; a restart-only setting changed is named, not taken', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    rig.store.put('apps/other/containers/c', rig.address(2));
    const { w, rewrite } = start({}, shipped);
    await w.waitForLog(/^started haproxy/);
    await rig.servedBy(['a']);

    rewrite({ prefixes: ['apps/other/containers'], reloadTimeout: '20s' });
    const before = w.logs.length;
    w.signal('SIGHUP');
    await w.waitForLog(
      /^SIGHUP: haproxyConfig, haproxyBinary, the reload strategy, reloadTimeout changed in the config file; it takes effect when watch restarts/,
      before,
    );
    await rig.servedBy(['c']);
    // The prefix it follows now is the new one.
    rig.store.put('apps/other/containers/d', rig.address(3));
    await rig.servedBy(['c', 'd']);
    expect((await rig.status('/healthz')).status).toBe(200);
  });

  it('a config file naming a store that cannot be read (a typo in kv): watch goes on following the store it had, and a change there is still applied', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const file = join(rig.dir, 'occs-lb.config.json');
    writeFileSync(file, JSON.stringify({ kv: rig.store.url, prefixes: [PREFIX] }));
    const args = [
      ['--config', file],
      ['--out', rig.config()],
      ['--exec', `haproxy -W -db -f ${rig.config()}`],
      ['--bind', '127.0.0.1'],
      ['--frontend-port', String(rig.ports.frontend)],
      ['--stats-port', String(rig.ports.stats)],
      ['--listen', `127.0.0.1:${rig.ports.status}`],
      ['--wait', '0'],
    ].flat();
    const w = (rig.watch = new WatchProcess(args));
    await w.waitForLog(/^started haproxy/);
    await rig.servedBy(['a']);

    const nobody = await freePort();
    writeFileSync(file, JSON.stringify({ kv: `http://127.0.0.1:${nobody}`, prefixes: [PREFIX] }));
    const before = w.logs.length;
    w.signal('SIGHUP');
    await w.waitForLog(/^SIGHUP: /, before);
    const refused = await w.waitForLog(
      /^SIGHUP: the store the config file names now cannot be read: .*watch goes on with the settings and templates it had/,
      before,
    );
    expect(refused.level).toBe('error');

    rig.store.put(`${PREFIX}/b`, rig.address(1));
    await rig.servedBy(['a', 'b']);
  });

  it('a rotated token file: read again on SIGHUP, and the store answers again', async () => {
    const store = await new ConsulKvServer({ token: 'first-token-0123456789' }).start();
    try {
      store.put(`${PREFIX}/a`, rig.address(0));
      const tokenFile = join(rig.dir, 'token');
      writeFileSync(tokenFile, 'first-token-0123456789\n');
      const w = rig.startWatch(store.url, [], { OCCS_LB_TOKEN_FILE: tokenFile });
      await w.waitForLog(/^started haproxy/);
      await rig.servedBy(['a']);

      store.rotateToken('second-token-9876543210');
      const before = w.logs.length;
      // A change wakes the blocking query: the next one carries the revoked token.
      store.put(`${PREFIX}/b`, rig.address(1));
      await w.waitForLog(/refuse|denied|403/i, before, 20_000);
      await waitFor(
        '/healthz to report the credentials',
        async () => (await rig.status('/healthz')).body.startsWith('store refuses the credentials') || undefined,
      );
      writeFileSync(tokenFile, 'second-token-9876543210\n');
      w.signal('SIGHUP');
      await w.waitForLog(/^store reachable again/, before, 20_000);
      await rig.servedBy(['a', 'b']);
      expect(w.raw).not.toContain('second-token-9876543210');
    } finally {
      await rig.watch?.stop();
      await store.stop();
    }
  });
});

describe('watch configured by the environment alone, as a container image does', () => {
  const rig = useWatchRig();

  it('runs with no flag, every setting from OCCS_LB_ variables', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    rig.watch = new WatchProcess([], {
      OCCS_LB_KV: rig.store.url,
      OCCS_LB_PREFIX: PREFIX,
      OCCS_LB_OUT: rig.config(),
      OCCS_LB_EXEC: `haproxy -W -db -f ${rig.config()}`,
      OCCS_LB_BIND: '127.0.0.1',
      OCCS_LB_FRONTEND_PORT: String(rig.ports.frontend),
      OCCS_LB_STATS_PORT: String(rig.ports.stats),
      OCCS_LB_LISTEN: `:${rig.ports.status}`,
      OCCS_LB_WAIT: '0',
      OCCS_LB_RUNTIME_API: 'false',
    });
    await rig.watch.waitForLog(/^started haproxy/);
    await rig.servedBy(['a']);
    rig.store.put(`${PREFIX}/b`, rig.address(1));
    await rig.servedBy(['a', 'b']);
    // --no-runtime-api from its variable: the change went by reload.
    await waitFor('the reload to be counted', async () => (await rig.metric('reloads_total')) >= 1 || undefined);
    expect(await rig.metric('runtime_updates_total')).toBe(0);
    // `:PORT` listens on every address.
    expect((await rig.status('/readyz')).status).toBe(200);
  });
});

function store(): { dir: string; kv: string } {
  const dir = makeTempDir();
  writeFileSync(join(dir, 'kv.properties'), 'apps/a/one=10.0.0.1:80\napps/b/two=10.0.0.2:80\n');
  return { dir, kv: `file:${join(dir, 'kv.properties')}` };
}

describe("a command reads the variables of its own options only (the image's ENV sets watch's)", () => {
  it('validate (which takes no --out) accepts a config file of several resources while OCCS_LB_OUT is set', async () => {
    const { dir, kv } = store();
    writeFileSync(join(dir, 'servers.ejs'), '<% for (const s of servers()) { %><%= s.address %>\n<% } %>');
    writeFileSync(
      join(dir, 'occs-lb.config.json'),
      JSON.stringify({
        kv,
        prefixes: ['apps/a'],
        resources: [
          { template: join(ROOT, 'templates/haproxy.cfg.ejs'), destination: join(dir, 'haproxy.cfg') },
          { template: 'servers.ejs', destination: join(dir, 'servers.txt'), haproxy: false },
        ],
      }),
    );
    const run = await runCli(['validate', '--no-haproxy'], { env: { OCCS_LB_OUT: '/run/occs-lb/haproxy.cfg' }, cwd: dir });
    expect(run.stderr).not.toContain('ambiguous');
    expect(run.code).toBe(0);
  });

  it('render is not stopped by a bad value in a variable of a watch-only option (OCCS_LB_STOP_TIMEOUT)', async () => {
    const { dir, kv } = store();
    const run = await runCli(['render', '--kv', kv, '--prefix', 'apps/a'], { env: { OCCS_LB_STOP_TIMEOUT: 'bogus' }, cwd: dir });
    expect(run.code).toBe(0);
  });
});

describe('Kubernetes service links: a Service named occs-lb-stats in the namespace', () => {
  it('its OCCS_LB_STATS_PORT=tcp://IP:PORT does not stop occs-lb (the docker-link form is no port setting)', async () => {
    const { dir, kv } = store();
    const links = { OCCS_LB_STATS_PORT: 'tcp://10.96.0.12:1936', OCCS_LB_STATS_SERVICE_HOST: '10.96.0.12', OCCS_LB_STATS_SERVICE_PORT: '1936' };
    const run = await runCli(['render', '--kv', kv, '--prefix', 'apps/a'], { env: links, cwd: dir });
    expect(run.stderr).not.toMatch(/^error/m);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(
      'environment OCCS_LB_STATS_PORT holds tcp://10.96.0.12:1936, a Kubernetes service link (a Service named occs-lb-stats), not a setting: it is ignored',
    );
    expect(run.stdout).toContain('bind *:1936');
    expect(run.stderr).not.toContain('is not a setting of occs-lb');
  });
});

describe('OCCS_LB_ variables no setting reads', () => {
  it('are warned of, naming the variable meant, and the run goes on (render, reload)', async () => {
    const { dir, kv } = store();
    const env = { OCCS_LB_MIN_SERVER: '2', OCCS_LB_NO_CHECK: 'true' };
    const render = await runCli(['render', '--kv', kv, '--prefix', 'apps/a'], { env, cwd: dir });
    expect(render.code).toBe(0);
    expect(render.stderr).toContain('environment OCCS_LB_MIN_SERVER is not a setting of occs-lb: it is ignored (did you mean OCCS_LB_MIN_SERVERS?)');
    expect(render.stderr).toContain('environment OCCS_LB_NO_CHECK is not a setting of occs-lb: it is ignored (for --no-check, use OCCS_LB_CHECK=false)');
    writeFileSync(join(dir, 'haproxy.cfg'), 'global\n');
    const reload = await runCli(['reload', '--reload-cmd', 'true', '--no-check', '--haproxy-config', join(dir, 'haproxy.cfg')], { env, cwd: dir });
    expect(reload.code).toBe(0);
    expect(reload.stderr).toContain('environment OCCS_LB_MIN_SERVER is not a setting of occs-lb');
  });
});

describe('SIGHUP while watch is still starting (systemctl reload right after start, a config reloader)', () => {
  it('does not kill watch (Node would exit 129, which systemd counts as a clean stop): it is honoured once watch runs', async () => {
    const { dir, kv } = store();
    // The template is a named pipe: watch waits on it while starting, as long as the test likes.
    const template = join(dir, 'haproxy.cfg.ejs');
    expect(spawnSync('mkfifo', [template]).status).toBe(0);
    const w = new WatchProcess(['--kv', kv, '--prefix', 'apps/a', '--out', join(dir, 'haproxy.cfg'), '--template', template]);
    try {
      const pid = w.child.pid!;
      // Opening a pipe no one writes to blocks: one of watch's threads waits for its partner.
      const waiting = () => readdirSync(`/proc/${pid}/task`).some((task) => readOr(`/proc/${pid}/task/${task}/wchan`) === 'wait_for_partner');
      await waitFor('watch to wait on its template', () => waiting() || undefined);
      w.signal('SIGHUP');
      // Not blocking: a watch the signal killed has no end of the pipe open (ENXIO, the test fails).
      const feed = () => {
        const pipe = openSync(template, constants.O_WRONLY | constants.O_NONBLOCK);
        writeFileSync(pipe, readFileSync(join(ROOT, 'templates/haproxy.cfg.ejs'), 'utf8'));
        closeSync(pipe);
      };
      feed();
      await w.waitForLog(/^SIGHUP: re-reading the config file/);
      expect(w.child.exitCode).toBe(null);
      // The SIGHUP reads the templates again: the pipe once more.
      await waitFor('watch to read its template again', () => waiting() || undefined);
      feed();
      await w.waitForLog(/^SIGHUP: the config and 1 template\(s\) read again/);
    } finally {
      await w.stop();
    }
  });
});

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
