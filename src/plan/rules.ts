import type { Settings } from '../config/settings.js';
import { rejectedError, type OccsError } from '../errors.js';
import { countServers } from '../haproxy/config-sections.js';
import { printable } from '../log.js';
import type { RenamedEntry, SkippedEntry } from '../values/servers.js';
import { shown } from '../values/shown.js';
import { serverCountsOf, type EmptyPrefix, type RenderedResource } from './render.js';

/**
 * The rules a store's answer must meet, each written and worded once, for every command:
 * `--strict` (no entry may be skipped) and `--min-servers` (no backend thinner than that).
 */

/** The line that names one skipped entry and why (a log line, or a report's finding); a long key is shortened. */
export const skippedLine = (s: SkippedEntry): string => `skipped ${shown(s.key)}: ${s.reason}`;

/** The same for an entry --strict refuses: it fails the run instead of being left out. */
export const rejectedLine = (s: SkippedEntry): string => `rejected ${shown(s.key)} by --strict: ${s.reason}`;

/** The line that says a server got another name than its key's. */
export const renamedLine = (r: RenamedEntry): string => `server name "${r.from}" of ${r.key} is not [A-Za-z0-9._:-]+; using "${r.to}"`;

/** The fields of a log line about one entry: its key as messages show it. */
export const entryFields = (s: SkippedEntry): { key: string; reason: string } => ({ key: shown(s.key), reason: s.reason });

/** The warning for a prefix that holds no keys: which, at which store, and the likely cause. */
export function emptyPrefixLine(store: string, empty: EmptyPrefix): string {
  const hint = empty.near ? `did you mean "${empty.near}"?` : 'a typo in --prefix or OCCS_BACKEND_KEY?';
  return `prefix "${empty.prefix}" holds no keys at ${store}: a backend it fills has no servers (${hint})`;
}

/** `--strict`: an answer with skipped entries is refused (exit 5), every entry listed. */
export function strictRefusal(settings: Readonly<Settings>, skipped: readonly SkippedEntry[]): OccsError | undefined {
  if (!settings.strict || skipped.length === 0) return undefined;
  return rejectedError('ENTRIES_REJECTED', `${skipped.length} key/value ${skipped.length === 1 ? 'entry was' : 'entries were'} rejected (--strict)`, {
    hint: 'fix or delete the entries, or drop --strict to skip them with a warning',
    detail: skipped.map((s) => `  ${printable(shown(s.key))}: ${s.reason}`).join('\n'),
  });
}

/** A backend with fewer servers than `--min-servers`. */
export interface Shortfall {
  backend: string;
  servers: number;
  min: number;
}

/** The backends below `--min-servers` (none when it is 0). */
export function shortfalls(backends: Readonly<Record<string, number>>, min: number): Shortfall[] {
  // Backend by backend, not through [name, count] arrays: each costs an iterator without an optimizing compiler (src/util/memory.ts).
  const out: Shortfall[] = [];
  for (const backend of Object.keys(backends)) if (backends[backend]! < min) out.push({ backend, servers: backends[backend]!, min });
  return out;
}

const servers = (n: number) => `${n} server${n === 1 ? '' : 's'}`;

/** A config that is too thin, as `validate` reports it. */
export const shortfallFinding = (s: Shortfall): string => `backend ${s.backend} has ${servers(s.servers)}, fewer than --min-servers ${s.min}`;

/** A store answer that would make a backend too thin: refused, the installed config stays. */
export function minServersRefusal(found: readonly Shortfall[]): OccsError | undefined {
  if (found.length === 0) return undefined;
  const which = found.map((s) => `backend ${s.backend} would have ${servers(s.servers)}`).join(', ');
  return rejectedError('MIN_SERVERS', `refused the store's answer: ${which}, fewer than --min-servers ${found[0]!.min}`, {
    hint: 'the installed config stays until the store holds enough servers again',
  });
}

/** Stack mode: the default service asked for, when no app has that name. */
export function missingDefaultLine(resources: ReadonlyArray<{ stack?: { missingDefault?: string } }>): string | undefined {
  const missing = resources.find((r) => r.stack?.missingDefault)?.stack?.missingDefault;
  return missing && `the default service "${missing}" is no app: requests no route matches get a 404 until it appears`;
}

/** How many servers the HAProxy configs hold: those of a rendering, or those installed. */
const total = (backends: Readonly<Record<string, number>>) => Object.values(backends).reduce((sum, n) => sum + n, 0);

/**
 * A store answer that leaves no server in any backend while HAProxy serves some: a store restored
 * empty, or a prefix that lost every key, would take every app down at once. Held (the installed
 * config stays) unless watch is told such an answer is meant (--allow-empty). `installed`: what
 * HAProxy runs at each destination.
 */
export function everyServerGone(
  settings: Readonly<Settings>,
  rendering: {
    backends: Readonly<Record<string, number>>;
    resources: ReadonlyArray<Pick<RenderedResource, 'text' | 'stack'> & { resource: { haproxy: boolean } }>;
  },
  installed: ReadonlyMap<string, string | undefined>,
): OccsError | undefined {
  if (settings.watch.allowEmpty || total(rendering.backends) > 0) return undefined;
  // Two configs may name a backend alike (two resources on one template): count each one's own.
  if (rendering.resources.some((r) => r.resource.haproxy && total(serverCountsOf(r)) > 0)) return undefined;
  let serving = 0;
  for (const r of settings.resources) {
    const text = r.haproxy ? installed.get(r.destination!) : undefined;
    if (text) serving += total(countServers(text));
  }
  if (serving === 0) return undefined;
  return rejectedError('EVERY_SERVER_GONE', `held the store's answer: it leaves no server in any backend, where HAProxy serves ${servers(serving)}`, {
    hint: 'HAProxy keeps them until the store holds servers again (a store restored empty? a prefix that lost its keys?); pass --allow-empty if emptying every backend is meant',
  });
}

/**
 * Why an entry was skipped, as a metric label: what kind of entry it is (a server, stack mode's
 * app names, routes, weights and states, an unknown control key) and, for routes, what was wrong.
 */
export function skipKind(entry: SkippedEntry, stack?: Settings['stack'], certDir?: string): string {
  if (certDir && entry.key.startsWith(`${certDir}/`)) return 'invalid_certificate';
  if (!stack) return 'invalid_server';
  const control = `/${stack.control}/`;
  if (entry.key.startsWith(control)) {
    const kind = entry.key.slice(control.length).split('/')[0];
    if (kind === 'routes')
      return entry.reason.startsWith('no app') ? 'unknown_app' : entry.reason.includes('is already routed') ? 'route_taken' : 'invalid_route';
    if (kind === 'weights') return 'invalid_weight';
    if (kind === 'state') return 'invalid_state';
    if (kind === 'tls') return 'invalid_tls_policy';
    if (kind === 'certs') return 'invalid_certificate';
    return 'unknown_key';
  }
  const apps = stack.apps === undefined ? undefined : `/${stack.apps}/`;
  if (apps && entry.key.startsWith(apps) && !entry.key.slice(apps.length).includes('/')) return 'invalid_app';
  return 'invalid_server';
}
