import { relative } from 'node:path';
import { OccsError, usageError, withHint } from '../errors.js';
import type { LoadedFile, Settings } from './types.js';

/** How settings.ts names the config file in the place a value came from ("occs-lb.json: kvTimeout"). */
export function fileLabel(cwd: string, path: string): string {
  return relative(cwd, path) || path;
}

/**
 * The config file's problems, all at once. `problems` are the schema's; its keys at fault are
 * already gone from `file`. Then the values are resolved (`resolve`, settings.ts's checks): each
 * refusal that names a key of the file is noted and that key dropped, and they are resolved
 * again, so a bad port does not hide a bad duration until it is fixed. A refusal of a flag or a
 * variable ends the search: with problems in the file, those are reported first (and the flag's
 * after they are fixed); without, it is thrown as it is.
 */
export function resolveReportingFile(
  file: LoadedFile & { problems: readonly string[] },
  cwd: string,
  resolve: (file: LoadedFile) => Readonly<Settings>,
): Readonly<Settings> {
  const label = fileLabel(cwd, file.path);
  const problems = [...file.problems];
  const config: Record<string, unknown> = { ...file.config };
  for (;;) {
    let refused: OccsError;
    try {
      const settings = resolve({ path: file.path, config });
      if (problems.length === 0) return settings;
      break;
    } catch (error) {
      if (!(error instanceof OccsError) || error.code !== 'USAGE') throw error;
      refused = error;
    }
    const key = Object.keys(config).find((k) => new RegExp(`^${escape(`${label}: ${k}`)}(?![\\w])`).test(refused.message));
    if (key === undefined) {
      if (problems.length === 0) throw refused;
      break;
    }
    problems.push(withHint(refused).slice(label.length + 2));
    delete config[key];
  }
  throw fileProblems(file.path, problems);
}

/** One usage error (exit 2) for all of a config file's problems, one line each. */
export function fileProblems(path: string, problems: readonly string[]): OccsError {
  const hint = 'fix the file; docs/reference.md lists every setting';
  if (problems.length === 1) return usageError(`config file ${path}: ${problems[0]}`, { hint });
  return usageError(`config file ${path} has ${problems.length} problems`, { hint, detail: problems.map((p) => `  ${p}`).join('\n') });
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
