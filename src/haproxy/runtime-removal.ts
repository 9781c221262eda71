import type { BackendChanges } from './config-diff.js';
import type { ServerLine } from './server-line.js';
import { expectAll, runtimeCommand, runtimeRefused, said, type RuntimeChannel } from './runtime-channel.js';
import { pollUntil } from '../util/poll.js';

/** A server a change touches, in its backend. */
export type Touched = { backend: string; server: ServerLine };
export const idOf = (t: Touched) => `${t.backend}/${t.server.name}`;
const maintOf = (t: Touched) => runtimeCommand('set', 'server', idOf(t), 'state', 'maint');
const deleteOf = (t: Touched) => runtimeCommand('del', 'server', idOf(t));

/**
 * An address change closes a server's idle pooled connections at once (HAProxy 2.6
 * srv_update_addr_port: srv_cleanup_connections, but only when the address or port really
 * changes; the same address again is "no need to change" and closes nothing). For a server in
 * maintenance, about to go: the `n`th flush points it at port 1, 2 or 3, never its own nor the
 * one the flush before chose, so every flush is a change.
 */
const closeIdle = (t: Touched, n: number) =>
  runtimeCommand('set', 'server', idOf(t), 'addr', t.server.host, 'port', String([1, 2, 3].filter((p) => p !== t.server.port)[n % 2]));

/**
 * Servers removed from one backend, nothing else changed: maintenance, `del server` and the
 * read-back (`get weight`: "No such server.") in one request, which takes a server that has no
 * session at once. `verified` when HAProxy deleted every one and reads none back; else the servers
 * it did not delete (`left`), to drain as any removal, then read back; undefined when it is not
 * such a change. Throws RUNTIME_REFUSED when maintenance was refused (or the answer cut short).
 */
export async function removedAtOnce(channel: RuntimeChannel, backends: BackendChanges[]): Promise<{ verified: boolean; left: Touched[] } | undefined> {
  const [b] = backends;
  if (!b || backends.length > 1 || b.added.length + b.moved.length + (b.shaped?.length ?? 0) > 0) return undefined;
  if (b.removed.length === 0 || b.removed.length > NARROW_REMOVALS) return undefined;
  const gone = b.removed.map((server) => ({ backend: b.backend, server }));
  const commands = [...gone.map(maintOf), ...gone.map(deleteOf), ...gone.map((t) => runtimeCommand('get', 'weight', idOf(t)))];
  // Maintenance answers nothing, each `del` and each `get weight` one line.
  const lines = said(await channel.sendAll(commands));
  const n = gone.length;
  // More lines: maintenance refused for some (they come first); fewer: the answer was cut.
  if (lines.length !== 2 * n) {
    const refused = lines.length > 2 * n ? lines.slice(0, Math.min(lines.length - 2 * n, 3)).join(' | ') : `${lines.length} of ${2 * n} answered`;
    throw runtimeRefused(`HAProxy refused to put the servers removed in maintenance: ${refused}`);
  }
  const left = gone.filter((_, i) => !DELETED.test(lines[i]!));
  return { verified: left.length === 0 && lines.slice(n).every((l) => l === 'No such server.'), left };
}

/** Up to this many servers removed at once try the single request of removedAtOnce. */
const NARROW_REMOVALS = 64;

/**
 * How long `del server` is tried after `shutdown sessions`: HAProxy kills those sessions at the
 * next pass of their thread (milliseconds), and a connection one hands back to the idle pool is
 * closed at the next try; 2 s leaves a loaded 2-core machine room, and bounds a removal at the
 * drain timeout plus 2 s before it falls back to a reload.
 */
const AFTER_SHUTDOWN_MS = 2000;

/**
 * Removes servers, all together: maintenance at once (no new requests; those in flight go on),
 * then `del server` until HAProxy takes it — it refuses while a server still has sessions —
 * for at most `drainTimeoutMs`; then the sessions left are shut and the rest deleted within
 * AFTER_SHUTDOWN_MS. Every step is one batch for all the servers, so its cost does not grow
 * with the size of the backend.
 */
export async function removeAll(channel: RuntimeChannel, servers: Touched[], drainTimeoutMs: number, tried = false): Promise<void> {
  if (servers.length === 0) return;
  // In maintenance and refused once already (removedAtOnce): their idle connections are closed, as after any refusal.
  if (tried) await channel.sendAll(servers.map((t) => closeIdle(t, 0)));
  else await expectAll(channel, servers.map(maintOf), /^$/, 0, 'put the servers removed in maintenance');
  const drained = await deleteUntil(channel, servers, Date.now() + drainTimeoutMs, tried ? 1 : 0);
  let left = drained.left;
  if (left.length === 0) return;
  const shut = left.map((t) => runtimeCommand('shutdown', 'sessions', 'server', idOf(t)));
  await expectAll(channel, shut, /^$/, 0, 'shut the sessions of the servers removed');
  // The flushes go on alternating: one to the port the last chose would change nothing.
  const after = await deleteUntil(channel, left, Date.now() + AFTER_SHUTDOWN_MS, drained.flushes);
  left = after.left;
  if (left.length > 0) throw runtimeRefused(`HAProxy refused "del server ${idOf(left[0]!)}": ${after.last}`);
}

/**
 * `del server` for `servers` in one batch a try, until HAProxy has taken them all or the deadline
 * passes; returns those left, HAProxy's last refusal and the flushes made. HAProxy 2.6 refuses while a server has
 * sessions (cur_sess), idle pooled connections (curr_idle_conns) or a queue. Maintenance closes
 * the idle connections of a server that was up, not of one already DOWN (failed checks); and a
 * session ending in maintenance hands its connection back to the pool, also just after a flush.
 * Those go only as the pool is purged, half the surplus every pool-purge-delay (measured: 28 s):
 * every refusal closes the idle connections of the servers left again. A server already gone
 * counts as deleted.
 */
async function deleteUntil(
  channel: RuntimeChannel,
  servers: Touched[],
  deadline: number,
  flushed = 0,
): Promise<{ left: Touched[]; last: string; flushes: number }> {
  let left = servers;
  let last = '';
  let flushes = flushed;
  await pollUntil(async () => {
    const answers = said(await channel.sendAll(left.map(deleteOf)));
    if (answers.length === left.length) {
      last = answers.find((a) => !DELETED.test(a)) ?? '';
      left = left.filter((_, i) => !DELETED.test(answers[i]!));
    }
    if (left.length === 0) return true;
    const n = flushes++;
    await channel.sendAll(left.map((t) => closeIdle(t, n)));
    return undefined;
  }, deadline);
  return { left, last, flushes };
}

const DELETED = /^Server deleted\.|^No such server/;
