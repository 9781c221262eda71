import type { Settings } from '../config/settings.js';
import { ExitCode, OccsError, systemErrorCode, usageError } from '../errors.js';
import { compileTemplates, describeRead, readStore, renderResources } from '../pipeline/render.js';
import { installFiles, PartialInstallError, removeStaleTemps } from '../util/atomic-write.js';
import { withSpinner } from '../util/spinner.js';
import type { CommandContext } from './context.js';
import { reportRenderDiagnostics } from './report.js';

/** Errors that mean the destination itself is wrong, which the user fixes in the settings. */
const DESTINATION_CODES = new Set(['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'EISDIR', 'ELOOP']);

/**
 * `occs-lb render`: read the store once, render every resource, and print the config (no
 * destination) or install the files atomically, all of them or none. Nothing is written when any
 * step fails.
 */
export async function render(settings: Readonly<Settings>, { io, log }: CommandContext): Promise<void> {
  const templates = await compileTemplates(settings.resources);
  const spin = io.stderrIsTTY && log.format === 'text' && log.verbosity !== 'quiet';
  const what = describeRead(settings);
  log.debug(what);
  const snapshot = await withSpinner(spin, io.stderr, what, () => readStore(settings));
  const rendered = renderResources(settings, templates, snapshot);
  reportRenderDiagnostics(settings, rendered, log);

  const files = rendered.flatMap(({ resource, text }) => (resource.destination ? [{ path: resource.destination, content: text }] : []));
  for (const { resource, text } of rendered) if (!resource.destination) io.stdout.write(text);
  if (files.length === 0) return;
  // Temp files a killed run left beside the destinations go first: nothing else would remove them.
  for (const f of files) for (const stale of await removeStaleTemps(f.path)) log.info(`removed ${stale}, left by an earlier run`);
  const results = await installFiles(files).catch((error: unknown) => {
    throw installFailed(files.map((f) => f.path), error);
  });
  files.forEach(({ path }, i) => {
    log.info(results[i] === 'written' ? `wrote ${path}` : `${path} is unchanged`, { destination: path, result: results[i] });
  });
}

function installFailed(paths: string[], thrown: unknown): OccsError {
  const partial = thrown instanceof PartialInstallError ? thrown : undefined;
  const error = partial ? partial.cause : thrown;
  const code = systemErrorCode(error);
  const where = (error as { path?: string }).path ?? paths.join(', ');
  const changed = partial?.installed.length ? `; ${partial.installed.join(', ')} already replaced` : '; no file was changed';
  const message = `cannot write ${where} (${code ?? String(error)})${changed}`;
  if (code && DESTINATION_CODES.has(code)) {
    return usageError(message, {
      hint: 'check that the directory exists and is writable, or change --out / the resource\'s "destination"',
      cause: error,
    });
  }
  return new OccsError('INSTALL_FAILED', ExitCode.unexpected, message, { hint: 'check the disk (space, health)', cause: error });
}
