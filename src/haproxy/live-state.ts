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
 * srv_admin_state flags (HAProxy 2.6 doc/management.txt, `show servers state`): forced by the CLI
 * (FMAINT, FDRAIN), inherited from a tracked server (IMAINT, IDRAIN), from the config's
 * `disabled` (CMAINT: kept while a server is set ready and serves), DNS resolution (RMAINT) and
 * `set server … fqdn` (HMAINT).
 */
export const ADMIN = { FMAINT: 0x01, IMAINT: 0x02, CMAINT: 0x04, FDRAIN: 0x08, IDRAIN: 0x10, RMAINT: 0x20, HMAINT: 0x40 } as const;

/**
 * Reads what HAProxy runs: `show backend`, one `show servers state` for every backend (measured at
 * 10,000 servers: one command takes no longer than one per backend in a single request, and
 * half as long as one per backend over 100 backends), and `show map` per map file of `expected`.
 * The commands go at once, each on its own connection. Throws RUNTIME_REFUSED.
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
  if (!serversAnswer.startsWith('1\n#')) throw unexpected('show servers state', serversAnswer);
  const backends = new Set(backendsAnswer.split('\n').slice(1).filter(Boolean));
  const maps = new Map<string, readonly MapEntry[] | undefined>();
  for (const [path, answer] of mapAnswers) {
    if (/^Unknown map identifier/.test(answer)) maps.set(path, undefined);
    else if (answer.trim() === '' || /^0x[0-9a-f]+ /.test(answer)) maps.set(path, shownEntries(answer));
    else throw unexpected(`show map ${path}`, answer);
  }
  return { backends, servers: serverLines(serversAnswer), maps };
}

/**
 * The servers of a `show servers state` answer, per backend. Fields, space-separated: be_id
 * be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight … srv_port (the 19th).
 * The operational state (DOWN by health check) is not read: it is not the config's to say.
 */
function serverLines(answer: string): Map<string, Map<string, LiveServer>> {
  const out = new Map<string, Map<string, LiveServer>>();
  let backend = '';
  let servers = new Map<string, LiveServer>();
  for (const line of answer.split('\n')) {
    if (line === '' || line.startsWith('#') || line === '1') continue;
    const f = line.split(' ', 19);
    if (f.length < 19) throw unexpected('show servers state', line);
    if (f[1] !== backend) {
      backend = f[1]!;
      servers = out.get(backend) ?? new Map<string, LiveServer>();
      out.set(backend, servers);
    }
    servers.set(f[3]!, { addr: f[4]!, port: Number(f[18]), admin: Number(f[6]), weight: Number(f[7]) });
  }
  return out;
}

const unexpected = (command: string, answer: string) => runtimeRefused(`HAProxy answered "${command}" with ${JSON.stringify(answer.slice(0, 120))}`);
