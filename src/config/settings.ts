import { dirname, resolve } from 'node:path';
import { usageError } from '../errors.js';
import type { LogFormat } from '../log.js';
import { DEFAULT_MAX_ANSWER_BYTES } from '../kv/source.js';
import { parseSize } from '../util/size.js';
import { isIP } from '../values/ip.js';
import { isServerName, parsePort, unsafeCharacterReason } from '../values/server.js';
import { fileLabel as labelOf } from './file-problems.js';
import { durationSetting, invalid, pick, type From, type Layers } from './layers.js';
import { BALANCE_ALGORITHMS } from './setting-entry.js';
import { normalizePrefix, resolveHaproxy, resolveResources, stackResource } from './output-settings.js';
import { mapPaths, resolveStack } from './stack-settings.js';
import { resolveKv, resolveKvReads, resolveKvUser, resolveToken } from './store-settings.js';
import { resolveTls } from './tls-settings.js';
import type { Flags, Settings, SettingsInput, TemplateVars } from './types.js';
import { resolveWatch } from './watch-settings.js';
import { looksNegative } from '../util/negative.js';

export type { Flags, HaproxySettings, LoadedFile, Resource, ServiceSpec, Settings, SettingsInput, StackSettings, TemplateVars, TlsSettings } from './types.js';

/**
 * No admin socket unless asked for: HAProxy will not start when the socket's directory is
 * missing or not writable (which `haproxy -c` does not notice), and Debian's own HAProxy
 * service already owns /run/haproxy/admin.sock. watch --exec reaches the runtime API through
 * the master CLI instead.
 */
export const DEFAULT_ADMIN_SOCKET = '';

export const DEMO_STATS_USER = 'occsdemo';
export const DEMO_STATS_PASSWORD = 'occspass';

/** Merges defaults < config file < environment < flags into one frozen, validated Settings. */
export function resolveSettings(input: SettingsInput): Readonly<Settings> {
  const { flags, env, file, cwd } = input;
  const fileDir = file ? dirname(file.path) : cwd;
  const fileLabel = file ? labelOf(cwd, file.path) : '';
  const from: Layers = {
    flag: (name, value) => (value === undefined ? undefined : { value, from: input.origins?.[name] ?? `--${name}`, base: cwd }),
    env: (name) => (env[name] ? { value: env[name], from: `environment ${name}`, base: cwd } : undefined),
    file: (key) => (file?.config[key] === undefined ? undefined : { value: file.config[key], from: `${fileLabel}: ${key}`, base: fileDir }),
    fromEnvironment: (name) => input.origins?.[name] !== undefined,
  };

  const vars = resolveTemplateVars(flags, from, input.readSecret);

  const timeout = pick<string | number>(from.flag('kv-timeout', flags.kvTimeout), from.file('kvTimeout'));
  const kvTimeoutMs = durationSetting(timeout, 10_000, '500ms, 10s or 1m', 1);

  const maxSize = pick<string | number>(from.flag('kv-max-size', flags.kvMaxSize), from.file('kvMaxSize'));
  const kvMaxBytes = maxSize ? parseSize(maxSize.value) : DEFAULT_MAX_ANSWER_BYTES;
  if (kvMaxBytes === undefined) throw invalid(maxSize!.from, sizeProblem(maxSize!.value));

  const logFormat = pick(from.flag('log-format', flags.logFormat), from.file('logFormat'));
  if (logFormat && logFormat.value !== 'text' && logFormat.value !== 'json') throw invalid(logFormat.from, 'must be text or json');
  if (flags.quiet && flags.verbose) throw usageError('--quiet and --verbose cannot be used together');

  const path = (chosen: From<string> | undefined) => chosen && resolve(chosen.base, chosen.value);
  const kvCa = pick(from.flag('kv-ca', flags.kvCa), from.file('kvCa'));
  const kvCert = pick(from.flag('kv-cert', flags.kvCert), from.file('kvCert'));
  const kvKey = pick(from.flag('kv-key', flags.kvKey), from.file('kvKey'));
  if (Boolean(kvCert) !== Boolean(kvKey)) throw usageError('--kv-cert and --kv-key go together', { hint: 'give both, or neither' });
  const notices: string[] = file?.empty ? [`config file ${file.path} is empty: no setting comes from it`] : [];
  const { user: kvUser, password: kvPassword } = resolveKvUser(flags, env, from, input.readSecret, notices);
  const output = resolveOutput(input, from, fileDir, fileLabel, vars);
  const minServers = pick<string | number>(from.flag('min-servers', flags.minServers), from.file('minServers'));
  const settings: Settings = {
    kv: resolveKv(from.flag('kv', flags.kv), env, cwd, from.file('kv')),
    token: resolveToken(flags, from, env, input.readSecret, notices),
    kvUser,
    kvPassword,
    kvTimeoutMs,
    kvMaxBytes,
    ...resolveKvReads(flags, from),
    kvCa: path(kvCa),
    kvCert: path(kvCert),
    kvKey: path(kvKey),
    insecure: flags.insecure ?? file?.config.insecure ?? false,
    strict: flags.strict ?? file?.config.strict ?? false,
    ...output,
    vars,
    minServers: wholeNumber(minServers),
    watch: resolveWatch(flags, from),
    logFormat: logFormat?.value as LogFormat | undefined,
    verbosity: flags.quiet ? 'quiet' : flags.verbose ? 'verbose' : 'normal',
    configFile: file?.path,
    notices,
  };
  return Object.freeze(settings);
}

/** --min-servers: a whole number, 0 or more (0 when not set). */
function wholeNumber(chosen: From<string | number> | undefined): number {
  if (!chosen) return 0;
  if (/^\d+$/.test(String(chosen.value))) return Number(chosen.value);
  const what = looksNegative(chosen.value) ? 'is negative' : 'is not a whole number';
  throw invalid(chosen.from, `"${chosen.value}" ${what}: it must be a whole number, 0 or more`);
}

/** Why a size is refused: it must be more than 0 bytes, written such as 16MiB. */
function sizeProblem(value: string | number): string {
  const given = `"${value}"`;
  if (looksNegative(value)) return `${given} is negative: a size must be more than 0 bytes, such as 16MiB, 512KiB or a number of bytes`;
  if (/^\s*0+(?:\.0*)?\s*[a-z]*$/i.test(String(value))) return `${given} must be more than 0 bytes: a size such as 16MiB, 512KiB or a number of bytes`;
  return `${given} is not a size such as 16MiB, 512KiB or a number of bytes (more than 0)`;
}

/**
 * What is rendered where (stack mode's one config and its map files, or the resources), the
 * HAProxy that reads it, and HTTPS beside it (its port joins the template's `vars`).
 */
function resolveOutput(input: SettingsInput, from: Layers, fileDir: string, fileLabel: string, vars: TemplateVars) {
  const stack = resolveStack(input.flags, from, input.file, normalizePrefix, BALANCE_ALGORITHMS);
  const resources = stack ? [stackResource(input, stack, fileDir)] : resolveResources(input, fileDir, fileLabel);
  const haproxy = resolveHaproxy(input.flags, from, resources);
  const tls = resolveTls(input.flags, from, vars, haproxy.config);
  if (tls) vars.httpsPort = tls.port;
  return { resources, haproxy, tls, stack: stack && { ...stack, maps: mapPaths(resources[0]!.destination ?? haproxy.config) } };
}

/** The values the default template prints: each validated so it is one safe config word. */
function resolveTemplateVars(flags: Flags, from: Layers, readSecret: SettingsInput['readSecret']): TemplateVars {
  const port = (chosen: From<string | number> | undefined, fallback: number): number => {
    if (!chosen) return fallback;
    const parsed = parsePort(String(chosen.value));
    if (!parsed.ok) throw invalid(chosen.from, parsed.reason);
    return parsed.value;
  };
  const word = (chosen: From<string> | undefined, fallback: string, test: (v: string) => boolean, what: string): string => {
    if (!chosen) return fallback;
    if (!test(chosen.value)) throw invalid(chosen.from, `"${chosen.value}" is not ${what}`);
    return chosen.value;
  };

  const statsPassword = resolveStatsPassword(from, readSecret);
  if (statsPassword && unsafeCharacterReason(statsPassword.value)) {
    throw invalid(statsPassword.from, `the stats password ${unsafeCharacterReason(statsPassword.value)}`);
  }
  const vars: TemplateVars = {
    bind: word(pick(from.flag('bind', flags.bind), from.file('bind')), '*', (v) => v === '*' || isIP(v), 'an IP address or *'),
    frontendPort: port(pick<string | number>(from.flag('frontend-port', flags.frontendPort), from.file('frontendPort')), 5000),
    statsPort: port(pick<string | number>(from.flag('stats-port', flags.statsPort), from.file('statsPort')), 1936),
    statsUser: word(
      pick(from.env('OCCS_LB_STATS_USER'), from.file('statsUser')),
      DEMO_STATS_USER,
      (v) => /^[A-Za-z0-9._-]+$/.test(v),
      'a user name of letters, digits, ".", "_" or "-"',
    ),
    statsPassword: statsPassword?.value ?? DEMO_STATS_PASSWORD,
    backendName: word(
      pick(from.flag('backend-name', flags.backendName), from.file('backendName')),
      'nginx_80',
      isServerName,
      'a backend name of letters, digits, ".", "_", ":" or "-"',
    ),
    balance: word(
      pick(from.flag('balance', flags.balance), from.file('balance')),
      'roundrobin',
      (v) => (BALANCE_ALGORITHMS as readonly string[]).includes(v),
      `one of ${BALANCE_ALGORITHMS.join(', ')}`,
    ),
    adminSocket: word(
      pick(from.flag('admin-socket', flags.adminSocket), from.file('adminSocket')),
      DEFAULT_ADMIN_SOCKET,
      (v) => v === '' || /^\/[A-Za-z0-9._/-]+$/.test(v),
      'an absolute path of letters, digits, ".", "_", "-" and "/" (or "" for none)',
    ),
  };
  if (vars.frontendPort === vars.statsPort) {
    throw usageError(`the frontend and the stats listener both use port ${vars.frontendPort}`, { hint: 'give them different ports' });
  }
  return vars;
}

/**
 * The stats password: the variable, then its file's variable, then the config file's password or
 * its file (a mounted secret, read whole and trimmed). Two in one layer are refused as ambiguous.
 */
function resolveStatsPassword(from: Layers, readSecret: SettingsInput['readSecret']): From<string> | undefined {
  const read = (file: From<string> | undefined) => file && { ...file, value: readSecret(resolve(file.base, file.value), file.from).trim() };
  const layers: Array<[From<string> | undefined, From<string> | undefined]> = [
    [from.env('OCCS_LB_STATS_PASSWORD'), from.env('OCCS_LB_STATS_PASSWORD_FILE')],
    [from.file('statsPassword'), from.file('statsPasswordFile')],
  ];
  for (const [value, file] of layers) {
    if (value && file) throw usageError(`${value.from} and ${file.from} cannot be used together`, { hint: 'give the stats password once' });
    if (value || file) return value ?? read(file);
  }
  return undefined;
}
