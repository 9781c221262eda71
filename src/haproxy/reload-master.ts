import { existsSync } from 'node:fs';
import { reloadError, type OccsError } from '../errors.js';
import { pollUntil } from '../util/poll.js';
import { masterCommand, MasterSocketError, showProc } from './master-cli.js';
import { childPids, processAlive } from './process.js';
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
    other: `the master socket ${socket} cannot be used (${(error as Error)?.message})`,
  }[reason];
  return reloadError(reason === 'absent' || reason === 'refused' ? 'HAPROXY_NOT_RUNNING' : 'MASTER_SOCKET', what, {
    hint: 'is HAProxy running in master-worker mode (-W) with -S pointing at this path?',
    cause: error,
  });
}

/** Whether a worker has finished starting: it answers on its own CLI, through the master's. */
async function workerAnswers(socket: string, pid: number): Promise<boolean> {
  const answer = await masterCommand(socket, `@!${pid} show info`, QUERY_TIMEOUT_MS).catch(() => '');
  return new RegExp(`^Pid: ${pid}$`, 'm').test(answer);
}

type Outcome = { ok: true; workers: number[] } | { ok: false; code: 'HAPROXY_EXITED' | 'RELOAD_REJECTED' | 'RELOAD_NO_WORKER'; why: string };

/**
 * Waits until the master has processed a reload triggered after `before`, and proves it: a worker
 * that was not there before answers on its CLI (so it got past start-up). In 2.6 the master's
 * `reload` answers nothing, and a rejected config leaves the old worker serving while
 * `[failed: N]` goes up: that is a failed reload, exit 6. So is a master that died.
 */
export async function verifyMasterReload(socket: string, before: ProcTable, deadline: number): Promise<number[]> {
  const known = new Set(before.workers.map((w) => w.pid));
  let workerless = 0;
  const outcome = await pollUntil<Outcome>(async () => {
    let now: ProcTable;
    try {
      now = await showProc(socket, QUERY_TIMEOUT_MS);
    } catch {
      // The master re-executes itself during a reload and its socket comes back; unless it died.
      return processAlive(before.master.pid)
        ? undefined
        : { ok: false, code: 'HAPROXY_EXITED', why: `HAProxy's master (${before.master.pid}) exited during the reload: nothing serves now` };
    }
    if (now.master.reloads <= before.master.reloads) return undefined;
    const current = now.workers.filter((w) => w.current);
    const fresh = current.filter((w) => !known.has(w.pid)).map((w) => w.pid);
    if (fresh.length > 0) return (await workerAnswers(socket, fresh[0]!)) ? { ok: true, workers: fresh } : undefined;
    if (now.master.failed > before.master.failed) {
      return {
        ok: false,
        code: 'RELOAD_REJECTED',
        why: `HAProxy rejected the reload: its master counted a failed reload, and worker ${current.map((w) => w.pid).join(', ') || '(none)'} still serves the old config`,
      };
    }
    // A new worker that dies while starting (a chroot that fails, say) leaves a master with no
    // current worker at all, which `haproxy -c` could not foresee. Seen a few times in a row, it
    // is not the moment between re-exec and fork: nothing serves.
    workerless = current.length === 0 ? workerless + 1 : 0;
    if (workerless >= 3)
      return {
        ok: false,
        code: 'RELOAD_NO_WORKER',
        why: 'HAProxy has no running worker after the reload: the new worker exited while starting, and nothing serves now',
      };
    return undefined;
  }, deadline);
  if (!outcome) {
    throw reloadError('RELOAD_TIMEOUT', 'HAProxy did not finish the reload in time: no new worker came up', {
      hint: "check HAProxy's log; raise --reload-timeout if reloads are slow here",
    });
  }
  if (!outcome.ok) {
    throw reloadError(outcome.code, outcome.why, {
      hint: "see the ALERT lines in HAProxy's log; `occs-lb validate FILE` shows config problems too",
    });
  }
  return outcome.workers;
}

/** A reload over the master CLI (or a signal), verified. Returns the current workers before and after. */
export async function reloadViaMasterSocket(socket: string, trigger: () => Promise<void>, timeoutMs: number): Promise<{ before: number[]; after: number[] }> {
  const before = await masterBefore(socket);
  const deadline = Date.now() + timeoutMs;
  await trigger();
  const after = await verifyMasterReload(socket, before, deadline);
  return { before: before.workers.filter((w) => w.current).map((w) => w.pid), after };
}

/**
 * Waits until a freshly started master answers on its socket with a worker that answers too:
 * HAProxy is up. `gone` reports a process that exited meanwhile (the wait ends at once).
 */
export async function waitForMaster(socket: string, deadline: number, gone: () => string | undefined): Promise<number[]> {
  const result = await pollUntil(async () => {
    const exited = gone();
    if (exited) return { exited };
    try {
      const table = await showProc(socket, QUERY_TIMEOUT_MS);
      const current = table.workers.filter((w) => w.current).map((w) => w.pid);
      if (current.length > 0 && (await workerAnswers(socket, current[0]!))) return { workers: current };
    } catch {
      // not listening yet
    }
    return undefined;
  }, deadline);
  if (!result)
    throw reloadError('START_TIMEOUT', `HAProxy did not come up: its master socket ${socket} gave no running worker in time`, {
      hint: "see HAProxy's log above",
    });
  if ('exited' in result) throw reloadError('HAPROXY_EXITED', `HAProxy exited while starting (${result.exited})`, { hint: "see HAProxy's log above" });
  return result.workers;
}

function signalMaster(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw reloadError(code === 'EPERM' ? 'RELOAD_NOT_PERMITTED' : 'HAPROXY_NOT_RUNNING', `cannot signal HAProxy's master ${pid} (${code})`, {
      hint: code === 'EPERM' ? 'run occs-lb as the user HAProxy runs as (or root)' : 'is HAProxy still running?',
    });
  }
}

/**
 * SIGUSR2 to a master-worker master, verified over its master socket when there is one, else by
 * a new child process (slower to call a failure: only the deadline can). A socket file deleted
 * under a running master (a cleaner of /tmp, say) counts as none: the master binds it again as
 * it re-executes, so the next reload and the runtime API have it back.
 */
export async function reloadMasterWorker(master: number, socket: string | undefined, timeoutMs: number): Promise<{ before: number[]; after: number[] }> {
  if (socket && existsSync(socket)) return reloadViaMasterSocket(socket, async () => signalMaster(master, 'SIGUSR2'), timeoutMs);
  const before = childPids(master);
  signalMaster(master, 'SIGUSR2');
  const after = await pollUntil(() => {
    if (!processAlive(master)) return 'master exited' as const;
    const fresh = childPids(master).filter((pid) => !before.includes(pid));
    return fresh.length > 0 ? fresh : undefined;
  }, Date.now() + timeoutMs);
  if (after === 'master exited') {
    throw reloadError('HAPROXY_EXITED', `HAProxy's master (${master}) exited during the reload: nothing serves now`, { hint: "see HAProxy's log" });
  }
  if (!after) {
    throw reloadError(
      'RELOAD_TIMEOUT',
      `HAProxy's master ${master} started no new worker within ${timeoutMs}ms; worker ${before.join(', ') || '(none)'} still serves`,
      {
        hint: "the new config was probably refused: see HAProxy's log, or start it with -S SOCKET so occs-lb can read the reason",
      },
    );
  }
  return { before, after };
}
