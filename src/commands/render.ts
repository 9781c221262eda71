import type { Settings } from '../config/settings.js';
import { systemErrorCode, usageError } from '../errors.js';
import { allPrefixes, compileTemplates, readStore, renderResources } from '../pipeline/render.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { withSpinner } from '../util/spinner.js';
import type { CommandContext } from './context.js';
import { reportRenderDiagnostics } from './report.js';

/**
 * `occs-lb render`: read the store once, render every resource, and print the config (no
 * destination) or install it atomically. Nothing is written when any step fails.
 */
export async function render(settings: Readonly<Settings>, { io, log }: CommandContext): Promise<void> {
  const templates = await compileTemplates(settings.resources);
  const spin = io.stderrIsTTY && log.format === 'text' && log.verbosity !== 'quiet';
  const what = `reading ${allPrefixes(settings.resources).join(', ') || '/'} from ${settings.kv?.spec ?? 'the store'}`;
  log.debug(what);
  const snapshot = await withSpinner(spin, io.stderr, what, () => readStore(settings));
  const rendered = renderResources(settings, templates, snapshot);
  reportRenderDiagnostics(settings, rendered, log);

  for (const { resource, text } of rendered) {
    if (!resource.destination) {
      io.stdout.write(text);
      continue;
    }
    const result = await writeFileAtomic(resource.destination, text).catch((error: unknown) => {
      throw usageError(`cannot write ${resource.destination} (${systemErrorCode(error) ?? String(error)})`, {
        hint: 'check that its directory exists and is writable, or change --out / the resource\'s "destination"',
        cause: error,
      });
    });
    log.info(result === 'written' ? `wrote ${resource.destination}` : `${resource.destination} is unchanged`, {
      destination: resource.destination,
      result,
    });
  }
}
