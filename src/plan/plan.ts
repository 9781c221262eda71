import type { Settings } from '../config/settings.js';
import { NO_ROUTE_BACKEND } from '../config/stack-settings.js';
import type { OccsError } from '../errors.js';
import { diffConfigs, type BackendChanges } from '../haproxy/config-diff.js';
import { countServers } from '../haproxy/config-sections.js';
import { mapEntries } from '../haproxy/map-file.js';
import type { MapChange } from '../haproxy/runtime-maps.js';
import type { KvSnapshot } from '../kv/source.js';
import type { CompiledTemplate } from '../template/engine.js';
import type { RenamedEntry, SkippedEntry } from '../values/servers.js';
import { emptyPrefixes, renderResources, type EmptyPrefix, type RenderedResource } from './render.js';
import { minServersRefusal, shortfalls, strictRefusal, type Shortfall } from './rules.js';

/** What one snapshot renders to, and what the rules say of it: all a plan needs but what is installed. */
export interface Rendering {
  resources: RenderedResource[];
  skipped: SkippedEntry[];
  renamed: RenamedEntry[];
  /** Prefixes that hold no key at all. */
  emptyPrefixes: EmptyPrefix[];
  /** Servers per backend in the rendered HAProxy configs. */
  backends: Record<string, number>;
  /** `--strict` refuses the answer (entries were skipped). */
  strict?: OccsError;
  /** Backends below `--min-servers`. */
  shortfalls: Shortfall[];
}

/**
 * What to do with a rendering, given what is installed: nothing; install files HAProxy does not
 * read; apply server changes through the runtime API (then install the file); or install and
 * reload, with the reason a reload is needed.
 */
export type Change =
  | { kind: 'none' }
  | { kind: 'files'; files: RenderedResource[] }
  | {
      kind: 'runtime';
      files: RenderedResource[];
      backends: BackendChanges[];
      /** Map files (stack mode's routes) to swap whole. */
      maps: MapChange[];
      /** No server removed: cheap, so the quiescence window may be skipped. */
      immediate: boolean;
    }
  | { kind: 'reload'; files: RenderedResource[]; reason: string };

export interface DecideOptions {
  /** Why the change must reload even if nothing changed (SIGHUP, or HAProxy may not run the files); none: not forced. */
  force?: string;
  /** Whether the runtime API may be used (--runtime-api, and HAProxy offers one). */
  runtime: boolean;
}

/** Renders a snapshot (once: the only template run a store change costs) and applies the rules. Pure. */
export function renderSnapshot(settings: Readonly<Settings>, templates: ReadonlyMap<string, CompiledTemplate>, snapshot: KvSnapshot): Rendering {
  const resources = renderResources(settings, templates, snapshot);
  const skipped = resources.flatMap((r) => r.diagnostics.skipped);
  const backends: Record<string, number> = {};
  for (const r of resources.filter((x) => x.resource.haproxy)) Object.assign(backends, countServers(r.text));
  // Stack mode's 404 backend answers by itself: it has no servers by design.
  if (settings.stack) delete backends[NO_ROUTE_BACKEND];
  return {
    resources,
    skipped,
    renamed: resources.flatMap((r) => r.diagnostics.renamed),
    // The control prefix of stack mode is empty until a route, weight or state is set: nothing is missing.
    emptyPrefixes: emptyPrefixes(settings.resources, snapshot).filter((e) => e.prefix !== settings.stack?.control),
    backends,
    strict: strictRefusal(settings, skipped),
    shortfalls: shortfalls({ ...gone(resources, settings.stack?.apps), ...backends }, settings.minServers),
  };
}

/**
 * Stack mode's backends that are not there, for `--min-servers`: an app a route names that has
 * no server left, and any app at all when there is none (the store lost the apps prefix).
 */
export function gone(resources: readonly RenderedResource[], apps = 'apps'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { stack } of resources) {
    for (const app of stack?.routedAway ?? []) out[app] = 0;
    if (stack?.services.length === 0) out[`${apps}/*`] = 0;
  }
  return out;
}

/** Why a rendering must not be installed at all (`--strict`, then `--min-servers`), if it must not. */
export function refusalOf(rendering: Rendering): OccsError | undefined {
  return rendering.strict ?? minServersRefusal(rendering.shortfalls);
}

/**
 * Decides what a rendering asks of HAProxy, against what is installed at each destination
 * (undefined: no file yet). Pure: the same inputs always give the same change.
 */
export function decideChange(
  settings: Readonly<Settings>,
  rendering: Rendering,
  installed: ReadonlyMap<string, string | undefined>,
  options: DecideOptions,
): Change {
  // Forced (SIGHUP, or HAProxy may run something else): every file is written again, so one
  // edited or deleted by hand is set right before HAProxy reads it.
  if (options.force) return { kind: 'reload', files: [...rendering.resources], reason: options.force };
  const files = rendering.resources.filter(
    (r) => r.text !== installed.get(r.resource.destination!) || r.companions?.some((c) => c.text !== installed.get(c.path)),
  );
  if (files.length === 0) return { kind: 'none' };
  if (!files.some((r) => r.resource.haproxy)) return { kind: 'files', files };
  const runtime = options.runtime ? runtimeChanges(settings, files, installed) : { reason: 'the runtime API is not used' };
  if ('backends' in runtime) {
    return { kind: 'runtime', files, ...runtime, immediate: runtime.backends.every((b) => b.removed.length === 0) };
  }
  return { kind: 'reload', files, reason: runtime.reason };
}

/**
 * The server and map changes the runtime API can apply, or why it cannot: only the config HAProxy
 * runs qualifies, alone, and only when nothing but its server lines and its map files changed.
 */
function runtimeChanges(
  settings: Readonly<Settings>,
  files: RenderedResource[],
  installed: ReadonlyMap<string, string | undefined>,
): { backends: BackendChanges[]; maps: MapChange[] } | { reason: string } {
  const [only] = files;
  if (files.length !== 1) return { reason: 'more than one file changed' };
  if (only!.resource.destination !== settings.haproxy.config) return { reason: 'the config that changed is not the one HAProxy runs' };
  const maps = (only!.companions ?? []).filter((c) => c.text !== installed.get(c.path));
  if (maps.some((c) => installed.get(c.path) === undefined)) return { reason: 'a map file is new' };
  // A template of one's own may leave a map out: HAProxy has not loaded it, so there is nothing to swap.
  const unused = maps.find((c) => !only!.text.includes(c.path));
  if (unused) return { reason: `the config does not load ${unused.path}` };
  const diff = diffConfigs(installed.get(only!.resource.destination) ?? '', only!.text);
  if (diff.kind === 'reload') return { reason: diff.reason };
  return { backends: diff.kind === 'servers' ? diff.backends : [], maps: maps.map((c) => ({ path: c.path, entries: mapEntries(c.text) })) };
}
