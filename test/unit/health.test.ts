import { describe, expect, it } from 'vitest';
import type { Settings } from '../../src/config/settings.js';
import { everyServerGone, skipKind } from '../../src/plan/rules.js';
import { health, healthDocument, liveness, readiness } from '../../src/watch/health.js';
import { liveSettings } from '../../src/watch/reconfigure.js';
import { WatchState } from '../../src/watch/state.js';

const NOW = Date.parse('2026-12-05T12:00:00Z');
const deadlines = { syncMs: 60_000, storeSilenceMs: 300_000 };

/** A watch that serves: HAProxy runs a checked config, the store answered a moment ago. */
function serving(): WatchState {
  const state = new WatchState();
  state.serving = true;
  state.childAlive = true;
  state.storeHeardAt = NOW - 1000;
  state.lastSyncAt = NOW - 1000;
  state.backends = { web: 2 };
  return state;
}

describe('the probes', () => {
  it('a store outage fails /healthz only: ready and alive, HAProxy serves the last good config', () => {
    const state = serving();
    state.storeProblems.set('apps', { message: 'connect ECONNREFUSED', code: 'KV_UNREACHABLE', since: NOW - 30_000 });
    expect(health(state)).toEqual({ ok: false, reason: 'store unreachable since 2026-12-05T11:59:30.000Z: connect ECONNREFUSED' });
    expect(readiness(state, true)).toEqual({ ok: true, reason: expect.stringMatching(/^ready: HAProxy serves the last good config \(store unreachable/) });
    expect(liveness(state, NOW, deadlines).ok).toBe(true);
  });

  it('a refused answer or a failed install fails /healthz, not /readyz', () => {
    const state = serving();
    state.syncProblem = "refused the store's answer: backend web would have 0 servers, fewer than --min-servers 1";
    expect(health(state).ok).toBe(false);
    expect(readiness(state, true).ok).toBe(true);
  });

  it('/readyz: 503 before the first install, when HAProxy is down, and while shutting down', () => {
    expect(readiness(new WatchState(), true)).toEqual({ ok: false, reason: 'no checked config installed yet' });
    expect(readiness(serving(), false)).toEqual({ ok: false, reason: 'haproxy is not running' });
    const child = serving();
    child.childAlive = false;
    expect(readiness(child, undefined).ok).toBe(false);
    const stopping = serving();
    stopping.shuttingDownSince = NOW;
    expect(readiness(stopping, true)).toEqual({ ok: false, reason: 'shutting down' });
    // A way of reaching HAProxy that cannot tell (a reload command): ready once a config is served.
    expect(readiness(serving(), undefined)).toEqual({ ok: true, reason: 'ready' });
  });

  it('/livez: 503 only when one change has been under way, or the store silent, beyond its deadline', () => {
    const stuck = serving();
    stuck.syncSince = NOW - 61_000;
    expect(liveness(stuck, NOW, deadlines)).toEqual({ ok: false, reason: 'wedged: one change has been under way for 61 s' });
    stuck.syncSince = NOW - 59_000;
    expect(liveness(stuck, NOW, deadlines).ok).toBe(true);
    const silent = serving();
    silent.storeHeardAt = NOW - 301_000;
    expect(liveness(silent, NOW, deadlines)).toEqual({ ok: false, reason: "wedged: the store's watch has reported nothing for 301 s" });
  });

  it('/healthz names skipped entries and empty backends but stays 200; JSON says "degraded"', () => {
    const state = serving();
    state.backends = { web: 2, api: 0 };
    state.skipped = [{ key: '/lb/routes/wbe', reason: 'no app "wbe"', kind: 'unknown_app' }];
    expect(health(state)).toEqual({
      ok: true,
      reason: 'ok, but no servers in backend api (HAProxy answers 503 there); 1 invalid entry skipped: /lb/routes/wbe',
    });
    expect(healthDocument(state, true, NOW, deadlines)).toMatchObject({
      status: 'degraded',
      live: true,
      ready: true,
      emptyBackends: ['api'],
      skipped: [{ key: '/lb/routes/wbe', kind: 'unknown_app', reason: 'no app "wbe"' }],
    });
  });
});

const base = {
  watch: { allowEmpty: false },
  resources: [{ destination: '/etc/haproxy/haproxy.cfg', haproxy: true }],
} as unknown as Settings;
const cfg = (servers: number) =>
  `backend web\n    balance roundrobin\n${Array.from({ length: servers }, (_, i) => `    server s${i} 10.0.0.${i + 1}:80 check\n`).join('')}`;

/** A rendering of one config with these servers per backend. */
const r = (backends: Record<string, number>) => ({
  backends,
  resources: [{ text: cfg(Object.values(backends).reduce((a, b) => a + b, 0)), resource: { haproxy: true } }],
});

describe('everyServerGone', () => {
  it('holds an answer that empties every backend while HAProxy serves some', () => {
    const error = everyServerGone(base, r({ web: 0 }), new Map([['/etc/haproxy/haproxy.cfg', cfg(3)]]));
    expect(error?.code).toBe('EVERY_SERVER_GONE');
    expect(error?.exitCode).toBe(5);
    expect(error?.message).toBe("held the store's answer: it leaves no server in any backend, where HAProxy serves 3 servers");
  });

  it('lets through an answer with a server left, a first install, an HAProxy serving none, and --allow-empty', () => {
    const installed = new Map([['/etc/haproxy/haproxy.cfg', cfg(3)]]);
    expect(everyServerGone(base, r({ web: 0, api: 1 }), installed)).toBeUndefined();
    expect(everyServerGone(base, r({ web: 0 }), new Map())).toBeUndefined();
    expect(everyServerGone(base, r({ web: 0 }), new Map([['/etc/haproxy/haproxy.cfg', cfg(0)]]))).toBeUndefined();
    expect(everyServerGone({ ...base, watch: { allowEmpty: true } } as unknown as Settings, r({ web: 0 }), installed)).toBeUndefined();
  });
});

describe('skipKind', () => {
  const stack = { apps: 'apps', control: 'lb' } as Settings['stack'];
  it.each([
    ['/apps/web/containers/x', 'value is empty', undefined, 'invalid_server'],
    ['/apps/web/containers/x', 'value is empty', stack, 'invalid_server'],
    ['/apps/we b', 'app "we b" cannot name a backend', stack, 'invalid_app'],
    ['/lb/routes/wbe', 'no app "wbe": nothing under apps/wbe/', stack, 'unknown_app'],
    ['/lb/routes/api', 'route "example.com/" is already routed to web (by the config file)', stack, 'route_taken'],
    ['/lb/routes/api', 'it names a port', stack, 'invalid_route'],
    ['/lb/weights/web/a', 'weight "x" is not a whole number', stack, 'invalid_weight'],
    ['/lb/state/web/a', 'state "up" is not one of ready, drain, maint', stack, 'invalid_state'],
    ['/lb/colour/web', 'is not a route, weight or state', stack, 'unknown_key'],
  ])('%s (%s) → %s', (key, reason, settings, kind) => {
    expect(skipKind({ key, reason }, settings)).toBe(kind);
  });
});

describe('liveSettings (SIGHUP)', () => {
  const running = {
    watch: { exec: 'haproxy -W', listen: { host: '127.0.0.1', port: 9180 }, waitMinMs: 200, waitMaxMs: 2000, minServers: 0, verifyIntervalMs: 30_000 },
    resources: [{ template: '/t/a.ejs', destination: '/etc/haproxy/haproxy.cfg', prefixes: ['apps/a'], haproxy: true }],
    haproxy: { binary: 'haproxy', config: '/etc/haproxy/haproxy.cfg', reloadTimeoutMs: 10_000 },
    minServers: 0,
    verbosity: 'normal',
  } as unknown as Settings;

  it('takes what may change live, keeps what only a restart changes, and names it', () => {
    const fresh = {
      ...running,
      minServers: 2,
      watch: { ...running.watch, listen: { host: '0.0.0.0', port: 9180 } },
      resources: [{ ...running.resources[0]!, template: '/t/b.ejs', prefixes: ['apps/b'] }],
    } as unknown as Settings;
    const { settings, kept } = liveSettings(running, fresh);
    expect(kept).toEqual(['listen']);
    expect(settings.minServers).toBe(2);
    expect(settings.resources[0]!.template).toBe('/t/b.ejs');
    expect(settings.resources[0]!.prefixes).toEqual(['apps/b']);
    expect(settings.watch.listen).toEqual({ host: '127.0.0.1', port: 9180 });
  });

  it('keeps --verify-interval (the looks are timed from the start), and says so', () => {
    const fresh = { ...running, watch: { ...running.watch, verifyIntervalMs: 0 } };
    const { settings, kept } = liveSettings(running, fresh);
    expect(kept).toEqual(['verifyInterval']);
    expect(settings.watch.verifyIntervalMs).toBe(30_000);
  });

  it('keeps the resources whole when the files they are written to changed', () => {
    const fresh = { ...running, resources: [{ ...running.resources[0]!, destination: '/tmp/elsewhere.cfg', template: '/t/b.ejs' }] } as unknown as Settings;
    const { settings, kept } = liveSettings(running, fresh);
    expect(kept).toEqual(['the files installed (out, resources[].destination)']);
    expect(settings.resources).toBe(running.resources);
  });
});
