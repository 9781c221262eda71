import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { withEnvironment } from '../../src/config/environment.js';
import { loadSettings } from '../../src/config/load.js';
import { resolveSettings } from '../../src/config/settings.js';
import { haproxyControl } from '../../src/haproxy/control.js';
import { toSnapshot } from '../../src/kv/keys.js';
import type { KvSource } from '../../src/kv/source.js';
import { createLogger } from '../../src/log.js';
import { DEFAULT_TEMPLATE } from '../../src/paths.js';
import { renderSnapshot } from '../../src/plan/plan.js';
import { everyServerGone } from '../../src/plan/rules.js';
import { Redactor } from '../../src/util/redact.js';
import { serveStatus } from '../../src/watch/http-server.js';
import { WatchState } from '../../src/watch/state.js';
import { compileTemplates } from '../../src/wiring/templates.js';
import { makeTempDir } from '../support/temp.js';

/** Edges of watch in production that a review of the probes, the variables and SIGHUP found (each failed before its fix). */

const quietLog = () => createLogger({ stream: new PassThrough(), format: 'json', verbosity: 'quiet', redactor: new Redactor() });

describe('precedence: an OCCS_LB_ variable wins over the config file', () => {
  it('OCCS_LB_RUNTIME_API=true beats "runtimeApi": false in the config file', async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'occs-lb.config.json'), JSON.stringify({ kv: 'file:kv.properties', prefixes: ['apps/a'], runtimeApi: false }));
    const env = { OCCS_LB_RUNTIME_API: 'true' };
    // commander gives `--no-runtime-api` the default true (source "default"), as cli.ts sees it.
    const { flags, origins } = withEnvironment({ runtimeApi: true }, env, () => false);
    const settings = await loadSettings(flags, { cwd: dir, env } as never, origins);
    expect(settings.watch.runtimeApi).toBe(true);
  });
});

describe('--listen / OCCS_LB_LISTEN with an IPv6 address', () => {
  const listen = (value: string) =>
    resolveSettings({
      flags: { prefix: ['apps/a'], out: '/tmp/x.cfg', listen: value },
      env: {},
      cwd: '/',
      defaultTemplate: DEFAULT_TEMPLATE,
      readSecret: () => '',
    }).watch.listen;

  it('takes one in brackets, and says so when one comes without them (a Kubernetes $(POD_IP):9180 on an IPv6 cluster)', () => {
    expect(listen('[fd00:10:244::5]:9180')).toEqual({ host: 'fd00:10:244::5', port: 9180 });
    expect(listen(':9180')).toEqual({ host: '', port: 9180 });
    expect(() => listen('fd00:10:244::5:9180')).toThrow(/an IPv6 address in brackets/);
  });
});

describe('secrets never reach an output: the keys of objects and /metrics too', () => {
  const SECRET = 'Zq9xLm2Pw7Rt';

  it('Redactor.deep masks a secret that is an object key (JSON log fields, /healthz?format=json backends)', () => {
    const redactor = new Redactor([SECRET]);
    expect(JSON.stringify(redactor.deep({ backends: { [SECRET]: 1 } }))).not.toContain(SECRET);
  });

  it('/metrics and /healthz?format=json mask a secret that names a backend (stack mode: an app name from the store)', async () => {
    const redactor = new Redactor([SECRET]);
    const state = new WatchState();
    state.serving = true;
    state.lastSyncAt = Date.now();
    state.backends = { [SECRET]: 1, web: 1 };
    const server = await serveStatus(
      { state, running: async () => true, deadlines: { syncMs: 60_000, storeSilenceMs: 300_000 }, redact: (v) => redactor.deep(v) },
      '127.0.0.1',
      0,
    );
    try {
      const port = (server.address() as AddressInfo).port;
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const json = await (await fetch(`http://127.0.0.1:${port}/healthz?format=json`)).text();
      expect(metrics).not.toContain(SECRET);
      expect(json).not.toContain(SECRET);
    } finally {
      server.close();
    }
  });
});

describe('/healthz?format=json shows invisible characters of keys escaped, as the text answer and the logs do', () => {
  it('a skipped key holding a bidirectional override does not reach the JSON answer raw', async () => {
    const state = new WatchState();
    state.serving = true;
    state.lastSyncAt = Date.now();
    state.skipped = [{ key: '/apps/a/ev\u202eil\u200b', reason: 'value contains whitespace', kind: 'invalid_server' }];
    const server = await serveStatus(
      { state, running: async () => true, deadlines: { syncMs: 60_000, storeSilenceMs: 300_000 }, redact: (v) => v },
      '127.0.0.1',
      0,
    );
    try {
      const port = (server.address() as AddressInfo).port;
      const text = await (await fetch(`http://127.0.0.1:${port}/healthz`)).text();
      const json = await (await fetch(`http://127.0.0.1:${port}/healthz?format=json`)).text();
      expect(text).not.toMatch(/[\u202e\u200b]/);
      expect(json).not.toMatch(/[\u202e\u200b]/);
    } finally {
      server.close();
    }
  });
});

describe('the held empty answer with several HAProxy resources that share a backend name', () => {
  it('one resource emptying while another keeps its servers is not "no server in any backend"', async () => {
    const dir = makeTempDir();
    writeFileSync(
      join(dir, 'occs-lb.config.json'),
      JSON.stringify({
        kv: 'file:kv.properties',
        haproxyConfig: join(dir, 'a.cfg'),
        resources: [
          { template: DEFAULT_TEMPLATE, destination: join(dir, 'a.cfg'), prefixes: ['apps/a'] },
          { template: DEFAULT_TEMPLATE, destination: join(dir, 'b.cfg'), prefixes: ['apps/b'] },
        ],
      }),
    );
    const settings = await loadSettings({}, { cwd: dir, env: {} } as never);
    const templates = await compileTemplates(settings.resources);
    const before = renderSnapshot(
      settings,
      templates,
      toSnapshot([
        { key: '/apps/a/one', value: '10.0.0.1:80' },
        { key: '/apps/a/two', value: '10.0.0.2:80' },
        { key: '/apps/b/one', value: '10.0.0.3:80' },
      ]),
    );
    const installed = new Map(before.resources.map((r) => [r.resource.destination!, r.text] as const));
    // apps/b scaled to zero; apps/a still has two servers and gets a third.
    const after = renderSnapshot(
      settings,
      templates,
      toSnapshot([
        { key: '/apps/a/one', value: '10.0.0.1:80' },
        { key: '/apps/a/two', value: '10.0.0.2:80' },
        { key: '/apps/a/three', value: '10.0.0.4:80' },
      ]),
    );
    expect(after.resources[0]!.text).toContain('server three 10.0.0.4:80');
    expect(everyServerGone(settings, after, installed)).toBeUndefined();
  });
});

describe('/readyz with --pid-file: a pid file whose pid now names another program', () => {
  let sleeper: ChildProcess | undefined;
  afterEach(() => {
    sleeper?.kill('SIGKILL');
    sleeper = undefined;
  });

  it('is not "HAProxy running" (reload already refuses it as a stale pid file)', async () => {
    const dir = makeTempDir();
    sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pidFile = join(dir, 'haproxy.pid');
    writeFileSync(pidFile, `${sleeper.pid}\n`);
    const control = haproxyControl({
      binary: '/usr/sbin/haproxy',
      config: join(dir, 'haproxy.cfg'),
      reloadTimeoutMs: 2000,
      strategy: { kind: 'pid-file', pidFile },
    });
    expect(await control.running()).toBe(false);
  });
});

describe('durations beyond 2^31-1 ms (about 24.8 days), which a timer would turn into 1 ms, are refused', () => {
  const watchWith = (flags: Record<string, string>) =>
    resolveSettings({ flags: { prefix: ['apps/a'], out: '/tmp/x.cfg', ...flags }, env: {}, cwd: '/', defaultTemplate: DEFAULT_TEMPLATE, readSecret: () => '' })
      .watch;

  it.each([
    [{ shutdownDelay: '1000h' }, /--shutdown-delay: "1000h" is longer than 24 days/],
    [{ interval: '1000h' }, /--interval: "1000h" is longer than 24 days/],
    [{ drainTimeout: '1000h' }, /--drain-timeout: "1000h" is longer than 24 days/],
    [{ wait: '1s:1000h' }, /--wait: "1s:1000h" is longer than 24 days/],
    // And the other ends: polling faster than a store's query floor, a stop with no time to stop softly.
    [{ interval: '1ms' }, /--interval: "1ms" is below the 100 ms it takes at least/],
    [{ stopTimeout: '0' }, /--stop-timeout: "0" must be more than 0/],
  ])('%o', (flags, message) => {
    expect(() => watchWith(flags)).toThrow(message);
  });

  it('takes the longest a timer waits', () => {
    expect(watchWith({ shutdownDelay: '596h' }).shutdownDelayMs).toBe(596 * 3_600_000);
  });

  it('--verify-interval: every 30 s unless told, 0 for never, and a duration like any other', () => {
    expect(watchWith({}).verifyIntervalMs).toBe(30_000);
    expect(watchWith({ verifyInterval: '0' }).verifyIntervalMs).toBe(0);
    expect(watchWith({ verifyInterval: '5m' }).verifyIntervalMs).toBe(300_000);
    expect(() => watchWith({ verifyInterval: 'often' })).toThrow(/--verify-interval: "often" is not a duration such as 30s/);
    expect(() => watchWith({ verifyInterval: '1000h' })).toThrow(/--verify-interval: "1000h" is longer than 24 days/);
  });
});

describe('SIGHUPs in quick succession: the config file read last is the one watch runs with', () => {
  it('a slower earlier re-read does not overwrite a later one', async () => {
    const { Reconfigurer } = await import('../../src/watch/reconfigurer.js');
    const make = (minServers: string) =>
      resolveSettings({
        flags: { kv: 'file:/nonexistent/kv.properties', prefix: ['apps/a'], out: '/tmp/x.cfg', minServers },
        env: {},
        cwd: '/',
        defaultTemplate: DEFAULT_TEMPLATE,
        readSecret: () => '',
      });
    const start = make('0');
    const templates = await compileTemplates(start.resources);
    // The first SIGHUP reads the file as it was (min 1) but slowly; the second, after the operator's
    // next edit (min 2), quickly.
    const reads = [
      { settings: make('1'), ms: 200 },
      { settings: make('2'), ms: 10 },
    ];
    let call = 0;
    const reloadSettings = async () => {
      const { settings, ms } = reads[call++]!;
      await new Promise((resolve) => setTimeout(resolve, ms));
      return settings;
    };
    const source: KvSource = { description: 'stub', read: async () => toSnapshot([]), watch: async () => {}, close: async () => {} };
    const reconfigurer = new Reconfigurer(
      { settings: start, templates, log: quietLog(), reloadSettings, openSource: async () => source },
      { follow: async () => {} } as never,
      { reconfigure() {} } as never,
      { store: '' } as never,
      { swapped() {} } as never,
    );
    const first = reconfigurer.reconfigure();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = reconfigurer.reconfigure();
    await Promise.all([first, second]);
    expect(reconfigurer.settings.minServers).toBe(2);
  });
});
