import { basename, dirname, join } from 'node:path';
import { usageError } from '../errors.js';
import { parseRoute, type Route } from '../values/routes.js';
import { isServerName, nameTooLong } from '../values/server.js';
import { invalid, pick, type Layers } from './layers.js';
import type { Flags, LoadedFile, ServiceSpec, StackSettings } from './types.js';

/** The backend of the stack template that answers 404 to requests no route matches. */
export const NO_ROUTE_BACKEND = 'occs_lb_no_route';

/** The names the stack template gives its own sections: no app may take them. */
export const RESERVED_NAMES: readonly string[] = ['stats', 'main', NO_ROUTE_BACKEND];

/** A health-check path, as a route's path is written. */
const CHECK_PATH = /^\/[A-Za-z0-9._~%:@,/-]*$/;

/** Where the map files go: beside the config, named after it (`haproxy.cfg` → `haproxy.hosts.map`, `haproxy.paths.map`). */
export function mapPaths(config: string): StackSettings['maps'] {
  const stem = basename(config).replace(/\.cfg$/, '');
  const at = (kind: string) => join(dirname(config), `${stem}.${kind}.map`);
  const maps = { hosts: at('hosts'), paths: at('paths') };
  if (!/^\/[A-Za-z0-9._/-]+$/.test(maps.hosts)) {
    throw usageError(`stack mode writes its map files beside the config, at ${maps.hosts}, a path HAProxy's runtime API cannot name`, {
      hint: 'install the config at a path of letters, digits, ".", "_", "-" and "/" (--out or --haproxy-config)',
    });
  }
  return maps;
}

/**
 * Stack mode's settings but the map paths (which follow from where the config goes), or undefined
 * when neither --stack nor the config file's `stack` asks for it.
 */
export function resolveStack(
  flags: Flags,
  from: Layers,
  file: LoadedFile | undefined,
  normalize: (prefix: string) => string,
  balances: readonly string[],
): Omit<StackSettings, 'maps'> | undefined {
  const spec = file?.config.stack;
  const apps = pick(from.flag('stack', flags.stack), spec?.apps === undefined ? undefined : { value: spec.apps, from: 'stack.apps', base: '' });
  if (!apps && !spec) {
    for (const [flag, value] of [
      ['--control-prefix', flags.controlPrefix],
      ['--default-service', flags.defaultService],
    ] as const) {
      if (value !== undefined)
        throw usageError(`${flag} is a setting of stack mode`, { hint: 'turn stack mode on with --stack PREFIX (or the config file\'s "stack")' });
    }
    return undefined;
  }
  if (flags.prefix?.length || file?.config.resources) {
    throw usageError(
      `stack mode renders one config from the apps it finds, so ${flags.prefix?.length ? '--prefix' : 'the config file\'s "resources"'} has no place in it`,
      {
        hint: 'give the apps prefix with --stack (or list services in the config file\'s "stack")',
      },
    );
  }
  const where = (key: string) => `${file ? basename(file.path) : 'config file'}: stack.${key}`;
  const services = (spec?.services ?? []).map((s, i) => resolveService(s, where(`services[${i}]`), normalize, balances));
  const names = services.map((s) => s.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw invalid(where('services'), `lists the service "${twice}" twice`);
  if (!apps && services.length === 0)
    throw invalid(where('apps'), 'stack mode needs an apps prefix or services', 'give --stack PREFIX, "stack.apps" or "stack.services"');
  const control = pick(
    from.flag('control-prefix', flags.controlPrefix),
    spec?.control === undefined ? undefined : { value: spec.control, from: where('control'), base: '' },
  );
  const fallback = pick(
    from.flag('default-service', flags.defaultService),
    spec?.defaultService === undefined ? undefined : { value: spec.defaultService, from: where('defaultService'), base: '' },
  );
  if (fallback && !isServerName(fallback.value)) {
    const long = nameTooLong(fallback.value);
    throw invalid(fallback.from, long ? `the default service's name ${long}` : `"${fallback.value}" is not an app name`);
  }
  return {
    apps: apps && normalize(apps.value),
    control: normalize(control?.value ?? 'lb'),
    services,
    defaultService: fallback?.value,
  };
}

type ServiceInput = NonNullable<NonNullable<LoadedFile['config']['stack']>['services']>[number];

function resolveService(s: ServiceInput, at: string, normalize: (prefix: string) => string, balances: readonly string[]): ServiceSpec {
  const long = nameTooLong(s.name);
  if (long) throw invalid(`${at}.name`, `the service name ${long}`);
  if (!isServerName(s.name) || RESERVED_NAMES.includes(s.name)) {
    throw invalid(`${at}.name`, `"${s.name}" cannot name a backend`, `use letters, digits, ".", "_", ":" or "-", and none of ${RESERVED_NAMES.join(', ')}`);
  }
  const routes: Route[] = (s.routes ?? []).map((text, j) => {
    const parsed = parseRoute(text);
    if (!parsed.ok) throw invalid(`${at}.routes[${j}]`, `route ${JSON.stringify(text)}: ${parsed.reason}`);
    return parsed.value;
  });
  if (s.balance !== undefined && !balances.includes(s.balance)) throw invalid(`${at}.balance`, `"${s.balance}" is not one of ${balances.join(', ')}`);
  if (typeof s.check === 'string' && !CHECK_PATH.test(s.check)) throw invalid(`${at}.check`, `"${s.check}" is not a path such as /health`);
  return { name: s.name, prefix: normalize(s.prefix), routes, balance: s.balance, check: s.check === true ? undefined : s.check };
}
