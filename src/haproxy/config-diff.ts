import { isIPv4 } from '../values/ip.js';
import { isServerName, parseServerAddress } from '../values/server.js';
import { parseSections, type ConfigSection } from './config-sections.js';

/** A `server` line of a backend, parsed strictly (anything odd makes the change need a reload). */
export interface ServerLine {
  name: string;
  host: string;
  port: number;
  /** The options after the address, as written (`check`, `weight 10`…). */
  options: string[];
}

export interface BackendChanges {
  backend: string;
  /** Every server the backend has in the new config: what HAProxy must hold afterwards. */
  servers: ServerLine[];
  added: ServerLine[];
  removed: ServerLine[];
  /** Same name and options, another address or port. */
  moved: Array<{ from: ServerLine; to: ServerLine }>;
}

export type ConfigDiff = { kind: 'same' } | { kind: 'servers'; backends: BackendChanges[] } | { kind: 'reload'; reason: string };

/**
 * Balance algorithms whose backends share traffic fairly with servers added by `add server` on
 * HAProxy 2.6 (measured: roundrobin and leastconn split evenly; `first` fills servers in order,
 * as designed). HAProxy also accepts `add server` for `random` and consistent hashing, but 2.6
 * computes the hash-ring points of a server added without an `id` before it has its number, so
 * every such server lands on the same points and some get no traffic at all (fixed upstream only
 * in 2026, commit 2ff861747): those backends change by reload. Map-based hashing takes no
 * runtime servers at all.
 */
const DYNAMIC_BALANCE = new Set(['roundrobin', 'leastconn', 'first']);
const RING_BALANCE_REASON = 'HAProxy 2.6 puts servers added at runtime on the same hash-ring points, so some would get no traffic';

/**
 * Server options that make a change need a reload, and why: refused by `add server` on 2.6, tying
 * a server to others, or accepted but not working as in a config file on 2.6.
 */
const NOT_DYNAMIC = new Map<string, string>([
  ['init-addr', 'servers added at runtime cannot have it'],
  ['resolvers', 'servers added at runtime cannot have it'],
  ['track', 'servers added at runtime cannot have it'],
  ['agent-check', 'servers added at runtime cannot have it'],
  // `add server` refuses max-reuse, and leaves it at 0 on 2.6 (before 2.6.18 it copies no
  // defaults): HTTP/2 and FastCGI connections then carry one request each. proto/alpn may
  // select those.
  ['max-reuse', '`add server` refuses it'],
  ['proto', 'it may select HTTP/2 or FastCGI, which a server added at runtime on 2.6 limits to one request per connection'],
  ['alpn', 'it may select HTTP/2, which a server added at runtime on 2.6 limits to one request per connection'],
  // On 2.6.12 `enabled` makes an added server UP that still gets no traffic; watch enables servers itself.
  ['enabled', 'a server added at runtime with it gets no traffic on 2.6'],
  ['disabled', 'the file keeps the server in maintenance, but watch enables the servers it adds'],
  // Without the defaults copy, observe gets a zero error limit, and slowstart does not work for
  // servers added at runtime before 2.6.18.
  ['observe', 'a server added at runtime gets no error limits with it on 2.6'],
  ['slowstart', 'it does not work for servers added at runtime on 2.6'],
]);
/** What an option word may look like to be sent to the runtime API. */
const OPTION_WORD = /^[A-Za-z0-9._:/,-]+$/;

const reload = (reason: string): ConfigDiff => ({ kind: 'reload', reason });

/**
 * Compares the installed config with a new one. When they differ only in the `server` lines of
 * backends that can change at runtime, returns those changes; anything else — another directive,
 * a new backend, a server line that is not plain — needs a reload, with the reason why.
 */
export function diffConfigs(installed: string, next: string): ConfigDiff {
  if (installed === next) return { kind: 'same' };
  const before = parseSections(installed);
  const after = parseSections(next);
  const header = (s: ConfigSection) => `${s.kind} ${s.name}`;
  if (before.length !== after.length || before.some((s, i) => s.header !== after[i]!.header)) {
    return reload('sections were added, removed, renamed or re-parented');
  }
  const defaults = after.filter((s) => s.kind === 'defaults').flatMap((s) => s.lines);
  const backends: BackendChanges[] = [];
  for (const [i, old] of before.entries()) {
    const now = after[i]!;
    const rest = (s: ConfigSection) => s.lines.filter((l) => !/^server\s/.test(l));
    if (rest(old).join('\n') !== rest(now).join('\n')) return reload(`${header(old)}: a directive changed`);
    if (old.servers.length === 0 && now.servers.length === 0) continue;
    const changes = diffServers(old, now, defaults);
    if ('reason' in changes) return reload(`${header(old)}: ${changes.reason}`);
    if (changes.added.length + changes.removed.length + changes.moved.length > 0) backends.push(changes);
  }
  if (backends.length === 0) return reload('the configs differ in whitespace or comments only');
  if (defaults.some((l) => l.startsWith('default-server'))) return reload('default-server settings do not reach servers added at runtime');
  return { kind: 'servers', backends };
}

function diffServers(old: ConfigSection, now: ConfigSection, defaults: string[]): BackendChanges | { reason: string } {
  if (old.kind !== 'backend' && old.kind !== 'listen') return { reason: 'servers outside a backend' };
  // The backend's own balance, else what a defaults section may give it (every one of them,
  // to be safe: which defaults a backend takes depends on order and `from`).
  const own = now.lines.filter((l) => l.startsWith('balance '));
  const inherited = defaults.filter((l) => l.startsWith('balance '));
  const balances = (own.length > 0 ? own : inherited.length > 0 ? inherited : ['balance roundrobin']).map((l) => l.split(' ')[1]!);
  const consistent = [...now.lines, ...defaults].some((l) => l === 'hash-type consistent' || l.startsWith('hash-type consistent '));
  for (const balance of balances) {
    if (balance === 'random' || balance.startsWith('random(')) return { reason: `balance ${balance}: ${RING_BALANCE_REASON}` };
    if (!DYNAMIC_BALANCE.has(balance)) {
      return {
        reason: consistent ? `balance ${balance} with hash-type consistent: ${RING_BALANCE_REASON}` : `balance ${balance} does not take servers at runtime`,
      };
    }
  }
  if (now.lines.some((l) => l.startsWith('default-server'))) return { reason: 'default-server settings do not reach servers added at runtime' };

  const parse = (section: ConfigSection): Map<string, ServerLine> | string => {
    const servers = new Map<string, ServerLine>();
    for (const line of section.lines.filter((l) => /^server-template\s/.test(l))) return `${line.split(' ')[0]} lines change only by reload`;
    for (const line of section.lines.filter((l) => /^server\s/.test(l))) {
      const parsed = parseServerLine(line);
      if (typeof parsed === 'string') return parsed;
      servers.set(parsed.name, parsed);
    }
    return servers;
  };
  const a = parse(old);
  const b = parse(now);
  if (typeof a === 'string' || typeof b === 'string') return { reason: (typeof a === 'string' ? a : b) as string };
  const changes: BackendChanges = { backend: now.name, servers: [...b.values()], added: [], removed: [], moved: [] };
  for (const [name, line] of b) {
    const was = a.get(name);
    if (!was) changes.added.push(line);
    else if (was.options.join(' ') !== line.options.join(' ')) return { reason: `the options of server ${name} changed` };
    else if (canonicalHost(was.host) !== canonicalHost(line.host) || was.port !== line.port) changes.moved.push({ from: was, to: line });
  }
  for (const [name, line] of a) if (!b.has(name)) changes.removed.push(line);
  return changes;
}

/** `server NAME ADDRESS [OPTIONS…]`, with every word held to what the runtime API may receive. */
export function parseServerLine(line: string): ServerLine | string {
  const [, name, address, ...options] = line.split(' ');
  if (!name || !isServerName(name)) return `server name ${JSON.stringify(name)} cannot be sent to the runtime API`;
  const parsed = parseServerAddress(address ?? '');
  if (!parsed.ok) return `server ${name}: ${parsed.reason}`;
  if (!isIPv4(parsed.value.host) && !parsed.value.address.startsWith('[')) return `server ${name} is given by host name (runtime servers need an IP address)`;
  for (const option of options) {
    if (!OPTION_WORD.test(option)) return `server ${name} has an option ${JSON.stringify(option)} that cannot be sent to the runtime API`;
    const why = NOT_DYNAMIC.get(option);
    if (why) return `server ${name} uses "${option}" and needs a reload: ${why}`;
  }
  return { name, host: parsed.value.host, port: parsed.value.port, options };
}

/** An address as HAProxy prints it back: IPv6 in its shortest, lower-case form. */
export function canonicalHost(host: string): string {
  return host.includes(':') ? new URL(`http://[${host}]/`).hostname.slice(1, -1) : host;
}
