import { RESERVED_NAMES } from '../config/stack-settings.js';
import type { StackSettings } from '../config/types.js';
import type { ServerState } from '../values/routes.js';
import { isServerName, nameTooLong } from '../values/server.js';
import { parseServers, type RenamedEntry, type ServerEntry, type SkippedEntry } from '../values/servers.js';
import { claimRoutes, type StackRoute } from './claim.js';
import { readControl } from './control.js';
import { parseTlsPolicy, type TlsPolicy } from '../tls/policy.js';

export type { StackRoute } from './claim.js';

/** A server's weight when no `weights/` key gives one: so 10 is a tenth of a share beside the others. */
export const DEFAULT_WEIGHT = 100;

export interface StackServer extends ServerEntry {
  /** What HAProxy is given: the weight key's (or DEFAULT_WEIGHT), 0 while draining. */
  weight: number;
  state: ServerState;
}

export interface StackService {
  name: string;
  /** Where its servers are: the keys directly under it. */
  prefix: string;
  servers: StackServer[];
  balance: string;
  /** The health-check path, or false for none. */
  check: string | false;
}

/** Everything stack mode renders: the services, the routes, and the entries it left out (each with its key). */
export interface Stack {
  services: StackService[];
  /** In key order: the order of the map files. */
  routes: StackRoute[];
  /** The app for requests no route matches, when it is one of the services. */
  defaultService?: string;
  /** The default service asked for, when no app has that name (requests no route matches then get a 404). */
  missingDefault?: string;
  /** Apps a route key names that have no server (all gone, or never there): `--min-servers` counts each as a backend with none. */
  routedAway: string[];
  maps: StackSettings['maps'];
  skipped: SkippedEntry[];
  renamed: RenamedEntry[];
  /** HTTPS policies of apps (`<control>/tls/<app>`), by app. */
  tls: Map<string, TlsPolicy>;
  /** Certificate bundles in the store (`<control>/certs/<name>`), unchecked: src/tls/certs.ts checks them. */
  certs: Array<{ key: string; name: string; value: string }>;
}

interface Pair {
  key: string;
  value: string;
}

const lastSegment = (key: string) => key.slice(key.lastIndexOf('/') + 1);

/**
 * Reads a stack from a snapshot (keys start with `/`): every app under the apps prefix and every
 * service of the config file, each with the servers directly under its prefix; their weights and
 * states; and the routes. Every entry is parsed strictly: a bad one is left out with its key and
 * the reason, and nothing in a value reaches the config but a checked host, path, weight or state.
 */
export function buildStack(pairs: readonly Pair[], settings: StackSettings, balance: string, https = false): Stack {
  const skipped = new Map<string, string[]>();
  const skip = (key: string, reason: string) => skipped.set(key, [...(skipped.get(key) ?? []), reason]);
  const byDirectory = new Map<string, Pair[]>();
  for (const p of pairs) {
    const dir = p.key.slice(0, p.key.lastIndexOf('/'));
    const list = byDirectory.get(dir);
    if (list) list.push(p);
    else byDirectory.set(dir, [p]);
  }

  const prefixes = appPrefixes(pairs, settings, skip);
  const control = readControl(pairs, settings.control, skip);
  const httpsOff = (key: string) => skip(key, 'HTTPS is off: serve it with --https-port PORT');
  const renamed: RenamedEntry[] = [];
  const services: StackService[] = [...prefixes].map(([name, prefix]) => {
    const spec = settings.services.find((s) => s.name === name);
    const list = parseServers(byDirectory.get(`/${prefix}`) ?? []);
    for (const s of list.skipped) skip(s.key, s.reason);
    renamed.push(...list.renamed);
    const servers = list.servers.map((s): StackServer => {
      const id = `${name}/${lastSegment(s.key)}`;
      const state = control.states.get(id) ?? 'ready';
      return { ...s, state, weight: state === 'drain' ? 0 : (control.weights.get(id) ?? DEFAULT_WEIGHT) };
    });
    return { name, prefix, servers, balance: spec?.balance ?? balance, check: spec?.check ?? '/' };
  });

  const { routes, routedAway } = claimRoutes(settings, control.routes, new Set(prefixes.keys()), skip);
  const fallback = settings.defaultService;
  const tls = new Map<string, TlsPolicy>();
  for (const { key, app, value } of control.tls) {
    const parsed = parseTlsPolicy(value);
    if (!https) httpsOff(key);
    else if (!prefixes.has(app))
      skip(
        key,
        `no app "${app.slice(0, 80)}": nothing under ${settings.apps ?? 'the apps prefix'}/${app.slice(0, 80)}/ and no such service in the config file`,
      );
    else if (!parsed.ok) skip(key, parsed.reason);
    else tls.set(app, parsed.value);
  }
  if (!https) for (const { key } of control.certs) httpsOff(key);
  return {
    services,
    routes,
    defaultService: fallback && prefixes.has(fallback) ? fallback : undefined,
    missingDefault: fallback && !prefixes.has(fallback) ? fallback : undefined,
    routedAway,
    maps: settings.maps,
    skipped: [...skipped].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, reasons]) => ({ key, reason: reasons.join('; ') })),
    renamed,
    tls,
    certs: https ? control.certs : [],
  };
}

/** Each app's server prefix, by name: the apps found under the apps prefix, then the config file's services (which win). */
function appPrefixes(pairs: readonly Pair[], settings: StackSettings, skip: (key: string, reason: string) => void): Map<string, string> {
  const prefixes = new Map<string, string>();
  if (settings.apps) {
    const start = `/${settings.apps}/`;
    const refused = new Set<string>();
    for (const { key } of pairs) {
      if (!key.startsWith(start)) continue;
      const slash = key.indexOf('/', start.length);
      const app = key.slice(start.length, slash);
      if (slash < 0 || !app || prefixes.has(app) || refused.has(app)) continue;
      if (isServerName(app) && !RESERVED_NAMES.includes(app)) prefixes.set(app, `${settings.apps}/${app}/containers`);
      else {
        refused.add(app);
        const long = nameTooLong(app);
        const why = isServerName(app) ? `is the name of a section of the stack's config` : 'cannot name a backend: use letters, digits, ".", "_", ":" or "-"';
        skip(`${start}${app}`, long ? `app name ${long}` : `app "${app.slice(0, 80)}" ${why}`);
      }
    }
  }
  for (const s of settings.services) prefixes.set(s.name, s.prefix);
  return prefixes;
}
