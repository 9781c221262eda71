import type { Settings } from '../config/settings.js';
import { countServers } from '../haproxy/config-sections.js';
import { filterSnapshot } from '../kv/keys.js';
import { lowerBound, valueAt } from '../kv/merged-pairs.js';
import { blocksOf, editPieces, joinPieces, type KeyChange, type LineEdit, type ResourcePatch } from './patch-lines.js';
import { patchStack, STACK_PATCH_DECLARATION } from './patch-stack.js';
import type { KvPair, KvSnapshot } from '../kv/source.js';
import { renderTemplate, type CompiledTemplate } from '../template/engine.js';
import { createHelpers } from '../template/helpers.js';
import { tlsLocals } from '../tls/companions.js';
import { parseServers, type ServerEntry } from '../values/servers.js';
import type { RenderedResource } from './render.js';

/**
 * What a template writes to say its server lines may be patched (the shipped default template,
 * templates/haproxy.cfg.ejs, does): each `servers()` entry prints one server line that reads
 * that entry alone, and nothing else in it reads the servers. A change of a few servers is then
 * patched into the last rendering instead of running the template over every server; a check in
 * the background (watch/patch-check.ts) renders in full now and then, and a template whose full
 * render differs is rendered in full from then on.
 */
export const PATCH_DECLARATION = 'occs-lb: one server line per servers() entry';

/** More changed keys than this render in full: each costs a search of the config's text. */
export const MOST_PATCHED = 64;

/** Templates whose full render differed from a patch: never patched again. */
const distrusted = new WeakSet<CompiledTemplate>();

/** A template declared patchable whose full render differed from its patch is rendered in full from now on. */
export function distrust(template: CompiledTemplate): void {
  distrusted.add(template);
}

function isPatchable(template: CompiledTemplate, declaration: string): boolean {
  return !distrusted.has(template) && template.text.includes(declaration);
}

/**
 * The keys that differ between two snapshots (sorted by key, as every source gives them);
 * undefined when more than `most` differ, or a list is out of order. When `after` names the
 * keys that may differ from `before` (etcd's events), only those are looked up.
 */
export function snapshotDelta(before: KvSnapshot, after: KvSnapshot, most: number): KeyChange[] | undefined {
  const { since } = after;
  if (since?.pairs !== before.pairs) return walked(before.pairs, after.pairs, most);
  if (since.keys.length > most) return undefined;
  const out: KeyChange[] = [];
  for (const key of [...since.keys].sort()) {
    const [was, now] = [valueAt(before.pairs, key), valueAt(after.pairs, key)];
    if (was !== now) out.push({ key, ...(was !== undefined && { before: was }), ...(now !== undefined && { after: now }) });
  }
  return out;
}

/** The keys that differ, found by walking both lists in step. */
function walked(before: readonly KvPair[], after: readonly KvPair[], most: number): KeyChange[] | undefined {
  const out: KeyChange[] = [];
  let [i, j, last] = [0, 0, ''];
  while (i < before.length || j < after.length) {
    const a = before[i];
    const b = after[j];
    const key = a && b ? (a.key < b.key ? a.key : b.key) : (a ?? b)!.key;
    // A merge of two sorted lists takes its keys in order: one out of order means a list is not sorted.
    if (key < last) return undefined;
    last = key;
    if (a && b && a.key === b.key) {
      if (a !== b && a.value !== b.value) out.push({ key, before: a.value, after: b.value });
      i += 1;
      j += 1;
    } else if (a?.key === key) {
      out.push({ key, before: a.value });
      i += 1;
    } else {
      out.push({ key, after: b!.value });
      j += 1;
    }
    if (out.length > most) return undefined;
  }
  return out;
}

/** What patching needs of the rendering it starts from. */
export interface Patched {
  resources: RenderedResource[];
  /** Servers per backend, the change applied. */
  backends: Record<string, number>;
}

/**
 * The resources of `after` made from those of `before` (rendered from it with the same settings
 * and templates) by changing only the server lines the keys that differ touch, when they can
 * be: the resource they lie in renders a template that declares PATCH_DECLARATION (stack mode:
 * STACK_PATCH_DECLARATION, patch-stack.ts), every key that differs is one of its servers, each valid with its own name before and after, no name of the backend was
 * changed, and a new server has a server beside it in key order (it places the new line). Else
 * undefined: render in full. For the shipped template the text is the full render's, byte for
 * byte (test/unit/patch.test.ts compares the two on random changes), at a cost that follows the
 * change.
 */
export function patchResources(
  settings: Readonly<Settings>,
  templates: ReadonlyMap<string, CompiledTemplate>,
  before: { snapshot: KvSnapshot; resources: readonly RenderedResource[]; backends: Readonly<Record<string, number>> },
  after: KvSnapshot,
): Patched | undefined {
  if (settings.tls) return undefined;
  const delta = snapshotDelta(before.snapshot, after, MOST_PATCHED);
  if (!delta || delta.length === 0) return undefined;
  const touched = settings.resources.filter((r) => delta.some((d) => r.prefixes.some((p) => p === '' || d.key.startsWith(`/${p}`))));
  const [resource] = touched;
  const index = resource ? settings.resources.indexOf(resource) : -1;
  const previous = before.resources[index];
  const template = resource && templates.get(resource.template);
  if (touched.length !== 1 || !previous?.resource.haproxy || previous.diagnostics.renamed.length > 0 || !template) return undefined;
  // Servers per backend are counted over every HAProxy config, the last one's count winning: one config only.
  if (settings.resources.filter((r) => r.haproxy).length > 1) return undefined;
  const patched = settings.stack
    ? isPatchable(template, STACK_PATCH_DECLARATION) && patchStack({ settings, template, previous, after, delta })
    : isPatchable(template, PATCH_DECLARATION) && patchServers(settings, template, previous, after, delta, before.backends);
  if (!patched) return undefined;
  const resources = [...before.resources];
  resources[index] = patched.resource;
  return { resources, backends: { ...before.backends, ...patched.backends } };
}

/** The default template's patch: every key that differs is a server directly under the first prefix. */
function patchServers(
  settings: Readonly<Settings>,
  template: CompiledTemplate,
  previous: RenderedResource,
  after: KvSnapshot,
  delta: readonly KeyChange[],
  counts: Readonly<Record<string, number>>,
): ResourcePatch | undefined {
  const { prefixes } = previous.resource;
  const directory = prefixes[0];
  const serverKey = (key: string) => key.startsWith(`/${directory}/`) && !key.includes('/', directory!.length + 2);
  if (!directory || !delta.every((d) => serverKey(d.key))) return undefined;
  const lines = new LineMaker(settings, template, prefixes, () => filterSnapshot(after, prefixes).pairs);
  // The config in blocks of lines (patch-lines.ts): the blocks a change touches are made again, not the config.
  const pieces = patchText(previous.sections ?? blocksOf(previous.text), delta, after.pairs, serverKey, lines);
  if (pieces === undefined) return undefined;
  const backends: Record<string, number> = {};
  for (const [backend, n] of lines.counted) backends[backend] = (counts[backend] ?? 0) + n;
  const patch = { base: previous.text, ...lines.subsets() };
  return { resource: { ...previous, text: joinPieces(pieces), sections: pieces, patch }, backends };
}

/** The server line the template prints for one entry, made by the template itself. */
class LineMaker {
  /** Servers added (positive) or removed (negative) per backend, as the lines made say. */
  readonly counted = new Map<string, number>();
  /** The entries whose lines were taken out (-1) and put in (+1). */
  private readonly moved = { [-1]: [] as ServerEntry[], 1: [] as ServerEntry[] };

  private readonly locals: object;
  /** Names the key of a value the template refuses to print, as the full render does. */
  private readonly keysHolding: (value: string) => string[];

  constructor(
    settings: Readonly<Settings>,
    private readonly template: CompiledTemplate,
    prefixes: readonly string[],
    /** The resource's pairs after the change: a line may read other keys (a weight, say) through the helpers. */
    pairs: () => readonly KvPair[],
  ) {
    const { helpers, keysHolding } = createHelpers(pairs, prefixes[0] ?? '');
    this.keysHolding = keysHolding;
    this.locals = { ...helpers, settings: settings.vars, prefixes, tls: tlsLocals(undefined, new Set()) };
  }

  /** The entry a key's value makes, when it is a server with its own name; undefined when it is skipped or renamed. */
  entry(key: string, value: string): ServerEntry | undefined {
    const list = parseServers([{ key, value }]);
    const [server] = list.servers;
    return server && list.renamed.length === 0 ? server : undefined;
  }

  /** The line of `server` in the config (`sign`: counted as added or removed). */
  line(server: ServerEntry, sign = 0): string | undefined {
    const text = this.render([server]);
    const found = text.split('\n').filter((l) => /^\s*server\s/.test(l));
    const counts = Object.entries(countServers(text)).filter(([, n]) => n > 0);
    if (found.length !== 1 || counts.length !== 1) return undefined;
    const [backend] = counts[0]!;
    this.counted.set(backend, (this.counted.get(backend) ?? 0) + sign);
    if (sign !== 0) this.moved[sign as -1 | 1].push(server);
    return found[0];
  }

  /** The config with only the lines taken out, and with only those put in. */
  subsets(): { before: string; after: string } {
    return { before: this.render(this.moved[-1]), after: this.render(this.moved[1]) };
  }

  private render(servers: readonly ServerEntry[]): string {
    return renderTemplate(this.template, { ...this.locals, servers: () => servers }, this.keysHolding);
  }
}

/** The text's pieces with the server lines of `delta` removed, replaced or added in key order; undefined when one cannot be placed. */
function patchText(
  pieces: readonly string[],
  delta: readonly KeyChange[],
  pairs: readonly KvPair[],
  serverKey: (key: string) => boolean,
  lines: LineMaker,
): string[] | undefined {
  const edits: LineEdit[] = [];
  for (const d of delta) {
    const old = d.before === undefined ? undefined : lines.entry(d.key, d.before);
    const now = d.after === undefined ? undefined : lines.entry(d.key, d.after);
    if ((d.before !== undefined && !old) || (d.after !== undefined && !now)) return undefined;
    const edit = { key: d.key, was: old && lines.line(old, -1), now: now && lines.line(now, 1) };
    if ((old && !edit.was) || (now && !edit.now)) return undefined;
    edits.push(edit);
  }
  return editPieces(pieces, edits, (key, unplaced) => neighbour(key, pairs, serverKey, unplaced, lines));
}

/** The server line a new key's line goes beside: the nearest server before it in key order (after its line), else the nearest after it (before its line). */
function neighbour(
  key: string,
  pairs: readonly KvPair[],
  serverKey: (key: string) => boolean,
  unplaced: ReadonlySet<string>,
  lines: LineMaker,
): { line: string; after: boolean } | undefined {
  const lo = lowerBound(pairs, key);
  const look = (from: number, step: number) => {
    for (let i = from; i >= 0 && i < pairs.length; i += step) {
      const p = pairs[i]!;
      if (!serverKey(p.key) || unplaced.has(p.key)) continue;
      const server = lines.entry(p.key, p.value);
      if (server) return lines.line(server);
    }
    return undefined;
  };
  const before = look(lo - 1, -1);
  if (before) return { line: before, after: true };
  const next = look(lo + 1, 1);
  return next ? { line: next, after: false } : undefined;
}
