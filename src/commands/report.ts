import { DEMO_STATS_PASSWORD, DEMO_STATS_USER, type Settings } from '../config/settings.js';
import type { Logger } from '../log.js';
import { DEFAULT_TEMPLATE, STACK_TEMPLATE } from '../paths.js';
import type { Rendering } from '../plan/plan.js';
import { emptyPrefixLine, entryFields, missingDefaultLine, renamedLine, skippedLine } from '../plan/rules.js';

/**
 * Tells the user what rendering left out, renamed or found empty, one line each. With --strict
 * a skipped entry fails the run (exit 5) before anything is written.
 */
export function reportRendering(settings: Readonly<Settings>, rendering: Rendering, store: string, log: Logger): void {
  if (rendering.strict) throw rendering.strict;
  for (const notice of settings.notices) log.warn(notice);
  for (const n of rendering.notices) log.warn(n.message, { key: n.key });
  for (const s of rendering.skipped) log.warn(skippedLine(s), entryFields(s));
  for (const r of rendering.renamed) log.warn(renamedLine(r), { key: r.key, name: r.to });
  for (const empty of rendering.emptyPrefixes) log.warn(emptyPrefixLine(store, empty), { prefix: empty.prefix });
  const missing = missingDefaultLine(rendering.resources);
  if (missing) log.warn(missing);
  for (const note of rendering.resources.flatMap((r) => r.tls?.notes ?? [])) log.warn(note);
  if (usesDemoCredentials(settings)) log.warn(DEMO_CREDENTIALS_WARNING);
}

export const DEMO_CREDENTIALS_WARNING =
  "the stats page uses the old image's demo credentials (set OCCS_LB_STATS_USER and OCCS_LB_STATS_PASSWORD, or statsUser/statsPassword in the config file)";

/** The shipped templates render the stats page with occsdemo/occspass. */
export function usesDemoCredentials(settings: Readonly<Settings>): boolean {
  const demo = settings.vars.statsUser === DEMO_STATS_USER && settings.vars.statsPassword === DEMO_STATS_PASSWORD;
  return demo && settings.resources.some((r) => r.template === DEFAULT_TEMPLATE || r.template === STACK_TEMPLATE);
}
