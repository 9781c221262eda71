import { RESERVED_NAMES } from '../config/stack-settings.js';
import type { StackSettings } from '../config/types.js';
import type { ServerState } from '../values/routes.js';
import type { ServerAddress } from '../values/server.js';
import { isServerName, nameTooLong } from '../values/server.js';
import { parseServersAs, type RenamedEntry, type ServerEntry, type SkippedEntry } from '../values/servers.js';
import { claimRoutes, type StackRoute } from './claim.js';
import { readControl, type Control } from './control.js';
import { pairsStarting, prefixRange } from '../kv/merged-pairs.js';
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

/** The pairs (sorted by key) directly in the directory `dir` (ending in `/`): not in a directory below it. */
function directlyIn(pairs: readonly Pair[], dir: string): readonly Pair[] {
  const run = pairsStarting(pairs, dir);
  for (let i = 0; i < run.length; i++) if (run[i]!.key.indexOf('/', dir.length) >= 0) return run.filter((p) => p.key.indexOf('/', dir.length) < 0);
  return run;
}

/**
 * Reads a stack from a snapshot's pairs (keys start with `/`, sorted by key as a snapshot's are): every app under the apps prefix and every
 * service of the config file, each with the servers directly under its prefix; their weights and
 * states; and the routes. Every entry is parsed strictly: a bad one is left out with its key and
 * the reason, and nothing in a value reaches the config but a checked host, path, weight or state.
 */
export function buildStack(pairs: readonly Pair[], settings: StackSettings, balance: string, https = false): Stack {
  const skipped = new Map<string, string[]>();
  const skip = (key: string, reason: string) => skipped.set(key, [...(skipped.get(key) ?? []), reason]);
  const prefixes = appPrefixes(pairs, settings, skip);
  const control = readControl(pairsStarting(pairs, `/${settings.control}/`), settings.control, skip);
  const httpsOff = (key: string) => skip(key, 'HTTPS is off: serve it with --https-port PORT');
  const renamed: RenamedEntry[] = [];
  // Apps some weight or state names: the others' servers are not looked up (each lookup makes an `app/server` string).
  const controlled = new Set<string>();
  for (const id of control.weights.keys()) controlled.add(id.slice(0, id.indexOf('/')));
  for (const id of control.states.keys()) controlled.add(id.slice(0, id.indexOf('/')));
  const services: StackService[] = [...prefixes].map(([name, prefix]) => {
    const spec = settings.services.find((s) => s.name === name);
    const list = parseServersAs(directlyIn(pairs, `/${prefix}/`), serverOf(name, controlled.has(name) ? control : undefined));
    for (const s of list.skipped) skip(s.key, s.reason);
    renamed.push(...list.renamed);
    return { name, prefix, servers: list.servers, balance: spec?.balance ?? balance, check: spec?.check ?? '/' };
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

/** A server of `app` as stack mode renders it: its weight and state from `control` (none: the defaults), 0 while draining. */
function serverOf(app: string, control: Control | undefined) {
  return (key: string, name: string, address: ServerAddress, base: string): StackServer => {
    let state: ServerState = 'ready';
    let weight = DEFAULT_WEIGHT;
    if (control) {
      const id = `${app}/${base}`;
      state = control.states.get(id) ?? state;
      weight = control.weights.get(id) ?? weight;
    }
    // Field by field, not `...address`: a spread cost 2–3 ms of a 10 ms full render at 100 × 100 (measured under watch's flags).
    // A field added to ServerAddress fails to compile here, as a StackServer would lack it.
    return {
      key,
      name,
      host: address.host,
      port: address.port,
      address: address.address,
      hostname: address.hostname,
      state,
      weight: state === 'drain' ? 0 : weight,
    };
  };
}

/** Each app's server prefix, by name: the apps found under the apps prefix, then the config file's services (which win). */
function appPrefixes(pairs: readonly Pair[], settings: StackSettings, skip: (key: string, reason: string) => void): Map<string, string> {
  const prefixes = new Map<string, string>();
  if (settings.apps) {
    const start = `/${settings.apps}/`;
    const refused = new Set<string>();
    // An app's keys are one run of the sorted pairs: each app is read at its first key, and the rest of its run skipped.
    const [from, to] = prefixRange(pairs, start);
    for (let i = from; i < to;) {
      const key = pairs[i]!.key;
      const slash = key.indexOf('/', start.length);
      i = slash < 0 ? i + 1 : Math.max(i + 1, prefixRange(pairs, key.slice(0, slash + 1))[1]);
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
