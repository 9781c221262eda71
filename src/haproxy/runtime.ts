import { OccsError } from '../errors.js';
import { pollUntil } from '../util/poll.js';
import { canonicalHost, type BackendChanges, type ServerLine } from './config-diff.js';
import { masterCommand } from './master-cli.js';

/** A way to reach the running worker's CLI: an admin `stats socket`, or the master's with `@1`. */
export interface RuntimeChannel {
  readonly description: string;
  send(command: string): Promise<string>;
}

const COMMAND_TIMEOUT_MS = 2000;

export function runtimeChannel(kind: 'master' | 'admin', socket: string): RuntimeChannel {
  const description = kind === 'master' ? `the master CLI ${socket} (@1)` : `the admin socket ${socket}`;
  return {
    description,
    send: (command) =>
      masterCommand(socket, kind === 'master' ? `@1 ${command}` : command, COMMAND_TIMEOUT_MS).catch((error: unknown) => {
        throw runtimeRefused(`${description} cannot be used (${(error as Error).message})`, error);
      }),
  };
}

/** HAProxy refused a runtime command, or its state afterwards is not what was asked. */
export const runtimeRefused = (message: string, cause?: unknown): OccsError =>
  new OccsError('RUNTIME_REFUSED', message, { hint: 'the change goes by a verified reload instead', cause });

const WORD = /^[A-Za-z0-9._:/[\]@,-]+$/;

/**
 * A runtime command from words, each held to a strict character set: the runtime API chains
 * commands with `;`, so no word with `;`, a space or a line break can ever be sent.
 */
export function runtimeCommand(...words: string[]): string {
  for (const word of words) {
    if (!WORD.test(word)) throw runtimeRefused(`refusing to send ${JSON.stringify(word)} to the runtime API`);
  }
  return words.join(' ');
}

const address = (s: ServerLine): string => (s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`);

async function expect(channel: RuntimeChannel, command: string, ok: RegExp): Promise<void> {
  const answer = (await channel.send(command)).trim();
  if (!ok.test(answer)) throw runtimeRefused(`HAProxy refused "${command}": ${answer || '(no answer)'}`);
}

const EMPTY = /^$/;

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

/** The words of the `add server` command for a server line: its options, then the pool settings it lacks. */
export function addServerWords(backend: string, s: ServerLine): string[] {
  const pool = POOL_DEFAULTS.filter(([keyword]) => !s.options.includes(keyword)).flat();
  return ['add', 'server', `${backend}/${s.name}`, address(s), ...s.options, ...pool];
}

/**
 * Applies server changes to the running HAProxy, with no reload: new servers first (`add server`
 * with the file's options and the pool settings of a config-file server, `enable health` when
 * checked, `enable server`), then new addresses (`set server … addr … port …`), then removals
 * (drain, wait for the sessions to end within `drainTimeoutMs`, maintenance, `del server`), so a
 * backend is never emptier than both its before and after. Then reads back `show servers state`
 * and compares. Throws RUNTIME_REFUSED.
 */
export async function applyAtRuntime(channel: RuntimeChannel, backends: BackendChanges[], drainTimeoutMs: number): Promise<void> {
  for (const b of backends) {
    for (const s of b.added) {
      const id = `${b.backend}/${s.name}`;
      await expect(channel, runtimeCommand(...addServerWords(b.backend, s)), /^New server registered\./);
      if (s.options.includes('check')) await expect(channel, runtimeCommand('enable', 'health', id), EMPTY);
      await expect(channel, runtimeCommand('enable', 'server', id), EMPTY);
    }
    for (const { to } of b.moved) {
      const id = `${b.backend}/${to.name}`;
      await expect(channel, runtimeCommand('set', 'server', id, 'addr', to.host, 'port', String(to.port)), /changed|no need to change/i);
    }
  }
  await removeAll(
    channel,
    backends.flatMap((b) => b.removed.map((s) => ({ backend: b.backend, server: s }))),
    drainTimeoutMs,
  );
  for (const b of backends) await verify(channel, b);
}

type Removal = { backend: string; server: ServerLine };

/**
 * Removes servers: all are set to drain at once and given one shared `drainTimeoutMs` for their
 * sessions to end (then the rest are shut), then maintenance and `del server`.
 */
async function removeAll(channel: RuntimeChannel, servers: Removal[], drainTimeoutMs: number): Promise<void> {
  if (servers.length === 0) return;
  const id = (s: Removal) => `${s.backend}/${s.server.name}`;
  for (const s of servers) await expect(channel, runtimeCommand('set', 'server', id(s), 'state', 'drain'), EMPTY);
  let busy = servers;
  await pollUntil(async () => {
    const left: Removal[] = [];
    for (const s of busy) if ((await sessions(channel, s.backend, s.server.name)) > 0) left.push(s);
    busy = left;
    return busy.length === 0 ? true : undefined;
  }, Date.now() + drainTimeoutMs);
  for (const s of busy) await expect(channel, runtimeCommand('shutdown', 'sessions', 'server', id(s)), EMPTY);
  for (const s of servers) {
    await expect(channel, runtimeCommand('set', 'server', id(s), 'state', 'maint'), EMPTY);
    // `del server` is refused while the server has sessions or pooled idle connections. Going
    // from UP to maintenance closes the idle ones, and a session that just ended is gone within
    // moments: retry for a second. But HAProxy 2.6 does not close them for a server that was
    // already DOWN (failed checks) when put in maintenance, nor those a session hands back to
    // the pool just after: those go only as the pool is purged, half the surplus every
    // pool-purge-delay (measured: 28 s). An address change closes a server's idle connections
    // at once: on the first refusal, point the server (in maintenance, about to go) elsewhere.
    let last = '';
    let flushed = false;
    const deleted = await pollUntil(async () => {
      last = (await channel.send(runtimeCommand('del', 'server', id(s)))).trim();
      if (/^Server deleted\./.test(last)) return true;
      if (!flushed && /connections/i.test(last)) {
        flushed = true;
        await channel.send(runtimeCommand('set', 'server', id(s), 'addr', s.server.host, 'port', s.server.port === 1 ? '2' : '1'));
      }
      return undefined;
    }, Date.now() + 1000);
    if (!deleted) throw runtimeRefused(`HAProxy refused "del server ${id(s)}": ${last}`);
  }
}

/** Current sessions on one server, from `show stat BACKEND 4 -1` (CSV; 4 = servers). */
async function sessions(channel: RuntimeChannel, backend: string, name: string): Promise<number> {
  const [header, ...rows] = (await channel.send(runtimeCommand('show', 'stat', backend, '4', '-1'))).trim().split('\n');
  const columns = (header ?? '').replace(/^# /, '').split(',');
  const scur = columns.indexOf('scur');
  const row = rows.map((r) => r.split(',')).find((r) => r[0] === backend && r[1] === name);
  return row && scur >= 0 ? Number(row[scur]) : 0;
}

/** `show servers state BACKEND` must list exactly the new config's servers, at their addresses, not in maintenance. */
async function verify(channel: RuntimeChannel, b: BackendChanges): Promise<void> {
  const answer = await channel.send(runtimeCommand('show', 'servers', 'state', b.backend));
  const running = new Map<string, { addr: string; port: number; admin: number }>();
  for (const line of answer.split('\n')) {
    const f = line.trim().split(' ');
    if (f.length < 19 || f[1] !== b.backend || !/^\d+$/.test(f[0]!)) continue;
    running.set(f[3]!, { addr: f[4]!, port: Number(f[18]), admin: Number(f[6]) });
  }
  const MAINT = 0x01 | 0x02 | 0x04 | 0x20;
  const problems: string[] = [];
  for (const s of b.servers) {
    const r = running.get(s.name);
    if (!r) problems.push(`${s.name} is missing`);
    else if (r.addr !== canonicalHost(s.host) || r.port !== s.port) problems.push(`${s.name} is at ${r.addr}:${r.port}, not ${address(s)}`);
    else if (r.admin & MAINT) problems.push(`${s.name} is in maintenance`);
  }
  for (const name of running.keys()) if (!b.servers.some((s) => s.name === name)) problems.push(`${name} should be gone`);
  if (problems.length > 0) throw runtimeRefused(`backend ${b.backend} is not as asked after the runtime changes: ${problems.join('; ')}`);
}
