import { asOccsError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Outcome, Rendering } from '../plan/plan.js';
import type { Executor } from './executor.js';
import type { HaproxyView } from './haproxy-view.js';
import type { RenderingNotes } from './notes.js';
import type { Planner } from './planner.js';

export interface SyncParts {
  planner: Planner;
  executor: Executor;
  view: HaproxyView;
  notes: RenderingNotes;
  log: Logger;
}

/**
 * One pass of the pipeline over a rendering, the same for the watch loop and `watch --once`:
 * tell what it skipped, refuse it if the rules say so, decide the change against the view of
 * what HAProxy runs, carry it out, and tell the view how it went. Throws the refusal or the
 * failure (the view has recorded it); what was installed stays as it was.
 */
export async function syncOnce(parts: SyncParts, rendering: Rendering, forced = false): Promise<Outcome> {
  const { planner, view, notes } = parts;
  notes.entriesOf(rendering);
  const refusal = planner.refusal(rendering);
  if (refusal) throw refusal;
  try {
    const outcome = await carryOut(parts, rendering, forced);
    notes.emptinessOf(rendering);
    view.record(outcome);
    return outcome;
  } catch (error) {
    const occs = asOccsError(error);
    view.record(occs);
    // HAProxy may now run something else than the files say: set it back to them at once.
    await parts.executor.resync();
    throw occs;
  }
}

/**
 * Carries out the decided change. A runtime change HAProxy did not take (a refused command, a
 * read-back that differs, a reload meanwhile) may have left part of it in HAProxy: the view
 * hears so, and the decision made again reloads.
 */
async function carryOut(parts: SyncParts, rendering: Rendering, forced: boolean): Promise<Outcome> {
  const { planner, executor, view, log } = parts;
  const change = planner.changeFor(rendering, forced);
  try {
    return await executor.execute(change, rendering.backends);
  } catch (error) {
    if (change.kind !== 'runtime') throw error;
    const why = asOccsError(error).message;
    log.warn(`the runtime API did not take the change (${why}); reloading instead`);
    view.apart('the runtime API may have taken part of a change');
    return { ...(await executor.execute(planner.changeFor(rendering, forced), rendering.backends)), runtimeFallback: why };
  }
}
