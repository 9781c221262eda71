import { isIPv4 } from './ip.js';
import { isHostname, type Parsed } from './server.js';

/**
 * What a service serves: a host (exact, lower-cased) with a path prefix, or a path prefix on any
 * host. `example.com` is `example.com/`: every path of that host.
 */
export interface Route {
  host?: string;
  path: string;
}

/** The key of a route in its map: `host/path` (the host map) or `/path` (the any-host map). */
export const routeKey = (r: Route): string => `${r.host ?? ''}${r.path}`;

/** What a path prefix may hold: unreserved characters, `%`-escapes, `:`, `@`, `,` and `/`; never a space, `#`, `;`, `?` or a quote. */
const PATH = /^\/[A-Za-z0-9._~%:@,/-]*$/;
const MAX_PATH = 1024;

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

function parsePath(path: string): Parsed<string> {
  if (path.length > MAX_PATH) return fail(`its path is longer than ${MAX_PATH} characters`);
  if (/%(?![0-9A-Fa-f]{2})/.test(path)) return fail('its path holds a "%" that is not an escape such as %2F');
  if (PATH.test(path)) return { ok: true, value: path };
  if (path.includes('?')) return fail('a path prefix cannot hold a query ("?")');
  const bad = /[^A-Za-z0-9._~%:@,/-]/u.exec(path)![0];
  const shown = /^[\x21-\x7e]$/.test(bad) ? `"${bad}"` : `U+${bad.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return fail(`its path holds ${shown}: a path prefix is letters, digits and . _ ~ % : @ , - /`);
}

function parseHost(host: string): Parsed<string> {
  const lower = host.toLowerCase();
  if (lower.startsWith('[')) return fail('IPv6 hosts are not supported: route by name, or by path on any host');
  if (lower.includes(':')) return fail('it names a port: requests are matched by host with the port stripped, so give the host alone');
  if (lower.includes('*')) return fail('wildcard hosts are not supported: list each host');
  if (!isHostname(lower) && !isIPv4(lower)) return fail(`"${host.slice(0, 80)}" is not a host name`);
  return { ok: true, value: lower };
}

/** One route as written: `host`, `host/path…` or `/path…`. */
export function parseRoute(text: string): Parsed<Route> {
  if (text.startsWith('/')) {
    const path = parsePath(text);
    return path.ok ? { ok: true, value: { path: path.value } } : path;
  }
  const slash = text.indexOf('/');
  const host = parseHost(slash < 0 ? text : text.slice(0, slash));
  if (!host.ok) return host;
  const path = slash < 0 ? { ok: true as const, value: '/' } : parsePath(text.slice(slash));
  return path.ok ? { ok: true, value: { host: host.value, path: path.value } } : path;
}

/** A route value: routes separated by spaces, tabs or line breaks. Each bad one is named with its reason. */
export function parseRoutes(value: string): { routes: Route[]; problems: string[] } {
  const words = value.split(/[ \t\r\n]+/).filter(Boolean);
  if (words.length === 0) return { routes: [], problems: ['holds no route: give hosts and paths such as "www.example.com example.com/api"'] };
  const routes: Route[] = [];
  const problems: string[] = [];
  for (const word of words) {
    const parsed = parseRoute(word);
    const shown = JSON.stringify(word.length > 80 ? `${word.slice(0, 80)}…` : word);
    if (parsed.ok) routes.push(parsed.value);
    else problems.push(`route ${shown}: ${parsed.reason}`);
  }
  return { routes, problems };
}

/** HAProxy's server weights: 0 (no new sessions) to 256. */
export const MAX_WEIGHT = 256;

export function parseWeight(value: string): Parsed<number> {
  if (!/^\d{1,3}$/.test(value) || Number(value) > MAX_WEIGHT)
    return fail(`weight ${JSON.stringify(value.slice(0, 40))} is not a whole number from 0 to ${MAX_WEIGHT}`);
  return { ok: true, value: Number(value) };
}

/** ready: takes traffic; drain: no new sessions, those open finish; maint: takes nothing. */
export const SERVER_STATES = ['ready', 'drain', 'maint'] as const;
export type ServerState = (typeof SERVER_STATES)[number];

export function parseServerState(value: string): Parsed<ServerState> {
  const state = SERVER_STATES.find((s) => s === value);
  return state ? { ok: true, value: state } : fail(`state ${JSON.stringify(value.slice(0, 40))} is not one of ${SERVER_STATES.join(', ')}`);
}
