import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { usageError } from '../errors.js';
import type { LogFormat, Verbosity } from '../log.js';
import { parseDuration } from '../util/duration.js';
import { isIP, isIPv6 } from '../values/ip.js';
import { isServerName, parsePort, unsafeCharacterReason } from '../values/server.js';

import type { FileConfig } from './schema.js';

/** Options as commander hands them over (strings, booleans and the repeatable --prefix). */
export interface Flags {
  kv?: string;
  token?: string;
  tokenFile?: string;
  prefix?: string[];
  template?: string;
  kvTimeout?: string;
  kvCa?: string;
  insecure?: boolean;
  strict?: boolean;
  logFormat?: string;
  quiet?: boolean;
  verbose?: boolean;
  bind?: string;
  frontendPort?: string;
  statsPort?: string;
  backendName?: string;
  balance?: string;
  out?: string;
}

export interface LoadedFile {
  path: string;
  config: FileConfig;
}

/** The values the default template prints besides servers; all strictly validated. */
export interface TemplateVars {
  bind: string;
  frontendPort: number;
  statsPort: number;
  statsUser: string;
  statsPassword: string;
  backendName: string;
  balance: string;
}

/** One template → destination pair (confd's template resource). */
export interface Resource {
  template: string;
  /** Absent: print to stdout. */
  destination?: string;
  /** Key prefixes read for this resource, normalised; the first is the default of servers(). */
  prefixes: string[];
}

export interface Settings {
  /** The --kv spec (or the URL made of KV_IP/KV_PORT) and where it came from. */
  kv?: { spec: string; from: string; base: string };
  token?: string;
  kvTimeoutMs: number;
  kvCa?: string;
  insecure: boolean;
  strict: boolean;
  resources: Resource[];
  vars: TemplateVars;
  /** Undefined: the command's default (text for one-shot commands). */
  logFormat?: LogFormat;
  verbosity: Verbosity;
  configFile?: string;
}

export const DEMO_STATS_USER = 'occsdemo';
export const DEMO_STATS_PASSWORD = 'occspass';

export const BALANCE_ALGORITHMS = ['roundrobin', 'static-rr', 'leastconn', 'first', 'source', 'random'];

export interface SettingsInput {
  flags: Flags;
  env: NodeJS.ProcessEnv;
  file?: LoadedFile;
  cwd: string;
  defaultTemplate: string;
  /** Reads a token file; I/O is the caller's. */
  readSecret: (path: string) => string;
}

/** A value with the place it came from (for error messages) and the directory relative paths use. */
interface From<T> {
  value: T;
  from: string;
  base: string;
}

/** Reads one setting from one layer; undefined when that layer does not set it. */
interface Layers {
  flag: <T>(name: string, value: T | undefined) => From<T> | undefined;
  env: (name: string) => From<string> | undefined;
  file: <K extends keyof FileConfig>(key: K) => From<NonNullable<FileConfig[K]>> | undefined;
}

/** The first layer, in precedence order, that sets the value. */
const pick = <T>(...candidates: Array<From<T> | undefined>): From<T> | undefined => candidates.find(Boolean);

const invalid = (from: string, what: string, hint?: string) => usageError(`${from}: ${what}`, { hint });

/** Merges defaults < config file < environment < flags into one frozen, validated Settings. */
export function resolveSettings(input: SettingsInput): Readonly<Settings> {
  const { flags, env, file, cwd } = input;
  const fileDir = file ? dirname(file.path) : cwd;
  const fileLabel = file ? relative(cwd, file.path) || file.path : '';
  const from: Layers = {
    flag: (name, value) => (value === undefined ? undefined : { value, from: `--${name}`, base: cwd }),
    env: (name) => (env[name] ? { value: env[name]!, from: `environment ${name}`, base: cwd } : undefined),
    file: (key) =>
      file?.config[key] === undefined ? undefined : { value: file.config[key]!, from: `${fileLabel}: ${key}`, base: fileDir },
  };

  const vars = resolveTemplateVars(flags, from);

  const timeout = pick<string | number>(from.flag('kv-timeout', flags.kvTimeout), from.file('kvTimeout'));
  const kvTimeoutMs = timeout ? parseDuration(timeout.value) : 10_000;
  if (kvTimeoutMs === undefined || kvTimeoutMs <= 0) throw invalid(timeout!.from, `"${timeout!.value}" is not a duration such as 500ms, 10s or 1m`);

  const logFormat = pick(from.flag('log-format', flags.logFormat), from.file('logFormat'));
  if (logFormat && logFormat.value !== 'text' && logFormat.value !== 'json') throw invalid(logFormat.from, 'must be text or json');
  if (flags.quiet && flags.verbose) throw usageError('--quiet and --verbose cannot be used together');

  const kvCa = pick(from.flag('kv-ca', flags.kvCa), from.file('kvCa'));
  const settings: Settings = {
    kv: resolveKv(flags, env, cwd, from.file('kv')),
    token: resolveToken(flags, env, from.file('tokenFile'), input.readSecret),
    kvTimeoutMs,
    kvCa: kvCa && resolve(kvCa.base, kvCa.value),
    insecure: flags.insecure ?? file?.config.insecure ?? false,
    strict: flags.strict ?? file?.config.strict ?? false,
    resources: resolveResources(input, fileDir, fileLabel),
    vars,
    logFormat: logFormat?.value as LogFormat | undefined,
    verbosity: flags.quiet ? 'quiet' : flags.verbose ? 'verbose' : 'normal',
    configFile: file?.path,
  };
  return Object.freeze(settings);
}


/** The values the default template prints: each validated so it is one safe config word. */
function resolveTemplateVars(flags: Flags, from: Layers): TemplateVars {
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

  const statsPassword = pick(from.env('OCCS_LB_STATS_PASSWORD'), from.file('statsPassword'));
  if (statsPassword && unsafeCharacterReason(statsPassword.value)) {
    throw invalid(statsPassword.from, `the stats password ${unsafeCharacterReason(statsPassword.value)}`);
  }
  const vars: TemplateVars = {
    bind: word(pick(from.flag('bind', flags.bind), from.file('bind')), '*', (v) => v === '*' || isIP(v), 'an IP address or *'),
    frontendPort: port(pick<string | number>(from.flag('frontend-port', flags.frontendPort), from.file('frontendPort')), 5000),
    statsPort: port(pick<string | number>(from.flag('stats-port', flags.statsPort), from.file('statsPort')), 1936),
    statsUser: word(pick(from.env('OCCS_LB_STATS_USER'), from.file('statsUser')), DEMO_STATS_USER, (v) => /^[A-Za-z0-9._-]+$/.test(v), 'a user name of letters, digits, ".", "_" or "-"'),
    statsPassword: statsPassword?.value ?? DEMO_STATS_PASSWORD,
    backendName: word(pick(from.flag('backend-name', flags.backendName), from.file('backendName')), 'nginx_80', isServerName, 'a backend name of letters, digits, ".", "_", ":" or "-"'),
    balance: word(pick(from.flag('balance', flags.balance), from.file('balance')), 'roundrobin', (v) => BALANCE_ALGORITHMS.includes(v), `one of ${BALANCE_ALGORITHMS.join(', ')}`),
  };
  if (vars.frontendPort === vars.statsPort) {
    throw usageError(`the frontend and the stats listener both use port ${vars.frontendPort}`, { hint: 'give them different ports' });
  }
  return vars;
}

function resolveKv(flags: Flags, env: NodeJS.ProcessEnv, cwd: string, file: From<string> | undefined): Settings['kv'] {
  if (flags.kv !== undefined) return { spec: flags.kv, from: '--kv', base: cwd };
  const ip = env.KV_IP;
  const port = env.KV_PORT;
  if (ip || port) {
    if (!ip || !port) {
      throw usageError(`${ip ? 'KV_IP' : 'KV_PORT'} is set but ${ip ? 'KV_PORT' : 'KV_IP'} is not`, {
        hint: 'set both (e.g. KV_IP=172.17.0.1 KV_PORT=9109), or pass --kv',
      });
    }
    const parsedPort = parsePort(port);
    if (!parsedPort.ok) throw invalid('environment KV_PORT', parsedPort.reason);
    const host = isIPv6(ip) ? `[${ip}]` : ip;
    return { spec: `http://${host}:${parsedPort.value}`, from: 'environment KV_IP/KV_PORT', base: cwd };
  }
  return file && { spec: file.value, from: file.from, base: file.base };
}

function resolveToken(
  flags: Flags,
  env: NodeJS.ProcessEnv,
  file: From<string> | undefined,
  readSecret: (path: string) => string,
): string | undefined {
  if (flags.token !== undefined && flags.tokenFile !== undefined) {
    throw usageError('--token and --token-file cannot be used together');
  }
  // First match wins: flags, then environment, then the config file's tokenFile.
  const candidates: Array<[from: string, read: () => string] | undefined> = [
    flags.token !== undefined ? ['--token', () => flags.token!] : undefined,
    flags.tokenFile !== undefined ? ['--token-file', () => readSecret(flags.tokenFile!)] : undefined,
    env.OCCS_API_TOKEN ? ['environment OCCS_API_TOKEN', () => env.OCCS_API_TOKEN!] : undefined,
    env.OCCS_API_TOKEN_FILE ? ['environment OCCS_API_TOKEN_FILE', () => readSecret(env.OCCS_API_TOKEN_FILE!)] : undefined,
    file ? [file.from, () => readSecret(resolve(file.base, file.value))] : undefined,
  ];
  const chosen = candidates.find(Boolean);
  const token = chosen && { from: chosen[0], value: chosen[1]() };
  if (!token) return undefined;
  const value = token.value.trim();
  // Only visible ASCII can go into an HTTP header; anything else is a mistake, never sent.
  if (!/^[\x21-\x7e]*$/.test(value)) {
    throw invalid(token.from, 'the token contains whitespace, control or non-ASCII characters', 'check the token file or variable');
  }
  return value === '' ? undefined : value;
}

/** A prefix is a key path: no `.`/`..` segments (they would walk the store's URL) or control characters. */
function checkPrefix(prefix: string): string {
  // eslint-disable-next-line no-control-regex
  if (prefix.split('/').some((segment) => segment === '.' || segment === '..') || /[\x00-\x1f\x7f]/.test(prefix)) {
    throw usageError(`the key prefix ${JSON.stringify(prefix)} has a "." or ".." segment or a control character`, {
      hint: 'give the prefix as a plain key path such as apps/myapp/containers',
    });
  }
  return prefix;
}

function resolveResources(input: SettingsInput, fileDir: string, fileLabel: string): Resource[] {
  const { flags, env, file, cwd } = input;
  const normalize = (prefix: string) => checkPrefix(prefix.replace(/^\/+/, '').replace(/\/+$/, ''));
  const globalPrefixes =
    flags.prefix?.length ? flags.prefix
    : env.OCCS_BACKEND_KEY ? [env.OCCS_BACKEND_KEY]
    : (file?.config.prefixes ?? []);
  const at = (base: string, path: string) => (isAbsolute(path) ? path : resolve(base, path));

  const listed = file?.config.resources;
  if (!listed) {
    const template = flags.template ? at(cwd, flags.template) : file?.config.template ? at(fileDir, file.config.template) : input.defaultTemplate;
    return [{ template, destination: flags.out && at(cwd, flags.out), prefixes: globalPrefixes.map(normalize) }];
  }
  if (listed.length > 1 && (flags.out || flags.template)) {
    throw usageError(`${fileLabel} lists ${listed.length} resources, so ${flags.out ? '--out' : '--template'} is ambiguous`, {
      hint: 'set each resource\'s "destination" and "template" in the config file, or use --config with a file of one resource',
    });
  }
  return listed.map((r, i) => {
    if (listed.length > 1 && !r.destination) {
      throw invalid(`${fileLabel}: resources[${i}]`, 'has no "destination"', 'with several resources, each needs a destination file');
    }
    return {
      template: flags.template ? at(cwd, flags.template) : at(fileDir, r.template),
      destination: flags.out ? at(cwd, flags.out) : r.destination && at(fileDir, r.destination),
      prefixes: (r.prefixes ?? globalPrefixes).map(normalize),
    };
  });
}
