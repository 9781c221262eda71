import { resolve } from 'node:path';
import { OccsError, usageError } from '../errors.js';
import { parseKvLocation } from '../kv/open.js';
import { isIPv6 } from '../values/ip.js';
import { parsePort } from '../values/server.js';
import { DEFAULT_MAX_STALE_MS, type KvConsistency } from '../kv/source.js';
import { durationSetting, invalid, pick, type From, type Layers } from './layers.js';
import { consistencies } from './setting-entry.js';
import type { Flags, Settings } from './types.js';

/** Where the store is and how to authenticate: the settings of the key/value side. */

export function resolveKv(flag: From<string> | undefined, env: NodeJS.ProcessEnv, cwd: string, file: From<string> | undefined): Settings['kv'] {
  const kv = chooseKv(flag, env, cwd, file);
  if (!kv) return kv;
  // Checked with the other settings, naming where it came from (the file's key, a variable).
  try {
    parseKvLocation(kv.spec, kv.base);
  } catch (error) {
    if (!(error instanceof OccsError) || !error.message.startsWith('--kv: ') || kv.from === '--kv') throw error;
    throw usageError(`${kv.from}: ${error.message.slice('--kv: '.length)}`, { hint: error.hint });
  }
  return kv;
}

function chooseKv(flag: From<string> | undefined, env: NodeJS.ProcessEnv, cwd: string, file: From<string> | undefined): Settings['kv'] {
  if (flag) return { spec: flag.value, from: flag.from, base: cwd };
  const ip = env.KV_IP;
  const port = env.KV_PORT;
  if (ip || port) {
    if (!ip) throw bothNeeded('KV_PORT', 'KV_IP');
    return { spec: `http://${kvAddresses(ip, port).join(',')}`, from: 'environment KV_IP/KV_PORT', base: cwd };
  }
  return file && { spec: file.value, from: file.from, base: file.base };
}

const bothNeeded = (set: string, unset: string) =>
  usageError(`${set} is set but ${unset} is not`, { hint: 'set both (e.g. KV_IP=172.17.0.1 KV_PORT=9109), or pass --kv' });

/**
 * KV_IP's addresses as HOST:PORT: one, or several separated by commas (the servers of a Consul
 * cluster), each with its own port or KV_PORT's. IPv6 addresses go in brackets.
 */
function kvAddresses(ip: string, port: string | undefined): string[] {
  const checked = (text: string, from: string) => {
    const parsed = parsePort(text);
    if (!parsed.ok) throw invalid(from, parsed.reason);
    return parsed.value;
  };
  return ip.split(',').map((part) => {
    const address = part.trim();
    if (!address) throw invalid('environment KV_IP', `"${ip}" has an empty address between commas`);
    const given = isIPv6(address) ? undefined : /^(\[[^\]]*\]|[^:[\]]*):(.*)$/.exec(address);
    if (given) return `${given[1]}:${checked(given[2]!, 'environment KV_IP')}`;
    if (!port) throw bothNeeded('KV_IP', 'KV_PORT');
    return `${isIPv6(address) ? `[${address}]` : address}:${checked(port, 'environment KV_PORT')}`;
  });
}

/** How Consul/OCCS are read: the consistency mode, and how long a server may go without hearing from its leader. */
export function resolveKvReads(flags: Flags, from: Layers): { kvConsistency: KvConsistency; kvMaxStaleMs: number } {
  const mode = pick<string>(from.flag('kv-consistency', flags.kvConsistency), from.file('kvConsistency'));
  if (mode && !(consistencies as readonly string[]).includes(mode.value)) throw invalid(mode.from, `"${mode.value}" is not one of ${consistencies.join(', ')}`);
  const maxStale = pick<string | number>(from.flag('kv-max-stale', flags.kvMaxStale), from.file('kvMaxStale'));
  return {
    kvConsistency: (mode?.value ?? 'default') as KvConsistency,
    kvMaxStaleMs: durationSetting(maxStale, DEFAULT_MAX_STALE_MS, '2s, 500ms or 1m', 1),
  };
}

type SecretReader = (path: string, setting: string) => string;

/** Where one secret may come from, in precedence order: a flag and its file flag, then variables. */
interface SecretSources {
  name: string;
  flag: { option: string; value?: string };
  flagFile: { option: string; value?: string };
  envVar: string;
  envFile: string;
  configFile?: From<string>;
}

/**
 * A secret (the API token, the etcd password): first match wins among the flags, the environment
 * and the config file's `…File` key (a secret itself never sits in the config file). Trimmed;
 * refused unless it is visible ASCII, the only thing an HTTP header or a JSON login can carry
 * without surprises.
 */
function resolveSecret(s: SecretSources, env: NodeJS.ProcessEnv, readSecret: SecretReader, notices: string[]): string | undefined {
  if (s.flag.value !== undefined && s.flagFile.value !== undefined) {
    throw usageError(`${s.flag.option} and ${s.flagFile.option} cannot be used together`);
  }
  const fromFile = (path: string, setting: string): [string, () => string, boolean] => [setting, () => readSecret(path, setting), true];
  const candidates: Array<[from: string, read: () => string, isFile: boolean] | undefined> = [
    s.flag.value !== undefined ? [s.flag.option, () => s.flag.value!, false] : undefined,
    s.flagFile.value !== undefined ? fromFile(s.flagFile.value, s.flagFile.option) : undefined,
    env[s.envVar] ? [`environment ${s.envVar}`, () => env[s.envVar]!, false] : undefined,
    env[s.envFile] ? fromFile(env[s.envFile]!, `environment ${s.envFile}`) : undefined,
    s.configFile ? fromFile(resolve(s.configFile.base, s.configFile.value), s.configFile.from) : undefined,
  ];
  const chosen = candidates.find(Boolean);
  if (!chosen) return undefined;
  const value = chosen[1]().trim();
  if (!/^[\x21-\x7e]*$/.test(value)) {
    throw invalid(chosen[0], `the ${s.name} contains whitespace, control or non-ASCII characters`, `check the ${s.name} file or variable`);
  }
  if (value === '' && chosen[2]) notices.push(`the ${s.name} file named by ${chosen[0]} is empty: no ${s.name} is sent`);
  return value === '' ? undefined : value;
}

/** The Consul/OCCS API token. */
export function resolveToken(flags: Flags, from: Layers, env: NodeJS.ProcessEnv, readSecret: SecretReader, notices: string[]): string | undefined {
  return resolveSecret(
    {
      name: 'token',
      flag: { option: from.flag('token', flags.token)?.from ?? '--token', value: flags.token },
      flagFile: { option: from.flag('token-file', flags.tokenFile)?.from ?? '--token-file', value: flags.tokenFile },
      envVar: 'OCCS_API_TOKEN',
      envFile: 'OCCS_API_TOKEN_FILE',
      configFile: from.file('tokenFile'),
    },
    env,
    readSecret,
    notices,
  );
}

/** etcd's user and password (both or neither). */
export function resolveKvUser(
  flags: Flags,
  env: NodeJS.ProcessEnv,
  from: Layers,
  readSecret: SecretReader,
  notices: string[],
): { user?: string; password?: string } {
  const user = pick(from.flag('kv-user', flags.kvUser), from.env('KV_USER'), from.file('kvUser'));
  const password = resolveSecret(
    {
      name: 'password',
      flag: { option: from.flag('kv-password', flags.kvPassword)?.from ?? '--kv-password', value: flags.kvPassword },
      flagFile: { option: from.flag('kv-password-file', flags.kvPasswordFile)?.from ?? '--kv-password-file', value: flags.kvPasswordFile },
      envVar: 'KV_PASSWORD',
      envFile: 'KV_PASSWORD_FILE',
      configFile: from.file('kvPasswordFile'),
    },
    env,
    readSecret,
    notices,
  );
  if (password !== undefined && !user) {
    throw usageError('a key/value password was given without a user', { hint: 'set --kv-user (or KV_USER)' });
  }
  return { user: user?.value, password };
}
