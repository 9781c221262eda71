import { resolve } from 'node:path';
import { usageError } from '../errors.js';
import { isIPv6 } from '../values/ip.js';
import { parsePort } from '../values/server.js';
import { invalid, type From } from './layers.js';
import type { Flags, Settings } from './settings.js';

/** Where the store is and how to authenticate: the settings of the key/value side. */

export function resolveKv(flags: Flags, env: NodeJS.ProcessEnv, cwd: string, file: From<string> | undefined): Settings['kv'] {
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

export function resolveToken(
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
