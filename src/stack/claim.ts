import { NO_ROUTE_BACKEND } from '../config/stack-settings.js';
import type { StackSettings } from '../config/types.js';
import { parseRoutes, routeKey, type Route } from '../values/routes.js';
import { isServerName } from '../values/server.js';
import type { SkippedEntry } from '../values/servers.js';
import { readControl, type Control } from './control.js';

interface Pair {
  key: string;
  value: string;
}

export interface StackRoute extends Route {
  service: string;
  /** Where it was given: a key, or the config file. */
  from: string;
}

/** What routes come to: each held by one service, in key order (the order of the map files), and the apps routed to that have no server. */
interface Claimed {
  routes: StackRoute[];
  routedAway: string[];
}

/**
 * The routes a stack's route keys (`<control>/routes/<app>`, and only those) give, for the apps
 * it has, with the entries they leave out: a route change changes nothing else.
 */
export function stackRoutes(routePairs: readonly Pair[], settings: StackSettings, apps: ReadonlySet<string>): Claimed & { skipped: SkippedEntry[] } {
  const skipped = new Map<string, string[]>();
  const skip = (key: string, reason: string) => skipped.set(key, [...(skipped.get(key) ?? []), reason]);
  const control = readControl(routePairs, settings.control, skip);
  const claimed = claimRoutes(settings, control.routes, new Set(apps), skip);
  return { ...claimed, skipped: [...skipped].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, reasons]) => ({ key, reason: reasons.join('; ') })) };
}

/**
 * The routes, each held by one service: the config file's first, then the store's in key order;
 * a route already held is left out, named. The routes of an app with no server (gone, or a typo)
 * go to the 404 backend where no app holds them, so a request for them never falls through to
 * a shorter route of another app.
 */
export function claimRoutes(settings: StackSettings, entries: Control['routes'], apps: Set<string>, skip: (key: string, reason: string) => void): Claimed {
  // By route key, each made once: the routes come out sorted by it.
  const held = new Map<string, StackRoute>();
  const claim = (route: Route, at: string, service: string, from: string): string | undefined => {
    const owner = held.get(at);
    if (!owner) held.set(at, { ...route, service, from });
    else if (owner.service !== service) return `route "${at}" is already routed to ${owner.service} (by ${owner.from})`;
    return undefined;
  };
  for (const s of settings.services) for (const r of s.routes) claim(r, routeKey(r), s.name, 'the config file');
  const away: typeof entries = [];
  for (const { key, app, value } of entries) {
    if (!apps.has(app)) {
      const where = settings.apps ? `${settings.apps}/${app}/` : 'the apps prefix';
      const named = isServerName(app);
      skip(
        key,
        `no app "${app.slice(0, 80)}": nothing under ${where} and no such service in the config file${named ? ': its routes answer 404 until it has servers' : ''}`,
      );
      if (named) away.push({ key, app, value });
      continue;
    }
    const { routes, keys, problems } = routesOf(value);
    for (const p of problems) skip(key, p);
    for (let i = 0; i < routes.length; i++) {
      const taken = claim(routes[i]!, keys[i]!, app, key);
      if (taken) skip(key, taken);
    }
  }
  for (const { key, value } of away) {
    const { routes, keys } = routesOf(value);
    for (let i = 0; i < routes.length; i++) if (!held.has(keys[i]!)) claim(routes[i]!, keys[i]!, NO_ROUTE_BACKEND, key);
  }
  return {
    routes: [...held.keys()].sort().map((at) => held.get(at)!),
    routedAway: [...new Set(away.map((a) => a.app))],
  };
}

/** How much text routesOf keeps parsed (UTF-16 units: values, route keys, problems); past it, it starts again. A longer value is parsed each time. */
const KEPT_UNITS = 256 * 1024;
const LONGEST_KEPT = 4096;
const parsedValues = new Map<string, ParsedRoutes>();
let keptUnits = 0;

/**
 * parseRoutes of a value, with each route's key: once per value while it is kept, as a stack's
 * route keys change one at a time and the others are read again. What it gives is shared: never
 * changed.
 */
function routesOf(value: string): ParsedRoutes {
  const found = parsedValues.get(value);
  if (found) return found;
  if (value.length > LONGEST_KEPT) return parsed(value);
  // Kept as a copy of its own, and parsed from it: a value cut from a larger text (the lines of a
  // file: store) is a view that would keep that whole text, and each of its versions, while kept.
  const own = ` ${value}`.slice(1);
  const made = parsed(own);
  const units = own.length + made.keys.reduce((n, k) => n + k.length, 0) + made.problems.reduce((n, p) => n + p.length, 0);
  if (keptUnits + units > KEPT_UNITS) {
    parsedValues.clear();
    keptUnits = 0;
  }
  parsedValues.set(own, made);
  keptUnits += units;
  return made;
}

function parsed(value: string): ParsedRoutes {
  const { routes, problems } = parseRoutes(value);
  return { routes, problems, keys: routes.map(routeKey) };
}

interface ParsedRoutes {
  readonly routes: readonly Route[];
  readonly keys: readonly string[];
  readonly problems: readonly string[];
}
