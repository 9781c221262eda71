import { shownEntries, type MapEntry } from './map-file.js';
import { runtimeCommand, runtimeRefused, type RuntimeChannel } from './runtime-channel.js';
import type { ExpectedState } from './expected-state.js';

/** A server as HAProxy runs it (`show servers state`). */
export interface LiveServer {
  addr: string;
  port: number;
  /** srv_admin_state: a mask of the ADMIN flags below. */
  admin: number;
  /** srv_uweight: the weight `set weight` / `set server … weight` changes. */
  weight: number;
}

/** What the running HAProxy holds. */
export interface LiveState {
  /** Every backend it runs (`show backend`), with servers or not. */
  backends: ReadonlySet<string>;
  /** Servers per backend; a backend with none is absent. */
  servers: ReadonlyMap<string, ReadonlyMap<string, LiveServer>>;
  /** Each map asked for: its entries in HAProxy's order, undefined when HAProxy has no such map. */
  maps: ReadonlyMap<string, readonly MapEntry[] | undefined>;
}

/**
 * srv_admin_state flags, as HAProxy 2.6 documents `show servers state`: forced by the CLI
 * (FMAINT, FDRAIN), inherited from a tracked server (IMAINT, IDRAIN), from the config's
 * `disabled` (CMAINT: kept while a server is set ready and serves), DNS resolution (RMAINT) and
 * `set server … fqdn` (HMAINT).
 */
export const ADMIN = { FMAINT: 0x01, IMAINT: 0x02, CMAINT: 0x04, FDRAIN: 0x08, IDRAIN: 0x10, RMAINT: 0x20, HMAINT: 0x40 } as const;

/**
 * Reads what HAProxy runs: `show backend`, one `show servers state` for every backend and
 * `show map` per map file of `expected`, at once, each on its own connection. One command for all
 * the servers takes HAProxy about half as long as one per backend in a single request (`npm run
 * bench -- drift`, 100 backends of 100); with one backend, the two are the same.
 * Throws RUNTIME_REFUSED.
 */
export async function readLiveState(channel: RuntimeChannel, expected: ExpectedState): Promise<LiveState> {
  const paths = [...expected.maps.keys()];
  const [backends, servers, ...maps] = await Promise.all([
    channel.send(runtimeCommand('show', 'backend')),
    channel.send(runtimeCommand('show', 'servers', 'state')),
    ...paths.map((path) => channel.send(runtimeCommand('show', 'map', path))),
  ]);
  return liveStateOf(backends, servers, new Map(paths.map((path, i) => [path, maps[i]!])));
}

/** The live state from the answers of `show backend`, `show servers state` and `show map` (path → answer). */
export function liveStateOf(backendsAnswer: string, serversAnswer: string, mapAnswers: ReadonlyMap<string, string>): LiveState {
  if (!backendsAnswer.startsWith('# name')) throw unexpected('show backend', backendsAnswer);
  if (!serversAnswer.startsWith('1\n')) throw unexpected('show servers state', serversAnswer);
  const backends = new Set(backendsAnswer.split('\n').slice(1).filter(Boolean));
  const maps = new Map<string, readonly MapEntry[] | undefined>();
  for (const [path, answer] of mapAnswers) {
    if (/^Unknown map identifier/.test(answer)) maps.set(path, undefined);
    else if (answer.trim() === '' || /^0x[0-9a-f]+ /.test(answer)) maps.set(path, shownEntries(answer));
    else throw unexpected(`show map ${path}`, answer);
  }
  return { backends, servers: serverLines(serversAnswer), maps };
}

/** The fields `show servers state` starts its lines with (format 1, as HAProxy 2.6 documents it); later versions add more after them. */
const FIELDS =
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port';
/** be_name, srv_name, srv_addr, srv_admin_state, srv_uweight and srv_port of each line; the operational state (DOWN by health check) is not the config's to say. */
const SERVER_LINE = /^\d+ (\S+) \d+ (\S+) (\S+) \d+ (\d+) (\d+) (?:\S+ ){10}(\d+)(?: |$)/gm;

/**
 * The servers of a `show servers state` answer, per backend. The header names the fields, so
 * the lines are read by one regular expression over the whole answer (measured: half the time of
 * splitting 10,000 lines into their 25 fields); every line that is not a comment must match.
 */
function serverLines(answer: string): Map<string, Map<string, LiveServer>> {
  const header = answer.indexOf('\n') + 1;
  if (!answer.startsWith(FIELDS, header)) throw unexpected('show servers state', answer.slice(header));
  const out = new Map<string, Map<string, LiveServer>>();
  let backend = '';
  let servers = new Map<string, LiveServer>();
  let count = 0;
  for (const m of answer.matchAll(SERVER_LINE)) {
    if (m[1] !== backend) {
      backend = m[1]!;
      servers = out.get(backend) ?? new Map<string, LiveServer>();
      out.set(backend, servers);
    }
    servers.set(m[2]!, { addr: m[3]!, port: Number(m[6]), admin: Number(m[4]), weight: Number(m[5]) });
    count++;
  }
  if (count !== dataLines(answer)) throw unexpected('show servers state', answer.slice(header));
  return out;
}

/** Lines that are neither empty nor comments, after the version line. */
function dataLines(answer: string): number {
  let count = 0;
  for (let at = answer.indexOf('\n') + 1; at > 0 && at < answer.length; at = answer.indexOf('\n', at) + 1) {
    const c = answer.charCodeAt(at);
    if (c !== 0x23 && c !== 0x0a) count++;
  }
  return count;
}

const unexpected = (command: string, answer: string) => runtimeRefused(`HAProxy answered "${command}" with ${JSON.stringify(answer.slice(0, 120))}`);
