import { pollUntil } from '../util/poll.js';
import type { BackendChanges } from './config-diff.js';
import { canonicalHost, weightOf, type ServerLine } from './server-line.js';
import { expectAll, runtimeCommand, runtimeRefused, said, type RuntimeChannel } from './runtime-channel.js';
import { fewReads, readBack, type Expected, type FewReads } from './readback.js';
import { ServerIds } from './server-ids.js';

const address = (s: ServerLine): string => (s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`);

/**
 * The idle-connection pool settings every config-file server gets by default (purge delay 5 s,
 * no limit on idle connections). HAProxy 2.6 before 2.6.18 does not copy them to a server made
 * by `add server` (upstream fix 8a31783b6): both stay 0, so HAProxy keeps none of its backend
 * connections and opens one per request (measured: 1.0 request per connection, a third of the
 * throughput). Both must be given; either alone still gives one request per connection. A server
 * line that sets one keeps its own value.
 */
const POOL_DEFAULTS: ReadonlyArray<readonly [string, string]> = [
  ['pool-purge-delay', '5s'],
  ['pool-max-conn', '-1'],
];

/**
 * The words of the `add server` command for a server line: its options, then the pool settings it
 * lacks, then `id` when one is given and the line sets none.
 */
export function addServerWords(backend: string, s: ServerLine, id?: number): string[] {
  const pool = POOL_DEFAULTS.filter(([keyword]) => !s.options.includes(keyword)).flat();
  const own = id !== undefined && !s.options.includes('id') ? ['id', String(id)] : [];
  // A server added at runtime starts in maintenance; `disabled` would mark it as the config does, a mark `state ready` leaves.
  const options = s.options.filter((o) => o !== 'disabled');
  return ['add', 'server', `${backend}/${s.name}`, address(s), ...options, ...pool, ...own];
}

/** Below this many servers added to a backend whose ids are not known, HAProxy numbers them (reading the state costs more). */
const LEARN_IDS_FROM = 8;

type Touched = { backend: string; server: ServerLine };
const idOf = (t: Touched) => `${t.backend}/${t.server.name}`;

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
 * Applies server changes to the running HAProxy, with no reload: new servers first (`add server`
 * with the file's options and the pool settings of a config-file server, `enable health` when
 * checked, `enable server` unless the file says `disabled`), then new addresses (`set server …
 * addr … port …`), then new weights and states (`set server … weight`, `set server … state
 * ready|maint`), then `beforeRemovals` (the routes), then removals (maintenance, wait for the
 * sessions to end within `drainTimeoutMs`, `del server`), so a backend is never emptier than
 * both its before and after.
 * Each step goes in as few requests as the CLI takes, however many servers. Then reads back the
 * servers touched and compares. Throws RUNTIME_REFUSED.
 */
export async function applyAtRuntime(
  channel: RuntimeChannel,
  backends: BackendChanges[],
  drainTimeoutMs: number,
  ids = new ServerIds(),
  beforeRemovals: () => Promise<void> = async () => {},
): Promise<void> {
  for (const b of backends) {
    if (b.added.length >= LEARN_IDS_FROM && !ids.known(b.backend))
      ids.learn(b.backend, await channel.send(runtimeCommand('show', 'servers', 'state', b.backend)));
  }
  for (const b of backends) for (const s of b.removed) ids.drop(b.backend, s.name);
  const added = backends.flatMap((b) => b.added.map((server) => ({ backend: b.backend, server })));
  const adds = added.flatMap((t) => [
    runtimeCommand(...addServerWords(t.backend, t.server, ids.take(t.backend, t.server.options.includes('id') ? undefined : t.server.name))),
    ...(t.server.options.includes('check') ? [runtimeCommand('enable', 'health', idOf(t))] : []),
    ...(t.server.options.includes('disabled') ? [] : [runtimeCommand('enable', 'server', idOf(t))]),
  ]);
  const shaped = backends.flatMap((b) => (b.shaped ?? []).map((server) => ({ backend: b.backend, server })));
  const shapes = shaped.flatMap((t) => [
    runtimeCommand('set', 'server', idOf(t), 'weight', String(weightOf(t.server))),
    runtimeCommand('set', 'server', idOf(t), 'state', t.server.options.includes('disabled') ? 'maint' : 'ready'),
  ]);
  if (await atOnce(channel, backends, adds, shapes, ids, beforeRemovals)) return;
  await expectAll(channel, adds, /^New server registered\.$/, added.length, `add ${added.length} servers`);
  const moved = backends.flatMap((b) => b.moved.map((m) => ({ backend: b.backend, server: m.to })));
  const moves = moved.map((t) => runtimeCommand('set', 'server', idOf(t), 'addr', t.server.host, 'port', String(t.server.port)));
  await expectAll(channel, moves, /changed|no need to change/i, moved.length, `move ${moved.length} servers`);
  await expectAll(channel, shapes, /^$/, 0, `set the weight and state of ${shaped.length} servers`);
  await beforeRemovals();
  const first = await removedAtOnce(channel, backends);
  if (first?.verified) return;
  const removed = backends.flatMap((b) => b.removed.map((server) => ({ backend: b.backend, server })));
  await removeAll(channel, first?.left ?? removed, drainTimeoutMs, first !== undefined);
  for (const b of backends) await verify(channel, b, ids);
}

/**
 * Servers added or reshaped in one backend, nothing moved or removed, a few whose ids are known:
 * the commands and the read-back go in one request (one round trip, not two). The read's answer
 * starts at its first `# pxname` line (every read is a `show stat`); before it, HAProxy must have
 * said "New server registered." once per server added, and nothing else. False when the change
 * is not such a one (the caller goes step by step).
 */
async function atOnce(
  channel: RuntimeChannel,
  backends: BackendChanges[],
  adds: string[],
  shapes: string[],
  ids: ServerIds,
  beforeRemovals: () => Promise<void>,
): Promise<boolean> {
  const [b] = backends;
  if (!b || backends.length > 1 || b.moved.length > 0 || b.removed.length > 0 || adds.length + shapes.length === 0) return false;
  const reads = fewReads(b.backend, expectedOf(b), ids);
  if (!reads || !reads.commands.every((c) => c.startsWith('show stat '))) return false;
  const answer = await channel.sendAll([...adds, ...shapes, ...reads.commands]);
  const at = /^# /m.exec(answer)?.index ?? answer.length;
  const lines = said(answer.slice(0, at));
  if (lines.length !== b.added.length || !lines.every((l) => /^New server registered\.$/.test(l))) {
    const what = [b.added.length > 0 && `add ${b.added.length} servers`, shapes.length > 0 && `set the weight and state of ${shapes.length / 2} servers`];
    const refused = lines.filter((l) => !/^New server registered\.$/.test(l));
    throw runtimeRefused(
      `HAProxy refused to ${what.filter(Boolean).join(' and ')}: ${refused.slice(0, 3).join(' | ') || `${lines.length} of ${b.added.length} answered`}`,
    );
  }
  await beforeRemovals();
  await verify(channel, b, ids, { reads, answer: answer.slice(at) });
  return true;
}

/**
 * Servers removed from one backend, nothing else changed: maintenance, `del server` and the
 * read-back (`get weight`: "No such server.") in one request, which takes a server that has no
 * session at once. `verified` when HAProxy deleted every one and reads none back; else the servers
 * it did not delete (`left`), to drain as any removal, then read back; undefined when it is not
 * such a change, or the answer cannot be told apart (the caller goes step by step from the start).
 */
async function removedAtOnce(channel: RuntimeChannel, backends: BackendChanges[]): Promise<{ verified: boolean; left: Touched[] } | undefined> {
  const [b] = backends;
  if (!b || backends.length > 1 || b.added.length + b.moved.length + (b.shaped?.length ?? 0) > 0) return undefined;
  if (b.removed.length === 0 || b.removed.length > NARROW_REMOVALS) return undefined;
  const gone = b.removed.map((server) => ({ backend: b.backend, server }));
  const commands = [
    ...gone.map((t) => runtimeCommand('set', 'server', idOf(t), 'state', 'maint')),
    ...gone.map((t) => runtimeCommand('del', 'server', idOf(t))),
    ...gone.map((t) => runtimeCommand('get', 'weight', idOf(t))),
  ];
  // Maintenance answers nothing, each `del` and each `get weight` one line.
  const lines = said(await channel.sendAll(commands));
  const n = gone.length;
  if (lines.length !== 2 * n) return undefined;
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
async function removeAll(channel: RuntimeChannel, servers: Touched[], drainTimeoutMs: number, tried = false): Promise<void> {
  if (servers.length === 0) return;
  const maint = servers.map((t) => runtimeCommand('set', 'server', idOf(t), 'state', 'maint'));
  // In maintenance and refused once already (removedAtOnce): their idle connections are closed, as after any refusal.
  if (tried) await channel.sendAll(servers.map((t) => closeIdle(t, 0)));
  else await expectAll(channel, maint, /^$/, 0, 'put the servers removed in maintenance');
  let left = (await deleteUntil(channel, servers, Date.now() + drainTimeoutMs, tried ? 1 : 0)).left;
  if (left.length === 0) return;
  const shut = left.map((t) => runtimeCommand('shutdown', 'sessions', 'server', idOf(t)));
  await expectAll(channel, shut, /^$/, 0, 'shut the sessions of the servers removed');
  const after = await deleteUntil(channel, left, Date.now() + AFTER_SHUTDOWN_MS);
  left = after.left;
  if (left.length > 0) throw runtimeRefused(`HAProxy refused "del server ${idOf(left[0]!)}": ${after.last}`);
}

/**
 * `del server` for `servers` in one batch a try, until HAProxy has taken them all or the deadline
 * passes; returns those left and HAProxy's last refusal. HAProxy 2.6 refuses while a server has
 * sessions (cur_sess), idle pooled connections (curr_idle_conns) or a queue. Maintenance closes
 * the idle connections of a server that was up, not of one already DOWN (failed checks); and a
 * session ending in maintenance hands its connection back to the pool, also just after a flush.
 * Those go only as the pool is purged, half the surplus every pool-purge-delay (measured: 28 s):
 * every refusal closes the idle connections of the servers left again. A server already gone
 * counts as deleted.
 */
async function deleteUntil(channel: RuntimeChannel, servers: Touched[], deadline: number, flushed = 0): Promise<{ left: Touched[]; last: string }> {
  let left = servers;
  let last = '';
  let flushes = flushed;
  await pollUntil(async () => {
    const answers = said(await channel.sendAll(left.map((t) => runtimeCommand('del', 'server', idOf(t)))));
    if (answers.length === left.length) {
      last = answers.find((a) => !DELETED.test(a)) ?? '';
      left = left.filter((_, i) => !DELETED.test(answers[i]!));
    }
    if (left.length === 0) return true;
    const n = flushes++;
    await channel.sendAll(left.map((t) => closeIdle(t, n)));
    return undefined;
  }, deadline);
  return { left, last };
}

const DELETED = /^Server deleted\.|^No such server/;

/** What a change asks of a backend's servers: each added, moved or reshaped one as its line, each removed one gone. */
const expectedOf = (b: BackendChanges): Expected =>
  new Map([
    ...b.added.map((s) => [s.name, s] as const),
    ...b.moved.map((m) => [m.to.name, m.to] as const),
    ...(b.shaped ?? []).map((s) => [s.name, s] as const),
    ...b.removed.map((s) => [s.name, undefined] as const),
  ]);

/**
 * Reads back what the change touched (see readBack: the servers themselves when few, else the
 * whole backend). Each added, moved or reshaped one must be there, at its address, with its
 * weight, in maintenance only when its line says `disabled`; each removed one gone.
 */
async function verify(channel: RuntimeChannel, b: BackendChanges, ids: ServerIds, answered?: { reads: FewReads; answer: string }): Promise<void> {
  const expected = expectedOf(b);
  const running = await readBack(channel, b.backend, expected, ids, answered);
  const problems: string[] = [];
  for (const [name, s] of expected) {
    const r = running.get(name);
    if (!s) {
      if (r) problems.push(`${name} should be gone`);
    } else if (!r) problems.push(`${name} is missing`);
    else if (r.addr !== canonicalHost(s.host) || r.port !== s.port) problems.push(`${name} is at ${r.addr}:${r.port}, not ${address(s)}`);
    else if (r.maint !== s.options.includes('disabled')) problems.push(`${name} is ${r.maint ? '' : 'not '}in maintenance`);
    else if (r.weight !== weightOf(s)) problems.push(`${name} has weight ${r.weight}, not ${weightOf(s)}`);
  }
  if (problems.length > 0) throw runtimeRefused(`backend ${b.backend} is not as asked after the runtime changes: ${problems.join('; ')}`);
}
