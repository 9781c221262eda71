import type { Settings } from '../config/settings.js';
import { renderSnapshot } from '../plan/plan.js';
import { installFiles, removeStaleTemps } from '../util/atomic-write.js';
import { installError } from '../util/install-error.js';
import { withSpinner } from '../util/spinner.js';
import { describeRead, readStore, storeName } from '../wiring/store.js';
import { compileTemplates } from '../wiring/templates.js';
import type { CommandContext } from './context.js';
import { reportRendering } from './report.js';

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
  const rendering = renderSnapshot(settings, templates, snapshot);
  reportRendering(settings, rendering, storeName(settings), log);

  const files = rendering.resources.flatMap(({ resource, text }) => (resource.destination ? [{ path: resource.destination, content: text }] : []));
  for (const { resource, text } of rendering.resources) if (!resource.destination) io.stdout.write(text);
  if (files.length === 0) return;
  // Temp files a killed run left beside the destinations go first: nothing else would remove them.
  for (const f of files) for (const stale of await removeStaleTemps(f.path)) log.info(`removed ${stale}, left by an earlier run`);
  const results = await installFiles(files).catch((error: unknown) => {
    throw installError(
      files.map((f) => f.path),
      error,
    );
  });
  files.forEach(({ path }, i) => {
    log.info(results[i] === 'written' ? `wrote ${path}` : `${path} is unchanged`, { destination: path, result: results[i] });
  });
}
