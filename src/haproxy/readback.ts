import type { ServerLine } from './server-line.js';
import { runtimeCommand, type RuntimeChannel } from './runtime-channel.js';
import { escaped, type ServerIds } from './server-ids.js';

/** A server as HAProxy runs it, read back. */
export interface Running {
  addr: string;
  port: number;
  maint: boolean;
  weight: number;
}

/** What a change asked of a backend's servers: name → its line, or undefined when it should be gone. */
export type Expected = Map<string, ServerLine | undefined>;

/** Up to this many servers of a backend are read back each on its own; more, by reading the whole backend (one command). */
const NARROW_UP_TO = 64;

/**
 * Forced, inherited, resolution and hostname maintenance in `srv_admin_state`. Not 0x04 (a
 * server the file says `disabled` keeps that flag after `set server … state ready`, serving).
 */
const MAINT = 0x01 | 0x02 | 0x20 | 0x40;

/**
 * After HAProxy starts or reloads, off the serving path: the ids of its servers learned (so the
 * first change reads back only what it touched), and its first `show stat` made, which HAProxy
 * 2.6 takes about 120 ms for at 10,000 servers (measured; 1.5 ms each after), and which would
 * otherwise fall on the first change's read-back. Asks for a server id no server has.
 */
export async function warmUp(channel: RuntimeChannel, ids: ServerIds): Promise<void> {
  const [backend] = ids.learnAll(await channel.send(runtimeCommand('show', 'servers', 'state')));
  const unused = backend === undefined ? undefined : ids.peek(backend);
  if (unused !== undefined) await channel.send(runtimeCommand('show', 'stat', backend!, '4', String(unused)));
}

/**
 * Reads back the servers of `expected`: each on its own when they are few and their ids known,
 * else (or when that read is not conclusive) the whole backend at once.
 */
export async function readBack(
  channel: RuntimeChannel,
  backend: string,
  expected: Expected,
  ids: ServerIds,
  answered?: ReadAnswer,
): Promise<Map<string, Running>> {
  const few = answered ? answered.reads : fewReads(backend, expected, ids);
  // Undefined: not read narrowly; null: that read was not conclusive.
  const narrow = few ? (answered ? few.parse(answered.answer) : await readFew(channel, few)) : few;
  if (narrow) return narrow;
  const answer = await channel.send(runtimeCommand('show', 'servers', 'state', backend));
  // Learned again after a narrow read that was not conclusive: an id may have been stale.
  if (!ids.known(backend) || narrow === null) ids.learn(backend, answer);
  const running = new Map<string, Running>();
  for (const line of stateLines(answer, backend, [...expected.keys()])) {
    const f = line.split(' ', 19);
    if (f.length < 19 || f[1] !== backend || !expected.has(f[3]!)) continue;
    running.set(f[3]!, { addr: f[4]!, port: Number(f[18]), maint: Boolean(Number(f[6]) & MAINT), weight: Number(f[7]) });
  }
  return running;
}

/**
 * A few servers read back in one request, about 0.5 ms each where `show servers state` takes
 * 17 ms at 10,000 servers (HAProxy 2.6): `show stat BACKEND 4 ID` (its one row, by id) for each
 * server that should be there, `get weight BACKEND/NAME` ("No such server.") for each that should
 * be gone. In that row `status` starts with MAINT exactly when `cur_admin & SRV_ADMF_MAINT`
 * (0x01|0x02|0x20), `addr` is `host:port` (`[v6]:port`) and `uweight` the user weight. 0x40
 * (hostname maintenance) does not show there, but only `set server … fqdn` sets it, and only on a
 * server with `resolvers`: such a server is read the whole way. Null when the answer is not
 * conclusive (an id not known or stale, a row not as expected): the caller reads the whole backend.
 */
async function readFew(channel: RuntimeChannel, few: FewReads): Promise<Map<string, Running> | null> {
  return few.parse(await channel.sendAll(few.commands));
}

/** The reads of `fewReads`, sent already (with a change, in one request), and what they answered. */
export interface ReadAnswer {
  reads: FewReads;
  answer: string;
}

/** The commands that read a few servers back, and what makes their answer a read (null: not conclusive). */
export interface FewReads {
  commands: string[];
  parse(answer: string): Map<string, Running> | null;
}

/**
 * The reads of readFew, to send (or to send after a change in the same request: every one is a
 * `show stat`, so their answer starts at the first line `# pxname`); undefined when the servers
 * are too many or their ids not known, null when one cannot be read that way.
 */
export function fewReads(backend: string, expected: Expected, ids: ServerIds): FewReads | null | undefined {
  if (!ids.known(backend) || expected.size > NARROW_UP_TO) return undefined;
  const asks: Array<{ name: string; id?: number }> = [];
  for (const [name, s] of expected) {
    const id = s ? ids.idOf(backend, name) : undefined;
    if (s && (id === undefined || s.options.includes('resolvers'))) return null;
    asks.push({ name, id });
  }
  const commands = asks.map((a) =>
    a.id === undefined ? runtimeCommand('get', 'weight', `${backend}/${a.name}`) : runtimeCommand('show', 'stat', backend, '4', String(a.id)),
  );
  const parse = (text: string) => {
    // Each answer ends with an empty line.
    const answers = text.split('\n\n');
    if (answers.length !== commands.length + 1) return null;
    const running = new Map<string, Running>();
    for (const [i, a] of asks.entries()) {
      const answer = answers[i]!.trim();
      const r = a.id === undefined ? weightAnswer(answer) : statRow(answer, backend, a.name, a.id);
      if (r === null) return null;
      if (r) running.set(a.name, r);
    }
    return running;
  };
  return { commands, parse };
}

/** `get weight`: undefined for "No such server.", a server of that weight (nothing else known), or null. */
function weightAnswer(answer: string): Running | undefined | null {
  if (answer === 'No such server.') return undefined;
  const m = /^(\d+) \(initial \d+\)$/.exec(answer);
  return m ? { addr: '', port: 0, maint: false, weight: Number(m[1]) } : null;
}

/** The one row of `show stat BACKEND 4 ID` (CSV, under its header), if it is server `name` with id `id`; else null. */
function statRow(answer: string, backend: string, name: string, id: number): Running | null {
  const [header = '', ...rows] = answer.split('\n');
  if (!header.startsWith('# ') || rows.length !== 1) return null;
  const columns = header.slice(2).split(',');
  const cells = csvCells(rows[0]!);
  const field = (column: string) => cells[columns.indexOf(column)] ?? '';
  if (field('pxname') !== backend || field('svname') !== name || field('sid') !== String(id)) return null;
  const addr = /^\[(.+)\]:(\d+)$/.exec(field('addr')) ?? /^([^:]+):(\d+)$/.exec(field('addr'));
  if (!addr || !/^\d+$/.test(field('uweight'))) return null;
  return { addr: addr[1]!, port: Number(addr[2]), maint: field('status').startsWith('MAINT'), weight: Number(field('uweight')) };
}

/** The cells of a CSV line; HAProxy quotes a string with a comma or quote in it (a check's description may have some). */
const csvCells = (line: string): string[] =>
  [...line.matchAll(/("(?:[^"]|"")*"|[^,]*)(?:,|$)/g)].map((m) => (m[1]!.startsWith('"') ? m[1]!.slice(1, -1).replace(/""/g, '"') : m[1]!));

/**
 * The lines of a `show servers state` answer that may be about `names`: a few servers are found
 * by search, so reading back one server of 10,000 does not split 10,000 lines.
 */
function stateLines(answer: string, backend: string, names: string[]): string[] {
  if (names.length > NARROW_UP_TO) return answer.split('\n');
  return names.flatMap((name) => new RegExp(`^\\d+ ${escaped(backend)} \\d+ ${escaped(name)} .*$`, 'm').exec(answer)?.[0] ?? []);
}
