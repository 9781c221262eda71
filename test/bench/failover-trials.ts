import { httpGet } from '../support/haproxy-process.js';
import { median, ms, report } from './stats.js';
import type { Rig } from './watch.js';

/** What the failover benchmarks share: the trials, how a served change is timed, and the table. */

export const PREFIX = 'apps/bench/containers';
export const TRIALS = Number(process.env.OCCS_LB_BENCH_FAILOVER_TRIALS ?? 10);
/** A change not served this long after the fault is counted as never served in that trial. */
export const GIVE_UP_MS = Number(process.env.OCCS_LB_BENCH_FAILOVER_GIVE_UP_S ?? 90) * 1000;
/** The probe interval of the design: hangs are spread over it, a probe may be due at once or in 12 s. */
export const PROBE_INTERVAL_MS = 12_000;

export type Fault = 'kill' | 'hang';

/** Until a request through HAProxy is answered by `name`: the time from `since`, or Infinity after GIVE_UP_MS. */
export async function servedAfter(rig: Rig, name: string, since: number): Promise<number> {
  while (performance.now() - since < GIVE_UP_MS) {
    const answer = await httpGet(rig.frontend, '/', 1000).catch(() => undefined);
    if (answer?.body === name) return performance.now() - since;
  }
  return Infinity;
}

const shown = (t: number) => (Number.isFinite(t) ? ms(t) : `> ${GIVE_UP_MS / 1000} s`);

/** One table of a fault's trials: p50 / max against the goal, each trial, and the changes never served. */
export function reportFailover(fault: Fault, what: string, store: string, times: number[]): void {
  const lost = times.filter((t) => !Number.isFinite(t)).length;
  const goal = fault === 'kill' ? 'goal p50 <= 2 s, max <= 5 s' : 'goal max <= 15 s: the probe interval plus its timeout';
  report(`failover: ${what}, a change written through a live one at once: fault → served (${times.length} trials, ${store})`, [
    [`p50 / max (${goal})`, `${shown(median(times))} / ${shown(Math.max(...times))}`],
    ['each', times.map(shown).join(', ')],
    [`not served within ${GIVE_UP_MS / 1000} s (goal 0)`, String(lost)],
  ]);
}
