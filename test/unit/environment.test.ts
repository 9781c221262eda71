import { describe, expect, it } from 'vitest';
import { optionVariable, variablesOf, withEnvironment } from '../../src/config/environment.js';
import type { SettingEntry } from '../../src/config/setting-entry.js';
import { SETTINGS } from '../../src/config/table.js';
import { OccsError } from '../../src/errors.js';
import { childEnv } from '../../src/util/run.js';

const entries = SETTINGS as readonly SettingEntry[];
const entry = (flag: string) => entries.find((e) => e.flag?.includes(flag))!;
const none = () => false;

describe('OCCS_LB_ variables, derived from the settings table', () => {
  it('name each option by its long name in upper snake case, `no-` dropped', () => {
    expect(optionVariable(entry('--min-servers'))).toBe('OCCS_LB_MIN_SERVERS');
    expect(optionVariable(entry('--stack'))).toBe('OCCS_LB_STACK');
    expect(optionVariable(entry('--no-runtime-api'))).toBe('OCCS_LB_RUNTIME_API');
    expect(optionVariable(entry('--out'))).toBe('OCCS_LB_OUT');
    expect(optionVariable(entry('--config'))).toBe('OCCS_LB_CONFIG');
    expect(variablesOf(entry('--token <'))).toEqual(['OCCS_LB_TOKEN', 'OCCS_API_TOKEN']);
  });

  it('give every option a variable of its own, no two the same (but --no-haproxy, whose name is --haproxy’s)', () => {
    const named = entries.filter((e) => e.flag).map((e) => [e.flag!, optionVariable(e)] as const);
    expect(named.filter(([, v]) => v === undefined).map(([f]) => f)).toEqual(['--no-haproxy']);
    const variables = named.map(([, v]) => v).filter(Boolean);
    expect(new Set(variables).size).toBe(variables.length);
  });

  it('keep every variable that holds or names a secret from the children', () => {
    const secrets = ['token', 'tokenFile', 'kvPassword', 'kvPasswordFile', 'statsPassword', 'statsPasswordFile'];
    const env = Object.fromEntries(entries.filter((e) => secrets.includes(e.name)).flatMap((e) => variablesOf(e).map((v) => [v, 'x'])));
    expect(Object.keys(env).length).toBe(10);
    expect(childEnv({ ...env, PATH: '/bin' })).toEqual({ PATH: '/bin' });
  });
});

describe('withEnvironment', () => {
  it('takes values, switches and repeatable options from their variables, and says where each came from', () => {
    const { flags, origins } = withEnvironment(
      {},
      {
        OCCS_LB_MIN_SERVERS: '2',
        OCCS_LB_STRICT: 'yes',
        OCCS_LB_RUNTIME_API: 'false',
        OCCS_LB_PREFIX: 'apps/web/containers, apps/api/containers',
        OCCS_LB_LOG_FORMAT: 'json',
      },
      none,
    );
    expect(flags).toMatchObject({
      minServers: '2',
      strict: true,
      runtimeApi: false,
      prefix: ['apps/web/containers', 'apps/api/containers'],
      logFormat: 'json',
    });
    expect(origins['min-servers']).toBe('environment OCCS_LB_MIN_SERVERS');
    expect(origins['runtime-api']).toBe('environment OCCS_LB_RUNTIME_API');
  });

  it('leaves an option given as a flag as it is, and an empty variable unset', () => {
    const given = (name: string) => name === 'minServers';
    const { flags } = withEnvironment({ minServers: '5' }, { OCCS_LB_MIN_SERVERS: '2', OCCS_LB_STACK: '' }, given);
    expect(flags.minServers).toBe('5');
    expect(flags.stack).toBeUndefined();
  });

  it('drops the variables of the options a flag goes with: a token flag beats a token-file variable', () => {
    const given = (name: string) => name === 'token';
    const { flags } = withEnvironment({ token: 't' }, { OCCS_LB_TOKEN_FILE: '/run/secrets/t', OCCS_LB_PID_FILE: '/run/h.pid' }, given);
    expect(flags.tokenFile).toBeUndefined();
    expect(flags.pidFile).toBe('/run/h.pid');
    const strategy = withEnvironment({ masterSocket: '/m' }, { OCCS_LB_PID_FILE: '/run/h.pid' }, (name) => name === 'masterSocket');
    expect(strategy.flags.pidFile).toBeUndefined();
  });

  it.each([
    [{ OCCS_LB_STRICT: 'maybe' }, /^environment OCCS_LB_STRICT: "maybe" is not true or false$/],
    [{ OCCS_LB_LOG_FORMAT: 'xml' }, /^environment OCCS_LB_LOG_FORMAT: "xml" is not one of text, json$/],
    [{ OCCS_LB_PREFIX: ' , ' }, /^environment OCCS_LB_PREFIX holds no value$/],
  ])('refuses %o as a usage error that names the variable', (env, message) => {
    let error: unknown;
    try {
      withEnvironment({}, env, none);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OccsError);
    expect((error as OccsError).exitCode).toBe(2);
    expect((error as OccsError).message).toMatch(message);
  });
});

describe('OCCS_LB_ variables no setting reads', () => {
  const noticesOf = (env: NodeJS.ProcessEnv, command?: 'render' | 'watch') => withEnvironment({}, env, none, command).notices;

  it('are warned of (not refused), naming the nearest variable', () => {
    expect(noticesOf({ OCCS_LB_MIN_SERVER: '2' })).toEqual([
      'environment OCCS_LB_MIN_SERVER is not a setting of occs-lb: it is ignored (did you mean OCCS_LB_MIN_SERVERS?)',
    ]);
    expect(noticesOf({ OCCS_LB_FROBNICATE: '1' })).toEqual([
      'environment OCCS_LB_FROBNICATE is not a setting of occs-lb: it is ignored (every option is OCCS_LB_<OPTION>: occs-lb --help)',
    ]);
  });

  it('say that a --no-x switch is OCCS_LB_X=false', () => {
    expect(noticesOf({ OCCS_LB_NO_CHECK: 'true', OCCS_LB_NO_RUNTIME_API: '1' }, 'render')).toEqual([
      'environment OCCS_LB_NO_CHECK is not a setting of occs-lb: it is ignored (for --no-check, use OCCS_LB_CHECK=false)',
      'environment OCCS_LB_NO_RUNTIME_API is not a setting of occs-lb: it is ignored (for --no-runtime-api, use OCCS_LB_RUNTIME_API=false)',
    ]);
  });

  it("leave alone another command's variables, the table's own, empty ones, the benchmarks' and Kubernetes service links", () => {
    const env = {
      OCCS_LB_STOP_TIMEOUT: '5s',
      OCCS_LB_STATS_USER: 'admin',
      OCCS_LB_STATS_PASSWORD_FILE: '/run/secrets/p',
      OCCS_LB_CONFIG: '/etc/occs-lb/occs-lb.json',
      OCCS_LB_TOKEN_FILE: '/run/secrets/t',
      OCCS_LB_MIN_SERVER: '',
      OCCS_LB_BENCH_SERVERS: '100',
      OCCS_LB_WEB_PORT: 'tcp://10.96.0.12:80',
      OCCS_LB_WEB_SERVICE_HOST: '10.96.0.12',
      OCCS_LB_WEB_SERVICE_PORT: '80',
      OCCS_LB_WEB_SERVICE_PORT_HTTP: '80',
      OCCS_LB_WEB_PORT_80_TCP: 'tcp://10.96.0.12:80',
      OCCS_LB_WEB_PORT_80_TCP_ADDR: '10.96.0.12',
      OCCS_LB_WEB_PORT_80_TCP_PROTO: 'tcp',
    };
    expect(noticesOf(env, 'render')).toEqual([]);
  });
});
