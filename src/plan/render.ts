import type { Resource, Settings } from '../config/settings.js';
import { countServers } from '../haproxy/config-sections.js';
import { filterSnapshot, firstKeyUnder, holdsDirectory } from '../kv/keys.js';
import { nearSibling } from '../kv/siblings.js';
import type { KvPair, KvSnapshot } from '../kv/source.js';
import { stackMaps, watchedMaps, type Companion } from '../stack/maps.js';
import { buildStack, type Stack } from '../stack/model.js';
import { renderTemplate, type CompiledTemplate } from '../template/engine.js';
import { createHelpers, type RenderDiagnostics } from '../template/helpers.js';
import { buildTls, dirOffers, type TlsModel } from '../tls/certs.js';
import { tlsCompanions, tlsLocals } from '../tls/companions.js';
import type { SkippedEntry } from '../values/servers.js';
import { holdsPrivateKey, PRIVATE_KEY_ELSEWHERE } from '../values/shown.js';

/** One resource's text, rendered from its part of a snapshot. */
export interface RenderedResource {
  resource: Resource;
  text: string;
  diagnostics: RenderDiagnostics;
  /** Stack mode: what was rendered (services, routes), and the map files installed with the config. */
  stack?: Stack;
  /** HTTPS: the certificates served (the config HAProxy runs only). */
  tls?: TlsModel;
  /** Files installed with the config: stack mode's maps, HTTPS's bundles and crt-list. */
  companions?: Companion[];
  /**
   * A text patched from another (src/plan/patch.ts): that text, and the config rendered with
   * only the server lines taken out (`before`) and with only those put in (`after`). Their diff
   * is the text's diff from `base`, at the size of the change.
   */
  patch?: { base: string; before: string; after: string };
  /**
   * The text as pieces that each start at a line (patch-lines.ts: stack mode's sections,
   * `sectionsOf`, else blocks of lines, `blocksOf`), when a patch made it from them: `text` then
   * refers to them, and the file is written from them, so it is never copied whole.
   */
  sections?: readonly string[];
}

/** What rendering reads besides the snapshot: the time (certificates expire) and the bundles installed (the last good one of a name serves on when a new one fails its checks). */
export interface RenderContext {
  now?: number;
  installed?: (path: string) => string | undefined;
  /** validate: an HAProxy config with no destination is checked as the one HAProxy runs, HTTPS and all. */
  checking?: boolean;
}

/** Servers per backend of an HAProxy config rendered: stack mode's from its model (its services), others from the text. */
export function serverCountsOf(rendered: Pick<RenderedResource, 'text' | 'stack'>): Record<string, number> {
  if (!rendered.stack) return countServers(rendered.text);
  return Object.fromEntries(rendered.stack.services.map((s) => [s.name, s.servers.length]));
}

/** Every prefix any resource reads, each once. */
export function allPrefixes(resources: readonly Resource[]): string[] {
  return [...new Set(resources.flatMap((r) => r.prefixes))];
}

/** Renders each resource from its part of the snapshot. Pure: the templates run on data alone (and the context's). */
export function renderResources(
  settings: Readonly<Settings>,
  templates: ReadonlyMap<string, CompiledTemplate>,
  snapshot: KvSnapshot,
  context: RenderContext = {},
): RenderedResource[] {
  return settings.resources.map((resource) => {
    const own = filterSnapshot(snapshot, resource.prefixes);
    const { helpers, diagnostics, keysHolding } = createHelpers(own.pairs, resource.prefixes[0] ?? '');
    const runs = (resource.destination ?? (context.checking ? settings.haproxy.config : undefined)) === settings.haproxy.config;
    const https = resource.haproxy && runs ? settings.tls : undefined;
    const stack = settings.stack && resource.haproxy ? buildStack(own.pairs, settings.stack, settings.vars.balance, https !== undefined) : undefined;
    const tls =
      https && buildTls({ store: stack?.certs ?? [], dir: dirOffers(snapshot.pairs, https.certDir) }, https, context.now ?? Date.now(), context.installed);
    const loaded = new Set<string>();
    const locals = {
      ...helpers,
      settings: settings.vars,
      prefixes: resource.prefixes,
      tls: tlsLocals(tls, loaded),
      ...(stack && { stack: watchedMaps(stack, loaded) }),
    };
    const text = renderTemplate(templates.get(resource.template)!, locals, keysHolding);
    const found = diagnostics();
    const hidden = hidingKeys(own.pairs);
    const skipped = [...(stack?.skipped ?? []).map(hidden), ...(tls?.skipped ?? []), ...found.skipped.map(hidden)];
    const companions = [...(stack ? stackMaps(stack, loaded) : []), ...tlsCompanions(tls, stack, loaded)];
    return {
      resource,
      text,
      diagnostics: { skipped, renamed: [...(stack?.renamed ?? []), ...found.renamed] },
      ...(stack && { stack }),
      ...(tls && { tls }),
      ...(companions.length > 0 && { companions }),
    };
  });
}

/**
 * A skipped entry as it may be told: one whose value holds a private key (a bundle stored under a
 * route or a weight, say) gets a reason that quotes none of it. Bundles' own reasons (src/tls)
 * never quote their text.
 */
function hidingKeys(pairs: readonly KvPair[]): (entry: SkippedEntry) => SkippedEntry {
  // Looked for at the first entry skipped: most renderings skip none, and every value would be read.
  let secret: Set<string> | undefined;
  return (entry) => {
    secret ??= new Set(pairs.filter((p) => holdsPrivateKey(p.value)).map((p) => p.key));
    return secret.has(entry.key) ? { key: entry.key, reason: PRIVATE_KEY_ELSEWHERE } : entry;
  };
}

/** A prefix that holds no key at all (often a typo), and a near directory that does hold keys. */
export interface EmptyPrefix {
  prefix: string;
  /** `apps/myapp/containers` for `apps/myapp/container`, or `apps/nginx` for `apps/ngnix`, when the store has one. */
  near?: string;
}

/** The prefixes in which the snapshot holds no key at all (its pairs are sorted: each prefix is looked up by halving). */
export function emptyPrefixes(resources: readonly Resource[], snapshot: KvSnapshot): EmptyPrefix[] {
  return allPrefixes(resources)
    .filter((prefix) => !holdsDirectory(snapshot.pairs, prefix))
    .map((prefix) => {
      const key = firstKeyUnder(snapshot.pairs, prefix);
      const cut = key?.indexOf('/', prefix.length + 1) ?? -1;
      // A longer name's keys (the prefix cut short), else the directory beside it nearest by name (a typo).
      return { prefix, near: key ? key.slice(1, cut > 0 ? cut : undefined) : nearSibling(prefix, snapshot.siblings?.[prefix] ?? []) };
    });
}
