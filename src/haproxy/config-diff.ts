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

export type ConfigDiff =
  | { kind: 'same' }
  | { kind: 'servers'; backends: BackendChanges[] }
  | { kind: 'reload'; reason: string };

/** Balance algorithms whose backends take `add server` (HAProxy 2.6). */
const DYNAMIC_BALANCE = new Set(['roundrobin', 'leastconn', 'first', 'random']);
/** Server options that `add server` refuses in 2.6 for sure, or that tie a server to others. */
const NOT_DYNAMIC = new Set(['init-addr', 'resolvers', 'track', 'agent-check']);
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
  const backends: BackendChanges[] = [];
  for (const [i, old] of before.entries()) {
    const now = after[i]!;
    const rest = (s: ConfigSection) => s.lines.filter((l) => !/^server\s/.test(l));
    if (rest(old).join('\n') !== rest(now).join('\n')) return reload(`${header(old)}: a directive changed`);
    if (old.servers.length === 0 && now.servers.length === 0) continue;
    const changes = diffServers(old, now);
    if ('reason' in changes) return reload(`${header(old)}: ${changes.reason}`);
    if (changes.added.length + changes.removed.length + changes.moved.length > 0) backends.push(changes);
  }
  if (backends.length === 0) return reload('the configs differ in whitespace or comments only');
  const defaults = after.filter((s) => s.kind === 'defaults').flatMap((s) => s.lines);
  if (defaults.some((l) => l.startsWith('default-server'))) return reload('default-server settings do not reach servers added at runtime');
  return { kind: 'servers', backends };
}

function diffServers(old: ConfigSection, now: ConfigSection): BackendChanges | { reason: string } {
  if (old.kind !== 'backend' && old.kind !== 'listen') return { reason: 'servers outside a backend' };
  const balance = now.lines.find((l) => l.startsWith('balance '))?.split(' ')[1] ?? 'roundrobin';
  const consistent = now.lines.some((l) => l === 'hash-type consistent' || l.startsWith('hash-type consistent '));
  if (!DYNAMIC_BALANCE.has(balance) && !consistent) return { reason: `balance ${balance} does not take servers at runtime` };
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
    if (NOT_DYNAMIC.has(option)) return `server ${name} uses "${option}", which servers added at runtime cannot have`;
  }
  return { name, host: parsed.value.host, port: parsed.value.port, options };
}

/** An address as HAProxy prints it back: IPv6 in its shortest, lower-case form. */
export function canonicalHost(host: string): string {
  return host.includes(':') ? new URL(`http://[${host}]/`).hostname.slice(1, -1) : host;
}
