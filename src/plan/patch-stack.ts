import type { Settings } from '../config/settings.js';
import type { KvPair, KvSnapshot } from '../kv/source.js';
import { lowerBound, pairsStarting, valueAt } from '../kv/merged-pairs.js';
import { stackMaps, watchedMaps } from '../stack/maps.js';
import { stackRoutes } from '../stack/claim.js';
import type { StackSettings } from '../config/types.js';
import { DEFAULT_WEIGHT, type Stack, type StackServer, type StackService } from '../stack/model.js';
import { renderTemplate, type CompiledTemplate } from '../template/engine.js';
import { createHelpers } from '../template/helpers.js';
import { tlsLocals } from '../tls/companions.js';
import { parseServerState, parseWeight } from '../values/routes.js';
import { nameTooLong } from '../values/server.js';
import { parseServers, type SkippedEntry } from '../values/servers.js';
import { editLines, joinPieces, sectionAt, sectionsOf, type KeyChange, type ResourcePatch } from './patch-lines.js';
import type { RenderedResource } from './render.js';

/** What the stack template writes to say its server lines may be patched: each `service.servers` entry prints one server line in its service's backend that reads that entry and its service alone. */
export const STACK_PATCH_DECLARATION = 'occs-lb: one server line per service.servers entry';

const lastSegment = (key: string) => key.slice(key.lastIndexOf('/') + 1);

/**
 * Stack mode's patch (see patch.ts): the keys that differ are servers of apps there before and
 * after, their weights and states, or routes; every server, weight and state parses, no name
 * was changed, and every app touched keeps a server. Other apps stay as they were. Undefined:
 * render in full.
 */
export function patchStack(input: PatchInput): ResourcePatch | undefined {
  const { settings, previous, delta } = input;
  const { stack } = previous;
  const control = settings.stack && `/${settings.stack.control}/`;
  if (!stack || !control || settings.tls || stack.renamed.length > 0) return undefined;
  const routesAt = `${control}routes/`;
  const servers = patchServerLines({ ...input, delta: delta.filter((d) => !d.key.startsWith(routesAt)) });
  if (!servers || !delta.some((d) => d.key.startsWith(routesAt))) return servers;
  const routed = patchRoutes(servers.resource, settings.stack, input.after, routesAt);
  return routed && { resource: routed, backends: servers.backends };
}

/** What a patch starts from: the settings and template, the resource rendered last, the snapshot now, and the keys that differ. */
export interface PatchInput {
  settings: Readonly<Settings>;
  template: CompiledTemplate;
  previous: RenderedResource;
  after: KvSnapshot;
  delta: readonly KeyChange[];
}

/**
 * A route change (see patchStack): the routes, the entries they leave out and the map files are
 * made again from the route keys alone; the config's text does not name a route.
 */
function patchRoutes(previous: RenderedResource, settings: StackSettings, after: KvSnapshot, routesAt: string): RenderedResource | undefined {
  const stack = previous.stack!;
  // A template that reads the store through helpers may skip entries of its own: render it in full.
  if (previous.diagnostics.skipped.length !== stack.skipped.length) return undefined;
  const pairs = pairsStarting(after.pairs, routesAt);
  const routes = stackRoutes(pairs, settings, new Set(stack.services.map((s) => s.name)));
  const others = (list: readonly SkippedEntry[]) => list.filter((e) => !e.key.startsWith(routesAt));
  const byKey = (a: SkippedEntry, b: SkippedEntry) => (a.key < b.key ? -1 : 1);
  const model: Stack = { ...stack, ...routes, skipped: [...others(stack.skipped), ...routes.skipped].sort(byKey) };
  const loaded = new Set((previous.companions ?? []).filter((c) => c.loaded).map((c) => c.path));
  const skipped = [...others(previous.diagnostics.skipped), ...routes.skipped].sort(byKey);
  return { ...previous, stack: model, companions: stackMaps(model, loaded), diagnostics: { ...previous.diagnostics, skipped } };
}

/** The server lines of the keys that differ (none may be a route's). */
function patchServerLines({ settings, template, previous, after, delta }: PatchInput): ResourcePatch | undefined {
  const stack = previous.stack!;
  const control = `/${settings.stack!.control}/`;
  const touched = touchedServers(stack, control, delta);
  if (!touched) return undefined;
  if (touched.size === 0) return { resource: previous, backends: {} };
  const lines = new StackLines(settings, template, stack, previous.resource.prefixes, after.pairs);
  // The sections of the config, one replaced per app touched (render.ts: a full render has none yet).
  const pieces = previous.sections ? [...previous.sections] : sectionsOf(previous.text);
  const services = new Map<string, StackService>();
  const moved: Array<{ service: StackService; was: StackServer[]; now: StackServer[] }> = [];
  for (const [name, ids] of touched) {
    const service = stack.services.find((s) => s.name === name)!;
    const changed = lines.changed(service, ids, control);
    if (!changed || changed.servers.length === 0) return undefined;
    const next = { ...service, servers: changed.servers };
    const edits = changed.edits.map((e) => ({ key: e.key, was: e.was && lines.line(service, e.was), now: e.now && lines.line(next, e.now) }));
    if (edits.some((e, i) => (changed.edits[i]!.was && !e.was) || (changed.edits[i]!.now && !e.now))) return undefined;
    const beside = (key: string, unplaced: ReadonlySet<string>) => {
      const at = changed.servers.findIndex((s) => s.key === key);
      const placed = (s: StackServer | undefined) => s && !unplaced.has(s.key) && lines.line(next, s);
      const before = changed.servers.slice(0, at).reverse().find(placed);
      const after = changed.servers.slice(at + 1).find(placed);
      return before ? { line: lines.line(next, before)!, after: true } : after && { line: lines.line(next, after)!, after: false };
    };
    const at = sectionAt(pieces, `backend ${name}`);
    const edited = at < 0 ? undefined : editLines(pieces[at]!, edits, beside);
    if (edited === undefined) return undefined;
    pieces[at] = edited;
    services.set(name, next);
    moved.push({ service: next, was: changed.edits.flatMap((e) => (e.was ? [e.was] : [])), now: changed.edits.flatMap((e) => (e.now ? [e.now] : [])) });
  }
  const model: Stack = { ...stack, services: stack.services.map((s) => services.get(s.name) ?? s) };
  // In the config's order of backends, as a diff of the whole texts lists them.
  moved.sort((a, b) => model.services.indexOf(a.service) - model.services.indexOf(b.service));
  const subset = (pick: (m: (typeof moved)[number]) => StackServer[]) => lines.render(moved.map((m) => ({ ...m.service, servers: pick(m) })));
  const patch = { base: previous.text, before: subset((m) => m.was), after: subset((m) => m.now) };
  const backends = Object.fromEntries([...services].map(([name, s]) => [name, s.servers.length]));
  return { resource: { ...previous, text: joinPieces(pieces), sections: pieces, stack: model, patch }, backends };
}

/** The server ids (a key's last segment) the keys touch, by app; undefined when a key is not one a patch can follow. */
function touchedServers(stack: Stack, control: string, delta: readonly KeyChange[]): Map<string, Set<string>> | undefined {
  const skipped = new Set(stack.skipped.map((s) => s.key));
  const byDirectory = new Map(stack.services.map((s) => [`/${s.prefix}`, s.name]));
  // Two services of one directory (a config-file service naming an app's) both print its servers.
  if (byDirectory.size !== stack.services.length) return undefined;
  const touched = new Map<string, Set<string>>();
  for (const d of delta) {
    if (skipped.has(d.key)) return undefined;
    let app = byDirectory.get(d.key.slice(0, d.key.lastIndexOf('/')));
    let id = lastSegment(d.key);
    if (!app) {
      const [kind, name, server, ...more] = d.key.startsWith(control) ? d.key.slice(control.length).split('/') : [];
      const parse = kind === 'weights' ? parseWeight : kind === 'state' ? parseServerState : undefined;
      if (!parse || !name || !server || more.length > 0 || nameTooLong(name) || nameTooLong(server)) return undefined;
      if ([d.before, d.after].some((v) => v !== undefined && !parse(v).ok)) return undefined;
      if (!stack.services.some((s) => s.name === name)) continue; // no app of that name: nothing it changes
      [app, id] = [name, server];
    }
    touched.set(app, (touched.get(app) ?? new Set()).add(id));
  }
  return touched;
}

/** A stack's server lines, made by the template itself from a stack of the services asked about. */
class StackLines {
  private readonly locals: object;
  private readonly made = new Map<StackServer, string | undefined>();
  private readonly keysHolding: (value: string) => string[];

  constructor(
    settings: Readonly<Settings>,
    private readonly template: CompiledTemplate,
    private readonly stack: Stack,
    prefixes: readonly string[],
    private readonly pairs: readonly KvPair[],
  ) {
    const { helpers, keysHolding } = createHelpers(() => pairs, prefixes[0] ?? '');
    this.keysHolding = keysHolding;
    this.locals = { ...helpers, settings: settings.vars, prefixes, tls: tlsLocals(undefined, new Set()) };
  }

  /** A service's servers after the change, and what changed of them (by key); undefined when a value does not parse or a name would change. */
  changed(
    service: StackService,
    ids: ReadonlySet<string>,
    control: string,
  ): { servers: StackServer[]; edits: Array<{ key: string; was?: StackServer; now?: StackServer }> } | undefined {
    const servers = [...service.servers];
    const edits: Array<{ key: string; was?: StackServer; now?: StackServer }> = [];
    for (const id of ids) {
      const key = `/${service.prefix}/${id}`;
      const at = lowerBound(servers, key);
      const was = servers[at]?.key === key ? servers[at] : undefined;
      const value = valueAt(this.pairs, key);
      const list = value === undefined ? undefined : parseServers([{ key, value }]);
      if (list && (list.servers.length !== 1 || list.renamed.length > 0)) return undefined;
      // As buildStack reads them: a weight or state that does not parse is left out (and told of).
      const weight = this.parsed(`${control}weights/${service.name}/${id}`, parseWeight) ?? DEFAULT_WEIGHT;
      const state = this.parsed(`${control}state/${service.name}/${id}`, parseServerState) ?? 'ready';
      const now = list && { ...list.servers[0]!, state, weight: state === 'drain' ? 0 : weight };
      if (!was && !now) continue;
      servers.splice(at, was ? 1 : 0, ...(now ? [now] : []));
      edits.push({ key, ...(was && { was }), ...(now && { now }) });
    }
    return { servers, edits };
  }

  /** The line `server` of `service` prints; undefined when it prints not exactly one. */
  line(service: StackService, server: StackServer): string | undefined {
    if (!this.made.has(server)) {
      const found = this.render([{ ...service, servers: [server] }])
        .split('\n')
        .filter((l) => /^\s*server\s/.test(l));
      this.made.set(server, found.length === 1 ? found[0] : undefined);
    }
    return this.made.get(server);
  }

  /** The config of the stack with these services alone. */
  render(services: StackService[]): string {
    return renderTemplate(this.template, { ...this.locals, stack: watchedMaps({ ...this.stack, services }, new Set()) }, this.keysHolding);
  }

  private parsed<T>(key: string, parse: (value: string) => { ok: true; value: T } | { ok: false }): T | undefined {
    const value = valueAt(this.pairs, key);
    const result = value === undefined ? undefined : parse(value);
    return result?.ok ? result.value : undefined;
  }
}
