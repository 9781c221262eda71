import { reloadError, type OccsError } from '../errors.js';
import { pollUntil } from '../util/poll.js';
import { MasterSocketError, showProc } from './master-cli.js';
import type { ProcTable } from './show-proc.js';

const QUERY_TIMEOUT_MS = 2000;
/**
 * How long a master socket may refuse before it counts as gone. The master re-executes itself on
 * every reload, and its CLI is away for a moment then (and for a moment after start-up), so a
 * reload right after another must wait for it rather than fail.
 */
const MASTER_AWAY_MS = 2000;

/** The proc table before a reload, or exit 6 saying why the master cannot be reached. */
export async function masterBefore(socket: string): Promise<ProcTable> {
  let last: unknown;
  const table = await pollUntil(async () => {
    try {
      return await showProc(socket, QUERY_TIMEOUT_MS);
    } catch (error) {
      last = error;
      return undefined;
    }
  }, Date.now() + MASTER_AWAY_MS);
  if (!table) throw unreachable(socket, last);
  return table;
}

/** Exit 6 that says why the master socket could not be used. */
export function unreachable(socket: string, error: unknown): OccsError {
  const reason = error instanceof MasterSocketError ? error.reason : 'other';
  const what = {
    absent: `there is no master socket at ${socket}`,
    refused: `nothing listens on the master socket ${socket}`,
    timeout: `the master socket ${socket} does not answer`,
    garbled: `the socket ${socket} does not answer like an HAProxy master CLI`,
    other: `the master socket ${socket} cannot be used (${(error as Error).message})`,
  }[reason];
  return reloadError(reason === 'absent' || reason === 'refused' ? 'HAPROXY_NOT_RUNNING' : 'MASTER_SOCKET', what, {
    hint: 'is HAProxy running in master-worker mode (-W) with -S pointing at this path?',
    cause: error,
  });
}

/**
 * Waits until the master has processed a reload triggered after `before`, and proves it: a worker
 * that was not there before. In 2.6 the master's `reload` answers nothing, and a rejected config
 * leaves the old worker serving while `[failed: N]` goes up: that is a failed reload, exit 6.
 */
export async function verifyMasterReload(socket: string, before: ProcTable, deadline: number): Promise<number[]> {
  const known = new Set(before.workers.map((w) => w.pid));
  const outcome = await pollUntil(async () => {
    let now: ProcTable;
    try {
      now = await showProc(socket, QUERY_TIMEOUT_MS);
    } catch {
      return undefined; // the master re-executes itself during a reload; its socket comes back
    }
    if (now.master.reloads <= before.master.reloads) return undefined;
    const fresh = now.workers.filter((w) => !known.has(w.pid)).map((w) => w.pid);
    if (fresh.length > 0) return { ok: true as const, workers: fresh };
    if (now.master.failed > before.master.failed) return { ok: false as const, serving: now.workers.map((w) => w.pid) };
    return undefined;
  }, deadline);
  if (!outcome) {
    throw reloadError('RELOAD_TIMEOUT', `HAProxy did not finish the reload in time: no new worker appeared`, {
      hint: 'check HAProxy\'s log; raise --reload-timeout if reloads are slow here',
    });
  }
  if (!outcome.ok) {
    throw reloadError('RELOAD_REJECTED', `HAProxy rejected the reload: its master counted a failed reload, and worker ${outcome.serving.join(', ') || '(none)'} still serves the old config`, {
      hint: 'see the ALERT lines in HAProxy\'s log; `occs-lb validate FILE` shows them too',
    });
  }
  return outcome.workers;
}

/** `reload` over the master CLI, verified. Returns the workers before and after. */
export async function reloadViaMasterSocket(
  socket: string,
  trigger: () => Promise<void>,
  timeoutMs: number,
): Promise<{ before: number[]; after: number[] }> {
  const before = await masterBefore(socket);
  const deadline = Date.now() + timeoutMs;
  await trigger();
  const after = await verifyMasterReload(socket, before, deadline);
  return { before: before.workers.filter((w) => w.reloads === 0).map((w) => w.pid), after };
}
