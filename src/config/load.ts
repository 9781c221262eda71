import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { systemErrorCode, usageError } from '../errors.js';
import type { Io } from '../io.js';
import { DEFAULT_TEMPLATE } from '../paths.js';
import { fileSyntaxError } from './file-syntax.js';
import { resolveSettings } from './settings.js';
import { fileProblems, resolveReportingAll, type SettingLayers } from './file-problems.js';
import type { Flags, LoadedFile, Settings } from './types.js';

/** A config file its schema takes, but for `problems`, whose keys are left out of `config`. */
type CheckedFile = LoadedFile & { problems: readonly string[] };

const MODULE = 'occs-lb';

/** Where a config file is looked for when none is named: the current directory, then this one (a mounted ConfigMap). */
export const CONFIG_DIR = '/etc/occs-lb';

/** The names a config file is looked for under, in this order, in each directory searched. */
export const SEARCH_PLACES = [
  'package.json',
  ...['', '.json', '.yaml', '.yml', '.js', '.mjs', '.cjs'].map((ext) => `.${MODULE}rc${ext}`),
  ...['.json', '.yaml', '.yml', '.js', '.mjs', '.cjs'].map((ext) => `${MODULE}.config${ext}`),
];

/**
 * Finds and validates the config file (or the one --config or OCCS_LB_CONFIG names), then merges
 * everything. `origins` says which flags came from the environment (environment.ts).
 */
export async function loadSettings(flags: Flags, io: Io, origins: Readonly<Record<string, string>> = {}): Promise<Readonly<Settings>> {
  const file = await loadConfigFile(flags.config, io.cwd, origins.config ?? '--config');
  const readSecret = (path: string, setting: string): string => {
    const full = resolve(io.cwd, path);
    try {
      return readFileSync(full, 'utf8');
    } catch (error) {
      throw usageError(`cannot read ${full}, named by ${setting} (${systemErrorCode(error) ?? String(error)})`, {
        hint: `point ${setting} at a readable file`,
      });
    }
  };
  const resolveWith = (layers: SettingLayers) => resolveSettings({ ...layers, cwd: io.cwd, defaultTemplate: DEFAULT_TEMPLATE, readSecret, origins });
  const layers = { flags, env: io.env, file: file && { path: file.path, config: file.config, empty: file.empty }, fileProblems: file?.problems ?? [] };
  return resolveReportingAll(layers, io.cwd, origins, resolveWith);
}

/**
 * The first search place that holds our config (package.json only with an "occs-lb" key), in
 * `cwd`, then in CONFIG_DIR. Checking this ourselves lets a run without any config file skip
 * loading cosmiconfig at all.
 */
function findConfigFile(cwd: string): string | undefined {
  for (const path of [cwd, CONFIG_DIR].flatMap((dir) => SEARCH_PLACES.map((place) => join(dir, place)))) {
    const place = basename(path);
    if (place !== 'package.json') {
      if (existsSync(path)) return path;
      continue;
    }
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue;
    }
    try {
      const pkg = JSON.parse(text) as Record<string, unknown> | null;
      if (pkg && typeof pkg === 'object' && MODULE in pkg) return path;
    } catch {
      // One that does not parse is ours to report when it seems to hold our key; else not ours to judge.
      if (text.includes(`"${MODULE}"`)) return path;
    }
  }
  return undefined;
}

async function loadConfigFile(explicit: string | undefined, cwd: string, option: string): Promise<CheckedFile | undefined> {
  const path = explicit ? resolve(cwd, explicit) : findConfigFile(cwd);
  if (!path) return undefined;
  const { cosmiconfig } = await import('cosmiconfig');
  let found: { filepath: string; config: unknown; isEmpty?: boolean } | null;
  try {
    // Making the explorer reads ./package.json (for cosmiconfig's own settings): it may fail too.
    found = await cosmiconfig(MODULE, { searchPlaces: SEARCH_PLACES, searchStrategy: 'none', cache: false }).load(path);
  } catch (error) {
    const code = systemErrorCode(error);
    // cosmiconfig names the file it could not parse, which may be ./package.json rather than ours.
    const failed = /^(?:JSON|YAML) Error in (.+):\n/.exec((error as Error).message)?.[1] ?? path;
    const syntax = code ? undefined : fileSyntaxError(error, failed);
    const what = code === 'ENOENT' ? 'does not exist' : (syntax?.what ?? `cannot be read: ${(error as Error).message.split('\n')[0]}`);
    throw usageError(`config file ${failed} ${what}`, {
      hint: failed !== path ? 'fix the file: cosmiconfig reads it for its own settings' : explicit ? `fix ${option}` : 'fix the file or remove it',
      detail: syntax?.context,
      cause: error,
    });
  }
  if (!found) return undefined;
  const { fileConfigSchema, describeSchemaIssues, isRuleIssue } = await import('./schema.js');
  const raw = found.isEmpty ? {} : found.config;
  const parsed = fileConfigSchema.safeParse(raw);
  if (parsed.success) return { path: found.filepath, config: parsed.data, problems: [], ...(found.isEmpty && { empty: true }) };
  // A value that breaks a rule is settings.ts's to refuse (file-problems.ts collects those).
  const shapeIssues = parsed.error.issues.filter((issue) => !isRuleIssue(issue));
  const problems = describeSchemaIssues(shapeIssues, raw);
  // Without the keys at fault, the rest is checked for what its values mean (file-problems.ts).
  const faulty = new Set(shapeIssues.flatMap((issue) => (issue.code === 'unrecognized_keys' && issue.path.length === 0 ? issue.keys : [issue.path[0]])));
  const rest = raw && typeof raw === 'object' && !Array.isArray(raw) ? Object.fromEntries(Object.entries(raw).filter(([key]) => !faulty.has(key))) : undefined;
  const reparsed = rest && fileConfigSchema.safeParse(rest);
  if (!reparsed || !(reparsed.success || reparsed.error.issues.every(isRuleIssue))) throw fileProblems(found.filepath, problems);
  // The schema changes no value (no defaults, no transforms): what it takes is the file as it is.
  return { path: found.filepath, config: rest, problems };
}
