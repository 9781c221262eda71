import { templateError } from '../errors.js';
import { parseServers, type RenamedEntry, type ServerEntry, type SkippedEntry } from '../values/servers.js';
import { globToRegExp } from './glob.js';

export interface Pair {
  key: string;
  value: string;
}

/** What rendering noticed about the data: entries left out and names changed, one per key. */
export interface RenderDiagnostics {
  skipped: SkippedEntry[];
  renamed: RenamedEntry[];
}

const slashed = (key: string): string => (key.startsWith('/') ? key : `/${key}`);
const trimmed = (dir: string): string => slashed(dir).replace(/\/+$/, '');

/** Go's path.Base / path.Dir, as confd's base and dir. */
export function base(path: string): string {
  const clean = path.replace(/\/+$/, '');
  if (clean === '') return path === '' ? '.' : '/';
  return clean.slice(clean.lastIndexOf('/') + 1);
}

export function dir(path: string): string {
  const clean = path.replace(/\/+$/, '');
  const i = clean.lastIndexOf('/');
  if (i < 0) return '.';
  return i === 0 ? '/' : clean.slice(0, i);
}

/** The pairs whose key matches a glob, copied (a template cannot change the snapshot). */
function matching(pairs: readonly Pair[], pattern: string): Pair[] {
  const re = globToRegExp(slashed(pattern));
  return pairs.filter((p) => re.test(p.key)).map((p) => ({ key: p.key, value: p.value }));
}

/** The names directly under a directory, each with whether it has keys below it (a directory itself). */
function childrenOf(pairs: readonly Pair[], directory: string): Map<string, boolean> {
  const start = `${trimmed(directory)}/`;
  const names = new Map<string, boolean>();
  for (const { key } of pairs) {
    if (!key.startsWith(start)) continue;
    const rest = key.slice(start.length);
    const slash = rest.indexOf('/');
    const name = slash < 0 ? rest : rest.slice(0, slash);
    if (name) names.set(name, (names.get(name) ?? false) || slash >= 0);
  }
  return names;
}

function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (error) {
    throw templateError(`json: the value is not JSON (${(error as Error).message})`);
  }
}

/**
 * The functions a template calls, over one sorted snapshot. Names follow confd's so confd
 * templates translate line by line; `servers()` is the validated path for backend servers.
 */
export function createHelpers(source: readonly Pair[] | (() => readonly Pair[]), defaultPrefix: string) {
  let list: readonly Pair[] | undefined;
  /** The pairs, got on first use when given as a function (a patched line seldom reads any). */
  const pairs = () => (list ??= typeof source === 'function' ? source() : source);
  let map: Map<string, string> | undefined;
  /** Built on first use: many templates never look a key up, and the snapshot may hold 10,000. */
  const byKey = () => (map ??= new Map(pairs().map((p) => [p.key, p.value])));
  const skipped = new Map<string, string>();
  const renamed = new Map<string, RenamedEntry>();
  const gets = (pattern: string): Pair[] => matching(pairs(), pattern);
  const children = (directory: string): Map<string, boolean> => childrenOf(pairs(), directory);

  const helpers = {
    getv(key: string, ...fallback: [string?]): string {
      const value = byKey().get(slashed(key));
      if (value !== undefined) return value;
      if (fallback.length > 0) return fallback[0] ?? '';
      throw templateError(`getv: key ${slashed(key)} does not exist`, {
        hint: 'give a default, getv(key, "value"), or test exists(key) first',
      });
    },
    gets,
    getvs: (pattern: string): string[] =>
      gets(pattern)
        .map((p) => p.value)
        .sort(),
    ls: (directory: string): string[] => [...children(directory).keys()].sort(),
    lsdir: (directory: string): string[] =>
      [...children(directory)]
        .filter(([, isDir]) => isDir)
        .map(([name]) => name)
        .sort(),
    exists: (key: string): boolean => byKey().has(slashed(key)),
    base,
    dir,
    json: parseJson,
    /** Validated servers directly under `prefix` (default: the first prefix), in key order. */
    servers(prefix: string = defaultPrefix): ServerEntry[] {
      const list = parseServers(gets(`${trimmed(prefix)}/*`));
      for (const s of list.skipped) skipped.set(s.key, s.reason);
      for (const r of list.renamed) renamed.set(r.key, r);
      return list.servers;
    },
  };

  const diagnostics = (): RenderDiagnostics => ({
    skipped: [...skipped].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, reason]) => ({ key, reason })),
    renamed: [...renamed.values()].sort((a, b) => (a.key < b.key ? -1 : 1)),
  });
  /** Keys whose value is exactly `value`: names the culprit when a template refuses to print it. */
  const keysHolding = (value: string): string[] =>
    pairs()
      .filter((p) => p.value === value)
      .map((p) => p.key);

  return { helpers, diagnostics, keysHolding };
}

export type Helpers = ReturnType<typeof createHelpers>['helpers'];
