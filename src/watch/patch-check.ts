import type { Logger } from '../log.js';
import { PATCH_DECLARATION } from '../plan/patch.js';
import type { Planner } from './planner.js';

/**
 * Checks patched renderings against full ones, every second the store allows (planner.ts says
 * when): a template that declares its server lines patchable but renders otherwise in full is
 * told of as an error, rendered in full from then on, and the full rendering applied at once.
 * Returns the function that stops the checks.
 */
export function checkPatches(planner: Planner, log: Logger, syncAgain: () => void): () => void {
  const timer = setInterval(() => {
    const differing = planner.checkPatch();
    if (differing.length === 0) return;
    log.error(
      `template ${differing.join(', ')} declares "${PATCH_DECLARATION}", but its full render differs from the patched one: ` +
        'it is rendered in full from now on, and the full render is applied now (delete the declaration from the template)',
      { templates: differing },
    );
    syncAgain();
  }, 1000).unref();
  return () => clearInterval(timer);
}
