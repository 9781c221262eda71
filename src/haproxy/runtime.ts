import type { BackendChanges } from './config-diff.js';
import { canonicalHost, weightOf, type ServerLine } from './server-line.js';
import { expectAll, runtimeCommand, runtimeRefused, said, type RuntimeChannel } from './runtime-channel.js';
import { fewReads, readBack, type Expected, type ReadAnswer } from './readback.js';
import { idOf, removeAll, removedAtOnce } from './runtime-removal.js';
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
    const what = [b.added.length > 0 && `add ${b.added.length} servers`, shapes.length > 0 && `set the weight and state of ${b.shaped?.length ?? 0} servers`];
    const refused = lines.filter((l) => !/^New server registered\.$/.test(l));
    throw runtimeRefused(
      `HAProxy refused to ${what.filter(Boolean).join(' and ')}: ${refused.slice(0, 3).join(' | ') || `${lines.length} of ${b.added.length} answered`}`,
    );
  }
  await beforeRemovals();
  await verify(channel, b, ids, { reads, answer: answer.slice(at) });
  return true;
}

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
async function verify(channel: RuntimeChannel, b: BackendChanges, ids: ServerIds, answered?: ReadAnswer): Promise<void> {
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
