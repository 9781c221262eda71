import { relative } from 'node:path';
import { OccsError, usageError, withHint } from '../errors.js';
import { longName } from './environment.js';
import type { SettingEntry } from './setting-entry.js';
import { SETTINGS } from './table.js';
import type { Flags, LoadedFile, Settings } from './types.js';

/** How settings.ts names the config file in the place a value came from ("occs-lb.json: kvTimeout"). */
export function fileLabel(cwd: string, path: string): string {
  return relative(cwd, path) || path;
}

/** The layers settings are resolved from: the flags (with the OCCS_LB_ variables merged in), the environment, the config file. */
export interface SettingLayers {
  flags: Flags;
  env: NodeJS.ProcessEnv;
  file?: LoadedFile;
}

/**
 * Every problem of the settings at once, wherever each is: the flags, the environment, the config
 * file. `fileProblems` are the file's schema's (its keys at fault are already gone from the file).
 * Then the values are resolved (`resolve`, settings.ts's checks): each refusal that names where
 * its value came from (`--kv-timeout: …`, `environment KV_PORT: …`, `occs-lb.json: statsPort: …`)
 * is noted and that value dropped, and they are resolved again, so a bad port does not hide a bad
 * duration until it is fixed. A refusal that names no one place (two options that clash) ends the
 * search: with problems noted it may only follow from a value dropped, so it is left out.
 */
export function resolveReportingAll(
  layers: SettingLayers & { fileProblems: readonly string[] },
  cwd: string,
  origins: Readonly<Record<string, string>>,
  resolve: (layers: SettingLayers) => Readonly<Settings>,
): Readonly<Settings> {
  const label = layers.file && fileLabel(cwd, layers.file.path);
  const problems: Array<{ inFile: boolean; text: string; error?: OccsError }> = layers.fileProblems.map((problem) => ({ inFile: true, text: problem }));
  const flags: Record<string, unknown> = { ...layers.flags };
  const env = { ...layers.env };
  const config: Record<string, unknown> | undefined = layers.file && { ...layers.file.config };
  for (;;) {
    let refused: OccsError;
    try {
      const settings = resolve({ flags: flags, env, file: layers.file && { ...layers.file, config: config! } });
      if (problems.length === 0) return settings;
      break;
    } catch (error) {
      if (!(error instanceof OccsError) || error.code !== 'USAGE') throw error;
      refused = error;
    }
    const source = /^(--[a-z0-9-]+|environment [A-Za-z0-9_]+): /.exec(refused.message)?.[1];
    const key = config && Object.keys(config).find((k) => new RegExp(`^${escape(`${label}: ${k}`)}(?![\\w])`).test(refused.message));
    if (key !== undefined) {
      problems.push({ inFile: true, text: withHint(refused).slice(label!.length + 2) });
      delete config![key];
    } else if (source !== undefined && drop(source, flags, env, origins)) {
      problems.push({ inFile: false, text: withHint(refused), error: refused });
    } else {
      if (problems.length === 0) throw refused;
      break;
    }
  }
  if (problems.length === 1 && problems[0]!.error) throw problems[0]!.error;
  if (problems.every((p) => p.inFile))
    throw fileProblems(
      layers.file!.path,
      problems.map((p) => p.text),
    );
  const lines = problems.map((p) => (p.inFile ? `${label}: ${p.text}` : p.text));
  throw problemsError(`the settings have ${problems.length} problems`, 'fix each; docs/reference.md lists every setting', lines);
}

/** Leaves out the value a refusal names: the flag (or the OCCS_LB_ variable it came from), or the variable. False: nothing to leave out. */
function drop(source: string, flags: Record<string, unknown>, env: NodeJS.ProcessEnv, origins: Readonly<Record<string, string>>): boolean {
  const long = source.startsWith('--') ? source.slice(2) : Object.keys(origins).find((name) => origins[name] === source);
  if (long !== undefined) {
    const entry = (SETTINGS as readonly SettingEntry[]).find((e) => longName(e) === long);
    if (!entry || flags[entry.name] === undefined) return false;
    delete flags[entry.name];
    return true;
  }
  const variable = source.slice('environment '.length);
  if (env[variable] === undefined) return false;
  for (const name of TOGETHER.find((group) => group.includes(variable)) ?? [variable]) delete env[name];
  return true;
}

/** Variables that only work together: one left out leaves the other refused for want of it. */
const TOGETHER = [['KV_IP', 'KV_PORT']];

/** One usage error (exit 2) for all of a config file's problems, one line each. */
export function fileProblems(path: string, problems: readonly string[]): OccsError {
  const hint = 'fix the file; docs/reference.md lists every setting';
  if (problems.length === 1) return usageError(`config file ${path}: ${problems[0]}`, { hint });
  return problemsError(`config file ${path} has ${problems.length} problems`, hint, problems);
}

function problemsError(message: string, hint: string, lines: readonly string[]): OccsError {
  return usageError(message, { hint, detail: lines.map((p) => `  ${p}`).join('\n') });
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
