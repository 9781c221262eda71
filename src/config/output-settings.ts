import { isAbsolute, resolve } from 'node:path';
import { usageError } from '../errors.js';
import type { ReloadStrategy } from '../haproxy/reload.js';
import { STACK_TEMPLATE } from '../paths.js';
import { durationSetting, invalid, pick, type From, type Layers } from './layers.js';
import type { Flags, HaproxySettings, Resource, SettingsInput, StackSettings } from './types.js';

/** What gets rendered where, and how the HAProxy that reads it is checked and reloaded. */

export function resolveHaproxy(flags: Flags, from: Layers, resources: Resource[]): HaproxySettings {
  const at = (chosen: From<string>) => resolve(chosen.base, chosen.value);
  // --no-haproxy (validate) arrives as haproxy: false; only a string names a binary.
  const binary = pick(from.flag('haproxy', typeof flags.haproxy === 'string' ? flags.haproxy : undefined), from.file('haproxyBinary'));
  const config = pick(from.flag('haproxy-config', flags.haproxyConfig), from.file('haproxyConfig'));
  const timeout = pick<string | number>(from.flag('reload-timeout', flags.reloadTimeout), from.file('reloadTimeout'));
  const reloadTimeoutMs = durationSetting(timeout, 10_000, '5s or 1m', 1);

  // One strategy. Flags replace the config file's choice as a whole, so the two never mix.
  const layer = (get: (name: string, key: 'masterSocket' | 'pidFile' | 'reloadCmd') => From<string> | undefined) => [
    get('master-socket', 'masterSocket'),
    get('pid-file', 'pidFile'),
    get('reload-cmd', 'reloadCmd'),
  ];
  const flagged = layer((name, key) => from.flag(name, flags[key]));
  const chosen = flagged.some(Boolean) ? flagged : layer((_, key) => from.file(key));
  const given = chosen.filter((c): c is From<string> => c !== undefined);
  if (given.length > 1) {
    throw usageError(`${given.map((g) => g.from).join(' and ')} both choose how to reload`, {
      hint: 'give one of --master-socket, --pid-file or --reload-cmd',
    });
  }
  const [socket, pidFile, command] = chosen;
  const reload: ReloadStrategy | undefined = socket
    ? { kind: 'master-socket', socket: at(socket) }
    : pidFile
      ? { kind: 'pid-file', pidFile: at(pidFile) }
      : command
        ? { kind: 'command', command: command.value }
        : undefined;

  const single = resources.length === 1 ? resources[0]!.destination : undefined;
  return {
    binary: binary ? (binary.value.includes('/') ? at(binary) : binary.value) : 'haproxy',
    config: config ? at(config) : (single ?? '/etc/haproxy/haproxy.cfg'),
    reload,
    reloadTimeoutMs,
  };
}

/** A prefix is a key path: no `.`/`..` segments (they would walk the store's URL) or control characters. */
function checkPrefix(prefix: string): string {
  if (prefix.split('/').some((segment) => segment === '.' || segment === '..') || /\p{Cc}/u.test(prefix)) {
    throw usageError(`the key prefix ${JSON.stringify(prefix)} has a "." or ".." segment or a control character`, {
      hint: 'give the prefix as a plain key path such as apps/myapp/containers',
    });
  }
  return prefix;
}

/** A key prefix as the store is asked for it: no leading or trailing `/`, checked. */
export const normalizePrefix = (prefix: string): string => checkPrefix(prefix.replace(/^\/+/, '').replace(/\/+$/, ''));

const at = (base: string, path: string) => (isAbsolute(path) ? path : resolve(base, path));

/** Stack mode's one resource: the stack template (or --template), reading the apps, the control prefix and each service's prefix. */
export function stackResource(input: SettingsInput, stack: Omit<StackSettings, 'maps'>, fileDir: string): Resource {
  const { flags, file, cwd } = input;
  const template = flags.template
    ? at(cwd, flags.template)
    : file?.config.template
      ? at(fileDir, file.config.template)
      : (input.stackTemplate ?? STACK_TEMPLATE);
  const prefixes = [...new Set([...(stack.apps ? [stack.apps] : []), stack.control, ...stack.services.map((s) => s.prefix)])];
  return { template, destination: flags.out && at(cwd, flags.out), prefixes, haproxy: true };
}

export function resolveResources(input: SettingsInput, fileDir: string, fileLabel: string): Resource[] {
  const { flags, env, file, cwd } = input;
  const normalize = normalizePrefix;
  const globalPrefixes = flags.prefix?.length ? flags.prefix : env.OCCS_BACKEND_KEY ? [env.OCCS_BACKEND_KEY] : (file?.config.prefixes ?? []);
  const listed = file?.config.resources;
  if (!listed) {
    const template = flags.template ? at(cwd, flags.template) : file?.config.template ? at(fileDir, file.config.template) : input.defaultTemplate;
    return [{ template, destination: flags.out && at(cwd, flags.out), prefixes: globalPrefixes.map(normalize), haproxy: true }];
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
      haproxy: r.haproxy ?? true,
    };
  });
}
