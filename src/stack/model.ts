import { RESERVED_NAMES } from '../config/stack-settings.js';
import type { StackSettings } from '../config/types.js';
import { parseServerState, parseWeight, type Route, type ServerState } from '../values/routes.js';
import { isServerName, nameTooLong } from '../values/server.js';
import { holdsPrivateKey, PRIVATE_KEY_ELSEWHERE } from '../values/shown.js';
import { parseServers, type RenamedEntry, type ServerEntry, type SkippedEntry } from '../values/servers.js';
import { claimRoutes } from './claim.js';
import { parseTlsPolicy, type TlsPolicy } from '../tls/policy.js';

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

export interface StackRoute extends Route {
  service: string;
  /** Where it was given: a key, or the config file. */
  from: string;
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

/** Why a name in a control key is too long (it could name no app or server), or undefined. */
function overlong(what: 'app' | 'server', name: string | undefined): string | undefined {
  const long = name === undefined ? undefined : nameTooLong(name);
  return long && `${what} name ${long}`;
}

export interface Control {
  /** `app/server` → weight or state. */
  weights: Map<string, number>;
  states: Map<string, ServerState>;
  /** `routes/<app>` entries, in key order. */
  routes: Array<{ key: string; app: string; value: string }>;
  /** `tls/<app>` and `certs/<name>` entries, in key order. */
  tls: Array<{ key: string; app: string; value: string }>;
  certs: Array<{ key: string; name: string; value: string }>;
}

/** The control prefix's entries: `routes/<app>`, `weights/<app>/<server>`, `state/<app>/<server>`; anything else is left out, named. */
export function readControl(pairs: readonly Pair[], control: string, skip: (key: string, reason: string) => void): Control {
  const out: Control = { weights: new Map(), states: new Map(), routes: [], tls: [], certs: [] };
  const start = `/${control}/`;
  for (const { key, value } of pairs) {
    if (!key.startsWith(start)) continue;
    const [kind, app, server, ...more] = key.slice(start.length).split('/');
    const shape = (want: string) => skip(key, `expected ${control}/${want}`);
    const long = (kind === 'routes' || kind === 'weights' || kind === 'state' || kind === 'tls') && (overlong('app', app) ?? overlong('server', server));
    // A bundle stored under a route or a weight: not a word of its key may become a route, nor be quoted.
    if (kind !== 'certs' && holdsPrivateKey(value)) skip(key, PRIVATE_KEY_ELSEWHERE);
    else if (long) skip(key, long);
    else if (kind === 'certs') {
      if (!app || server !== undefined) shape('certs/<name>');
      else out.certs.push({ key, name: app, value });
    } else if (kind === 'tls') {
      if (!app || server !== undefined) shape('tls/<app>');
      else out.tls.push({ key, app, value });
    } else if (kind === 'routes') {
      if (!app || server !== undefined) shape('routes/<app>');
      else out.routes.push({ key, app, value });
    } else if (kind === 'weights' || kind === 'state') {
      if (!app || !server || more.length > 0) {
        shape(`${kind}/<app>/<server>`);
        continue;
      }
      const parsed = kind === 'weights' ? parseWeight(value) : parseServerState(value);
      if (!parsed.ok) skip(key, parsed.reason);
      else if (kind === 'weights') out.weights.set(`${app}/${server}`, parsed.value as number);
      else out.states.set(`${app}/${server}`, parsed.value as ServerState);
    } else skip(key, `is not a route, weight, state, TLS policy or certificate: expected ${control}/routes/, weights/, state/, tls/ or certs/`);
  }
  return out;
}
