import { DEMO_STATS_PASSWORD, DEMO_STATS_USER, type Settings } from '../config/settings.js';
import { rejectedError } from '../errors.js';
import { printable, type Logger } from '../log.js';
import { DEFAULT_TEMPLATE } from '../paths.js';
import type { RenderedResource } from '../pipeline/render.js';

/**
 * Tells the user what rendering left out or renamed, one line per key. With --strict a skipped
 * entry fails the run (exit 5) before anything is written.
 */
export function reportRenderDiagnostics(settings: Readonly<Settings>, rendered: RenderedResource[], log: Logger): void {
  const skipped = rendered.flatMap((r) => r.diagnostics.skipped);
  const renamed = rendered.flatMap((r) => r.diagnostics.renamed);
  if (settings.strict && skipped.length > 0) {
    throw rejectedError('ENTRIES_REJECTED', `${skipped.length} key/value ${skipped.length === 1 ? 'entry was' : 'entries were'} rejected (--strict)`, {
      hint: 'fix or delete the entries, or drop --strict to skip them with a warning',
      detail: skipped.map((s) => `  ${printable(s.key)}: ${s.reason}`).join('\n'),
    });
  }
  for (const s of skipped) log.warn(`skipped ${s.key}: ${s.reason}`, { key: s.key, reason: s.reason });
  for (const r of renamed) {
    log.warn(`server name "${r.from}" of ${r.key} is not [A-Za-z0-9._:-]+; using "${r.to}"`, { key: r.key, name: r.to });
  }
  if (usesDemoCredentials(settings)) log.warn(DEMO_CREDENTIALS_WARNING);
}

export const DEMO_CREDENTIALS_WARNING =
  "the stats page uses the old image's demo credentials (set OCCS_LB_STATS_USER and OCCS_LB_STATS_PASSWORD, or statsUser/statsPassword in the config file)";

/** The default template renders the stats page with occsdemo/occspass. */
export function usesDemoCredentials(settings: Readonly<Settings>): boolean {
  const demo = settings.vars.statsUser === DEMO_STATS_USER && settings.vars.statsPassword === DEMO_STATS_PASSWORD;
  return demo && settings.resources.some((r) => r.template === DEFAULT_TEMPLATE);
}
