import type { Settings } from '../config/settings.js';
import { NO_ROUTE_BACKEND } from '../config/stack-settings.js';
import type { OccsError } from '../errors.js';
import { diffConfigs, type BackendChanges } from '../haproxy/config-diff.js';
import type { Drift } from '../haproxy/drift.js';
import type { RuntimeChannel } from '../haproxy/runtime-channel.js';
import type { MapChange } from '../haproxy/runtime-maps.js';
import { certChange, NO_CERT_CHANGE, type CertChange } from '../haproxy/runtime-certs.js';
import { RUNTIME_PAYLOAD_BYTES } from '../haproxy/runtime-channel.js';
import type { KvNotice, KvSnapshot } from '../kv/source.js';
import type { CompiledTemplate } from '../template/engine.js';
import type { RenamedEntry, SkippedEntry } from '../values/servers.js';
import { patchResources } from './patch.js';
import { emptyPrefixes, renderResources, serverCountsOf, type EmptyPrefix, type RenderContext, type RenderedResource } from './render.js';
import { minServersRefusal, shortfalls, strictRefusal, type Shortfall } from './rules.js';

/** What one snapshot renders to, and what the rules say of it: all a plan needs but what is installed. */
export interface Rendering {
  resources: RenderedResource[];
  skipped: SkippedEntry[];
  renamed: RenamedEntry[];
  /** What the store noticed of its keys (a file that gives a key twice). */
  notices: readonly KvNotice[];
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
 * What to do with a rendering, given what HAProxy runs: nothing; install files HAProxy does not
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
      /** HTTPS's certificates to add, rotate or remove. */
      certs: CertChange;
      /** No server removed: cheap, so the quiescence window may be skipped. */
      immediate: boolean;
      /** The reloads HAProxy had when this was planned: one since makes the plan stale. */
      epoch: number;
      /** A correction of drift: what was found, and the view it was read against (any change of the view since makes it stale). */
      drift?: { found: readonly string[]; version: number };
    }
  | { kind: 'reload'; files: RenderedResource[]; reason: string };

/** What carrying out a change did. */
export interface Outcome {
  /** Destinations whose content changed and was installed now (a runtime change's file follows later). */
  installed: string[];
  /** How HAProxy got the change: its runtime API, a reload, or not at all (nothing to do, or files only). */
  path: 'runtime' | 'reload' | 'none';
  /** The runtime API was tried and refused (the change then went by reload). */
  runtimeFallback?: string;
}

/** What HAProxy runs, as the watch's one view of it (watch/haproxy-view.ts) gives it: all a decision needs besides the rendering. */
export interface HaproxyState {
  /** Grows with every change of the view. */
  version: number;
  /** What HAProxy runs (or will after a reload) at each destination (undefined: no file yet). */
  installed: ReadonlyMap<string, string | undefined>;
  /** Why HAProxy may run something else than `installed` says: the next change reloads. */
  apart?: string;
  /** HAProxy runs and may be reloaded (before a supervised HAProxy starts, files are only installed). */
  started: boolean;
  /** An install failed and none succeeded since: changes install first, then reload. */
  installFailing: boolean;
  /** Counts the reloads since watch started. */
  epoch: number;
  /** The runtime API of the HAProxy that runs the installed config, if it offers one. */
  channel?: RuntimeChannel;
}

/** Renders a snapshot (once: the only template run a store change costs) and applies the rules. Pure. */
export function renderSnapshot(
  settings: Readonly<Settings>,
  templates: ReadonlyMap<string, CompiledTemplate>,
  snapshot: KvSnapshot,
  context: RenderContext = {},
): Rendering {
  const resources = renderResources(settings, templates, snapshot, context);
  const backends: Record<string, number> = {};
  // Stack mode's backends are its services: counted in the model, not parsed back from the text.
  for (const r of resources.filter((x) => x.resource.haproxy)) Object.assign(backends, serverCountsOf(r));
  // Stack mode's 404 backend answers by itself: it has no servers by design.
  if (settings.stack) delete backends[NO_ROUTE_BACKEND];
  return judged(settings, snapshot, resources, backends);
}

/**
 * The rendering of `snapshot` made from `previous` (the rendering of `before`, same settings and
 * templates) by changing only the server lines that differ, when src/plan/patch.ts can: a store
 * change of one server at 10,000 then costs what one server costs. Undefined: render in full.
 */
export function patchSnapshot(
  settings: Readonly<Settings>,
  templates: ReadonlyMap<string, CompiledTemplate>,
  before: { snapshot: KvSnapshot; rendering: Rendering },
  snapshot: KvSnapshot,
): Rendering | undefined {
  const { resources, backends } = before.rendering;
  const patched = patchResources(settings, templates, { snapshot: before.snapshot, resources, backends }, snapshot);
  return patched && judged(settings, snapshot, patched.resources, patched.backends);
}

/** A snapshot's rendered resources, and what the rules say of them. */
function judged(settings: Readonly<Settings>, snapshot: KvSnapshot, resources: RenderedResource[], backends: Record<string, number>): Rendering {
  const skipped = resources.flatMap((r) => r.diagnostics.skipped);
  return {
    resources,
    skipped,
    renamed: resources.flatMap((r) => r.diagnostics.renamed),
    notices: snapshot.notices ?? [],
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
 * The one decision of runtime or reload: what a rendering asks of HAProxy, given what it runs.
 * Every gate is here: a SIGHUP (`forced`) or an HAProxy that may run something else than its
 * files reloads with every file written again (one edited or deleted by hand is set right); the
 * runtime API is used only when asked for, offered, HAProxy runs, installs do not fail, and the
 * change is one it can express. No rendering: HAProxy is to be set back to the installed files.
 * Pure: the same inputs always give the same change.
 */
export function decideChange(settings: Readonly<Settings>, state: HaproxyState, rendering: Rendering | undefined, forced = false): Change {
  const force = state.started ? (forced ? 'a reload was asked for (SIGHUP)' : state.apart) : undefined;
  if (!rendering) return force ? { kind: 'reload', files: [], reason: force } : { kind: 'none' };
  if (force) return { kind: 'reload', files: [...rendering.resources], reason: force };
  const { installed } = state;
  const files = rendering.resources.filter(
    (r) => r.text !== installed.get(r.resource.destination!) || r.companions?.some((c) => c.text !== installed.get(c.path)),
  );
  if (files.length === 0) return { kind: 'none' };
  if (!files.some((r) => r.resource.haproxy)) return { kind: 'files', files };
  const closed = runtimeClosed(settings, state);
  const runtime = closed ? { reason: closed } : runtimeChanges(settings, files, installed);
  if ('backends' in runtime) {
    return { kind: 'runtime', files, ...runtime, immediate: runtime.backends.every((b) => b.removed.length === 0), epoch: state.epoch };
  }
  return { kind: 'reload', files, reason: runtime.reason };
}

/**
 * What drift found in HAProxy (src/haproxy/drift.ts: what the runtime API can express) asks of
 * it, under the same gates as a store change: runtime changes when they may be used, else a
 * reload with the installed files. `version`: the view the drift was read against.
 */
export function decideCorrection(settings: Readonly<Settings>, state: HaproxyState, drift: Drift, version: number): Change {
  if (!state.started) return { kind: 'none' };
  if (state.apart) return { kind: 'reload', files: [], reason: state.apart };
  if (drift.kind === 'none') return { kind: 'none' };
  const closed = drift.kind === 'reload' ? drift.reason : runtimeClosed(settings, state);
  if (closed || drift.kind === 'reload') return { kind: 'reload', files: [], reason: `HAProxy drifted from the installed config (${closed})` };
  const { backends, maps, found } = drift;
  return { kind: 'runtime', files: [], backends, maps, certs: NO_CERT_CHANGE(), immediate: true, epoch: state.epoch, drift: { found, version } };
}

/** Why the runtime API may not be used now, if it may not. */
function runtimeClosed(settings: Readonly<Settings>, state: HaproxyState): string | undefined {
  if (!settings.watch.runtimeApi || state.channel === undefined) return 'the runtime API is not used';
  if (!state.started) return 'HAProxy is not started yet';
  if (state.installFailing) return 'an install failed and none succeeded since: the files go first';
  return undefined;
}

/**
 * The server, map and certificate changes the runtime API can apply, or why it cannot: only the
 * config HAProxy runs qualifies, alone, and only when nothing but its server lines, its map files
 * and its certificates changed.
 */
function runtimeChanges(
  settings: Readonly<Settings>,
  files: RenderedResource[],
  installed: ReadonlyMap<string, string | undefined>,
): { backends: BackendChanges[]; maps: MapChange[]; certs: CertChange } | { reason: string } {
  const [only] = files;
  if (files.length !== 1) return { reason: 'more than one file changed' };
  if (only!.resource.destination !== settings.haproxy.config) return { reason: 'the config that changed is not the one HAProxy runs' };
  const changed = (only!.companions ?? []).filter((c) => c.text !== installed.get(c.path));
  const maps = changed.filter((c) => c.kind === 'map');
  if (maps.some((c) => installed.get(c.path) === undefined)) return { reason: 'a map file is new' };
  // A template of one's own may leave a map out: HAProxy has not loaded it, so there is nothing to swap.
  const unused = changed.find((c) => !c.loaded);
  if (unused) return { reason: `the config does not load ${unused.path}` };
  const certs = certsOf(only!, installed);
  if ('reason' in certs) return certs;
  const base = installed.get(only!.resource.destination) ?? '';
  // A text patched from the one HAProxy runs differs from it in the patch's server lines alone.
  const diff = only!.patch?.base === base ? diffConfigs(only!.patch.before, only!.patch.after) : diffConfigs(base, only!.text);
  if (diff.kind === 'reload') return { reason: diff.reason };
  return { backends: diff.kind === 'servers' ? diff.backends : [], maps: maps.map((c) => ({ path: c.path, entries: c.entries })), certs };
}

/**
 * The certificates a rendering asks HAProxy to add, rotate or remove; a new crt-list goes by
 * reload. (HTTPS starting or stopping changes the config's bind line too: a reload.)
 */
function certsOf(file: RenderedResource, installed: ReadonlyMap<string, string | undefined>): CertChange | { reason: string } {
  const list = file.companions?.find((c) => c.kind === 'crt-list');
  const crtList = file.tls?.settings.crtList;
  if (!crtList || !list) return NO_CERT_CHANGE();
  if (installed.get(crtList) === undefined) return { reason: 'the crt-list of HTTPS is new' };
  const wanted = (file.companions ?? []).flatMap((c) => (c.kind === 'cert' && c.cert ? [{ path: c.path, pem: c.text, serial: c.cert.serial }] : []));
  const change = certChange(crtList, wanted, installed);
  const large = [...change.added, ...change.rotated].find((c) => Buffer.byteLength(c.pem) > RUNTIME_PAYLOAD_BYTES);
  return large ? { reason: `${large.path} is larger than HAProxy's runtime API takes in one command` } : change;
}
