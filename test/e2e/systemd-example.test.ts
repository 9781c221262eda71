import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { parseDuration } from '../../src/util/duration.js';
import { splitShellWords } from '../../src/util/shell-words.js';
import { ROOT } from '../support/cli.js';
import { hasSystemdAnalyze, parseUnit, unitEnvironment, unitExposure, verifyUnit } from '../support/systemd-unit.js';

const TEXT = readFileSync(join(ROOT, 'examples/systemd/occs-lb.service'), 'utf8');
const unit = parseUnit(TEXT);
const env = unitEnvironment(unit);
const one = (key: string): string => {
  const values = unit.get(key) ?? [];
  expect(values, key).toHaveLength(1);
  return values[0]!;
};

/** systemd-analyze is what checks a unit file. Without it the checks say so and skip; in CI, which installs it, they fail. */
function needSystemdAnalyze(context: TestContext): void {
  if (hasSystemdAnalyze()) return;
  const why = 'systemd-analyze is not installed (Debian: apt-get install -y systemd), so the unit file was not verified';
  if (process.env.CI) throw new Error(why);
  console.warn(why);
  context.skip(why);
}

describe('examples/systemd/occs-lb.service', () => {
  it('passes systemd-analyze verify', (context) => {
    needSystemdAnalyze(context);
    expect(verifyUnit(TEXT)).toEqual({ status: 0, complaints: [] });
  });

  it('systemd-analyze verify names a typo in a directive and a bad value, so the check can fail', (context) => {
    needSystemdAnalyze(context);
    const broken = TEXT.replace(/^ProtectHome=yes$/m, 'ProtectHom=yes').replace(/^Restart=on-failure$/m, 'Restart=sometimes');
    const { complaints } = verifyUnit(broken);
    expect(complaints).toEqual(expect.arrayContaining([expect.stringContaining("Unknown key 'ProtectHom'"), expect.stringContaining('sometimes')]));
    const missing = verifyUnit(TEXT.replace(/^ExecReload=\S+/m, 'ExecReload=/nonexistent/kill'));
    expect(missing.status).not.toBe(0);
    expect(missing.complaints).toEqual([expect.stringContaining('Command /nonexistent/kill is not executable')]);
  });

  it('systemd-analyze security rates its exposure 2.0 or less ("OK"), and a unit without the hardening far more', (context) => {
    needSystemdAnalyze(context);
    expect(unitExposure(TEXT)).toBeLessThanOrEqual(2);
    const bare = TEXT.split('\n')
      .filter((line) => !/^(Protect|Private|Restrict|SystemCall|Capability|NoNewPrivileges|DynamicUser|LockPersonality|RemoveIPC)/.test(line))
      .join('\n');
    expect(unitExposure(bare)).toBeGreaterThan(5);
  });

  it('runs without privileges on a read-only system, with a private /tmp, a runtime directory and a system-call allow list, but lets Node JIT-compile', () => {
    for (const [key, value] of [
      ['DynamicUser', 'yes'],
      ['NoNewPrivileges', 'yes'],
      ['CapabilityBoundingSet', ''],
      ['AmbientCapabilities', ''],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['PrivateDevices', 'yes'],
      ['RuntimeDirectory', 'occs-lb'],
      ['LockPersonality', 'yes'],
      ['RestrictNamespaces', 'yes'],
      ['RestrictSUIDSGID', 'yes'],
      ['SystemCallArchitectures', 'native'],
      ['SystemCallFilter', '@system-service'],
      ['SystemCallErrorNumber', 'EPERM'],
    ]) {
      expect(one(`Service.${key}`), key).toBe(value);
    }
    expect(one('Service.RestrictAddressFamilies').split(/\s+/).sort()).toEqual(['AF_INET', 'AF_INET6', 'AF_UNIX']);
    expect(unit.has('Service.MemoryDenyWriteExecute')).toBe(false);
  });

  it('stops HAProxy gracefully within TimeoutStopSec, reloads by SIGHUP and restarts on failure', () => {
    expect(one('Service.ExecStart')).toMatch(/^\S+ watch$/);
    expect(one('Service.ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one('Service.KillSignal')).toBe('SIGTERM');
    // SIGTERM to watch alone: the default (control-group) would also send it to HAProxy, a hard stop.
    expect(one('Service.KillMode')).toBe('mixed');
    expect(one('Service.Restart')).toBe('on-failure');
    const delay = parseDuration(env.get('OCCS_LB_SHUTDOWN_DELAY') ?? '0s')!;
    const stopTimeout = parseDuration(env.get('OCCS_LB_STOP_TIMEOUT') ?? '8s')!;
    expect(parseDuration(one('Service.TimeoutStopSec'))).toBeGreaterThanOrEqual(delay + stopTimeout + 2000);
  });

  it('is configured by OCCS_LB_* variables: config in the runtime directory, HAProxy supervised, the token a credential', () => {
    const out = env.get('OCCS_LB_OUT')!;
    expect(out).toBe(`/run/${one('Service.RuntimeDirectory')}/haproxy.cfg`);
    expect(splitShellWords(env.get('OCCS_LB_EXEC')!)).toEqual(['haproxy', '-W', '-db', '-f', out]);
    expect(env.get('OCCS_LB_LISTEN')).toMatch(/^127\.0\.0\.1:\d+$/);
    const [credential] = one('Service.LoadCredential').split(':');
    expect(env.get('OCCS_API_TOKEN_FILE')).toBe(`%d/${credential}`);
    expect(one('Service.EnvironmentFile')).toBe('-/etc/occs-lb/occs-lb.env');
  });
});
