import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { systemErrorCode, usageError } from '../errors.js';
import { configContext } from '../haproxy/check.js';
import type { Io } from '../io.js';
import { DEFAULT_TEMPLATE } from '../paths.js';
import { resolveSettings } from './settings.js';
import type { Flags, LoadedFile, Settings } from './types.js';

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
  return resolveSettings({ flags, env: io.env, file, cwd: io.cwd, defaultTemplate: DEFAULT_TEMPLATE, readSecret, origins });
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
    try {
      const pkg = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown> | null;
      if (pkg && typeof pkg === 'object' && MODULE in pkg) return path;
    } catch {
      // No package.json, or not one of ours to judge: cosmiconfig would skip it too.
    }
  }
  return undefined;
}

async function loadConfigFile(explicit: string | undefined, cwd: string, option: string): Promise<LoadedFile | undefined> {
  const path = explicit ? resolve(cwd, explicit) : findConfigFile(cwd);
  if (!path) return undefined;
  const { cosmiconfig } = await import('cosmiconfig');
  const explorer = cosmiconfig(MODULE, { searchPlaces: SEARCH_PLACES, searchStrategy: 'none', cache: false });
  let found: { filepath: string; config: unknown; isEmpty?: boolean } | null;
  try {
    found = await explorer.load(path);
  } catch (error) {
    const code = systemErrorCode(error);
    const syntax = code ? undefined : syntaxError(error, path);
    const what = code === 'ENOENT' ? 'does not exist' : (syntax?.what ?? `cannot be read: ${(error as Error).message.split('\n')[0]}`);
    throw usageError(`config file ${path} ${what}`, {
      hint: explicit ? `fix ${option}` : 'fix the file or remove it',
      detail: syntax?.context,
      cause: error,
    });
  }
  if (!found) return undefined;
  const { fileConfigSchema, describeSchemaIssues } = await import('./schema.js');
  const parsed = fileConfigSchema.safeParse(found.isEmpty ? {} : found.config);
  if (!parsed.success) {
    const problems = describeSchemaIssues(parsed.error);
    throw usageError(`config file ${found.filepath}: ${problems.join('; ')}`, {
      hint: 'fix the file; the README lists every setting',
    });
  }
  return { path: found.filepath, config: parsed.data };
}

/**
 * Where and why a JSON or YAML config file does not parse: "is not valid JSON at line 3, column
 * 21: Expected double-quoted property name", with the lines around it.
 */
function syntaxError(error: unknown, path: string): { what: string; context?: string } | undefined {
  const e = error as { name?: string; reason?: string; mark?: { line: number; column: number } };
  if (e.name === 'YAMLException' && e.reason && e.mark) {
    return { what: `is not valid YAML at line ${e.mark.line + 1}, column ${e.mark.column + 1}: ${e.reason}`, context: around(path, e.mark.line + 1) };
  }
  if (e.name !== 'JSONError') return undefined;
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
    JSON.parse(text);
    return undefined;
  } catch (parseError) {
    const message = (parseError as Error).message;
    const at = /at position (\d+)/.exec(message);
    const reason = message.replace(/ in JSON at position \d+.*$/s, '').replace(/^Unexpected end of JSON input$/, 'the file ends too early');
    if (!at) return { what: `is not valid JSON: ${reason}` };
    const before = text.slice(0, Number(at[1]));
    const line = before.split('\n').length;
    const column = Number(at[1]) - before.lastIndexOf('\n');
    return { what: `is not valid JSON at line ${line}, column ${column}: ${reason}`, context: around(path, line) };
  }
}

/** Lines `line - 2 … line + 2` of a file, the named one marked. */
function around(path: string, line: number): string | undefined {
  try {
    return configContext(readFileSync(path, 'utf8'), line);
  } catch {
    return undefined;
  }
}
