import { pollUntil } from '../util/poll.js';
import type { BackendChanges } from './config-diff.js';
import { canonicalHost, weightOf, type ServerLine } from './server-line.js';
import { expectAll, runtimeCommand, runtimeRefused, said, type RuntimeChannel } from './runtime-channel.js';
import { readBack, type Expected } from './readback.js';
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

/** An address change (to another port) closes a server's idle pooled connections at once: for a server in maintenance, about to go. */
const closeIdle = (t: Touched) => runtimeCommand('set', 'server', idOf(t), 'addr', t.server.host, 'port', t.server.port === 1 ? '2' : '1');

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
  await expectAll(channel, adds, /^New server registered\.$/, added.length, `add ${added.length} servers`);
  const moved = backends.flatMap((b) => b.moved.map((m) => ({ backend: b.backend, server: m.to })));
  const moves = moved.map((t) => runtimeCommand('set', 'server', idOf(t), 'addr', t.server.host, 'port', String(t.server.port)));
  await expectAll(channel, moves, /changed|no need to change/i, moved.length, `move ${moved.length} servers`);
  const shaped = backends.flatMap((b) => (b.shaped ?? []).map((server) => ({ backend: b.backend, server })));
  const shapes = shaped.flatMap((t) => [
    runtimeCommand('set', 'server', idOf(t), 'weight', String(weightOf(t.server))),
    runtimeCommand('set', 'server', idOf(t), 'state', t.server.options.includes('disabled') ? 'maint' : 'ready'),
  ]);
  await expectAll(channel, shapes, /^$/, 0, `set the weight and state of ${shaped.length} servers`);
  await beforeRemovals();
  await removeAll(
    channel,
    backends.flatMap((b) => b.removed.map((server) => ({ backend: b.backend, server }))),
    drainTimeoutMs,
  );
  for (const b of backends) await verify(channel, b, ids);
}

/**
 * Removes servers, all together: maintenance at once (no new requests; those in flight go on),
 * then `del server` until HAProxy takes it — it refuses while a server still has sessions —
 * for at most `drainTimeoutMs`; then the sessions left are shut and the rest deleted. Every
 * step is one batch for all the servers, so its cost does not grow with the size of the backend.
 */
async function removeAll(channel: RuntimeChannel, servers: Touched[], drainTimeoutMs: number): Promise<void> {
  if (servers.length === 0) return;
  const maint = servers.map((t) => runtimeCommand('set', 'server', idOf(t), 'state', 'maint'));
  await expectAll(channel, maint, /^$/, 0, 'put the servers removed in maintenance');
  let left = servers;
  let flushed = false;
  await pollUntil(async () => {
    left = await deleteSome(channel, left);
    if (left.length > 0 && !flushed) {
      // Idle pooled connections keep a server from going too (see deleteOne): close them.
      flushed = true;
      await channel.sendAll(left.map(closeIdle));
    }
    return left.length === 0 ? true : undefined;
  }, Date.now() + drainTimeoutMs);
  if (left.length === 0) return;
  const shut = left.map((t) => runtimeCommand('shutdown', 'sessions', 'server', idOf(t)));
  await expectAll(channel, shut, /^$/, 0, 'shut the sessions of the servers removed');
  for (const t of left) await deleteOne(channel, t);
}

/** One batch of `del server`; returns the servers HAProxy did not delete yet (one answer line per command). */
async function deleteSome(channel: RuntimeChannel, servers: Touched[]): Promise<Touched[]> {
  const answers = said(await channel.sendAll(servers.map((t) => runtimeCommand('del', 'server', idOf(t)))));
  if (answers.length !== servers.length) return servers;
  return servers.filter((_, i) => !/^Server deleted\.|^No such server/.test(answers[i]!));
}

/**
 * `del server` for one server that would not go. HAProxy 2.6 keeps the pooled idle connections
 * of a server that was already DOWN (failed checks) when put in maintenance, and those a session
 * hands back to the pool just after: they go only as the pool is purged, half the surplus every
 * pool-purge-delay (measured: 28 s). An address change closes a server's idle connections at
 * once: on the first refusal, the server (in maintenance, about to go) is pointed elsewhere. A
 * server already gone counts as deleted.
 */
async function deleteOne(channel: RuntimeChannel, t: Touched): Promise<void> {
  let last = '';
  let flushed = false;
  const deleted = await pollUntil(async () => {
    last = (await channel.send(runtimeCommand('del', 'server', idOf(t)))).trim();
    if (/^Server deleted\.|^No such server/.test(last)) return true;
    if (!flushed && /connections/i.test(last)) {
      flushed = true;
      await channel.send(closeIdle(t));
    }
    return undefined;
  }, Date.now() + 1000);
  if (!deleted) throw runtimeRefused(`HAProxy refused "del server ${idOf(t)}": ${last}`);
}

/**
 * Reads back what the change touched (see readBack: the servers themselves when few, else the
 * whole backend). Each added, moved or reshaped one must be there, at its address, with its
 * weight, in maintenance only when its line says `disabled`; each removed one gone.
 */
async function verify(channel: RuntimeChannel, b: BackendChanges, ids: ServerIds): Promise<void> {
  const expected: Expected = new Map([
    ...b.added.map((s) => [s.name, s] as const),
    ...b.moved.map((m) => [m.to.name, m.to] as const),
    ...(b.shaped ?? []).map((s) => [s.name, s] as const),
    ...b.removed.map((s) => [s.name, undefined] as const),
  ]);
  const running = await readBack(channel, b.backend, expected, ids);
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
