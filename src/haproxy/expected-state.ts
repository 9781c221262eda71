import { runtimePolicy } from './config-diff.js';
import { configWords, HEADER_START, SECTION_HEADER } from './config-sections.js';
import { patchedRead, SERVER_RAW, type Layout, type ReadConfig } from './expected-patch.js';
import type { ExpectedBackend, ExpectedServer, ExpectedState } from './expected-types.js';
import { mapEntries, type MapEntry } from './map-file.js';
import { canonicalHost, parseServerLine, type ServerLine } from './server-line.js';
import { isIPv4 } from '../values/ip.js';
import { parseServerAddress } from '../values/server.js';

export type { ExpectedBackend, ExpectedServer, ExpectedState } from './expected-types.js';

interface Section {
  kind: string;
  name: string;
  /** Where its header line starts in the text. */
  start: number;
  /** The defaults section it inherits from (the last one before it, or the one `from` names). */
  parent?: Section;
  /** Its lines but its servers and header, as HAProxy reads them (words joined). */
  lines: string[];
  /** The `default-server` words that apply to its next server line, inherited ones first. */
  defaultServer: string[];
  servers: Map<string, ExpectedServer>;
  /** Its server lines read (more than its servers when a name comes twice). */
  serverLines: number;
  templates: boolean;
}

const TEMPLATE_RAW = /^\s*server-template\s/;
/** A line HAProxy splits at whitespace alone: no quote, escape or comment in it. */
const PLAIN = /^[^"'\\#]*$/;
const DEFAULT_SERVER_REASON = 'default-server settings do not reach servers added or set at runtime';

/**
 * What a config says HAProxy should run: per backend, each server's address, weight and whether
 * it is in maintenance; per map file the config loads, its entries. A pure function of the texts,
 * so a caller may keep the answer for as long as the files do not change. One pass over the
 * lines: a server line is split at whitespace, not read character by character.
 */
export function expectedState(configText: string, mapTexts: ReadonlyMap<string, string>, lines?: ServerLines): ExpectedState {
  const sections: Section[] = [];
  const defaults = new Map<string, Section>();
  let lastDefaults: Section | undefined;
  let current: Section | undefined;
  const texts = configText.split('\n');
  for (let i = 0, offset = 0; i < texts.length; offset += texts[i]!.length + 1, i++) {
    const raw = texts[i]!;
    if (SERVER_RAW.test(raw)) {
      if (current && isBackend(current)) serverLine(current, raw, lines);
      continue;
    }
    const header = HEADER_START.test(raw) ? SECTION_HEADER.exec(raw) : null;
    if (header) {
      const words = configWords(raw);
      const parent = words[2] === 'from' ? defaults.get(words[3] ?? '') : lastDefaults;
      current = {
        kind: header[1]!,
        name: header[2] ?? '',
        start: offset,
        parent,
        lines: [],
        defaultServer: [...(parent?.defaultServer ?? [])],
        servers: new Map(),
        serverLines: 0,
        templates: false,
      };
      sections.push(current);
      if (current.kind === 'defaults') {
        defaults.set(current.name, current);
        lastDefaults = current;
      }
      continue;
    }
    if (!current) continue;
    if (TEMPLATE_RAW.test(raw)) current.templates = true;
    const words = configWords(raw);
    if (words[0] === 'default-server') current.defaultServer.push(...words.slice(1));
    if (words.length > 0) current.lines.push(words.join(' '));
  }
  const unverifiable: string[] = [];
  const backends = new Map<string, ExpectedBackend>();
  for (const section of sections.filter(isBackend)) {
    const backend = backendOf(section);
    backends.set(backend.name, backend);
    if (backend.unverifiable) unverifiable.push(`backend ${backend.name}: ${backend.unverifiable}`);
  }
  const maps = new Map<string, readonly MapEntry[]>();
  for (const [path, text] of mapTexts) {
    if (configText.includes(path)) maps.set(path, mapEntries(text));
    else unverifiable.push(`${path}: the config does not load it`);
  }
  if (lines) lines.layout = layoutOf(sections, backends);
  return { backends, maps, unverifiable };
}

/** Where the sections start, and which backends a change of server lines alone may be patched into (expected-patch.ts). */
function layoutOf(sections: readonly Section[], backends: ReadonlyMap<string, ExpectedBackend>): Layout {
  const named = new Map<string, number>();
  for (const s of sections.filter(isBackend)) named.set(s.name, (named.get(s.name) ?? 0) + 1);
  const patchable = sections.map((s) => {
    const plain = isBackend(s) && named.get(s.name) === 1 && s.defaultServer.length === 0 && !s.templates && s.servers.size === s.serverLines;
    return plain && !backends.get(s.name)!.unverifiable ? s.name : undefined;
  });
  return { starts: sections.map((s) => s.start), patchable };
}

/**
 * `expectedState`, kept while the texts stay the same: a verification every 30 s then reads the
 * config once per change of the files, not once per verification (10,000 servers: ~10 ms saved).
 */
export function cachedExpectedState(): (configText: string, mapTexts: ReadonlyMap<string, string>) => ExpectedState {
  let last: (ReadConfig & { maps: ReadonlyMap<string, string> }) | undefined;
  return (config, maps) => {
    // The same files in the same order (the order of what is not checked follows it).
    const kept = last ? [...last.maps] : [];
    const sameMaps = last && kept.length === maps.size && [...maps].every(([path, text], i) => kept[i]![0] === path && kept[i]![1] === text);
    if (sameMaps && last!.config === config) return last!.state;
    // A config that changed by server lines of one backend is that backend patched (expected-patch.ts).
    const patched = sameMaps ? patchedRead(last!, config, [...maps.keys()], plainServer) : undefined;
    if (patched) last = { ...patched, maps: last!.maps };
    else {
      // Else read whole, the lines that stayed giving the servers they gave last time.
      const lines: ServerLines = { previous: last?.servers, next: new Map() };
      const state = expectedState(config, maps, lines);
      last = { config, maps: new Map(maps), state, servers: lines.next, layout: lines.layout! };
    }
    return last.state;
  };
}

/** Servers by their line as written, from the last read of a config (`previous`) and for the next (`next`, filled as lines are read); and the next one's layout. */
interface ServerLines {
  previous?: ReadonlyMap<string, ExpectedServer>;
  next: Map<string, ExpectedServer>;
  layout?: Layout;
}

/** The server of a line no `default-server` reaches. */
const plainServer = (raw: string) => serverOf(NO_DEFAULTS, PLAIN.test(raw) ? raw.trim().split(/\s+/) : configWords(raw));
const NO_DEFAULTS = { defaultServer: [] as string[] };

/**
 * A `server` line of a backend. Where no `default-server` reaches it, the server is a function of
 * its line alone: the one read from the same line last time is taken again (at 10,000 servers,
 * a config changed by one server makes one server, not 10,000, and their garbage).
 */
function serverLine(section: Section, raw: string, lines: ServerLines | undefined): void {
  section.serverLines += 1;
  const memo = lines && section.defaultServer.length === 0;
  const server = (memo ? lines.previous?.get(raw) : undefined) ?? serverOf(section, PLAIN.test(raw) ? raw.trim().split(/\s+/) : configWords(raw));
  section.servers.set(server.name, server);
  if (memo) lines.next.set(raw, server);
}

const isBackend = (s: Section) => s.kind === 'backend' || s.kind === 'listen';

/** A backend section, with the policy its own lines and those of the defaults it inherits give it. */
function backendOf(section: Section): ExpectedBackend {
  const own = section.lines;
  const inherited = section.parent?.lines ?? [];
  const stateFile = [...own, ...inherited].find((l) => l.startsWith('load-server-state-from-file ') && l !== 'load-server-state-from-file none');
  const unverifiable = section.templates
    ? 'its server-template servers are not compared'
    : stateFile
      ? 'HAProxy sets its servers from a state file at start (load-server-state-from-file)'
      : undefined;
  const frozen = [...own, ...inherited].some((l) => l.startsWith('default-server ')) ? DEFAULT_SERVER_REASON : undefined;
  const fixed = runtimePolicy(own, inherited) ?? frozen;
  return {
    name: section.name,
    servers: section.servers,
    ...(fixed ? { fixed } : {}),
    ...(frozen ? { frozen } : {}),
    ...(unverifiable ? { unverifiable } : {}),
  };
}

/**
 * The line a server is made from at runtime (`add server` takes its options), or why the runtime
 * API can neither make it nor set it right. Parsed only for a server that drifted.
 */
export function runtimeLine(backend: ExpectedBackend, server: ExpectedServer): ServerLine | string {
  return backend.frozen ?? parseServerLine(server.words.join(' '));
}

/** The server of one `server NAME ADDRESS [OPTIONS…]` line, with the section's `default-server` options before it. */
function serverOf(section: Pick<Section, 'defaultServer'>, words: string[]): ExpectedServer {
  const shape = { weight: 1, disabled: false, agent: false };
  readOptions(section.defaultServer, 0, shape);
  readOptions(words, 3, shape);
  const weight = shape.agent ? undefined : shape.weight;
  return { name: words[1] ?? '', address: addressOf(words[2] ?? ''), weight, disabled: shape.disabled, agent: shape.agent, words };
}

/** What the options from `from` on say of a server's weight and state (the last word given wins). */
function readOptions(options: readonly string[], from: number, shape: { weight: number; disabled: boolean; agent: boolean }): void {
  for (let i = from; i < options.length; i++) {
    const option = options[i]!;
    if (option === 'weight') shape.weight = Number(options[i + 1]);
    else if (option === 'disabled' || option === 'enabled') shape.disabled = option === 'disabled';
    else if (option === 'agent-check') shape.agent = true;
  }
}

const IPV4_PORT = /^((?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)){3}):([1-9]\d{0,4})$/;

/** The address HAProxy prints back for a server's, when it is an IP address and a port (IPv4 first: the common case, one regular expression). */
function addressOf(address: string): { host: string; port: number } | undefined {
  const v4 = IPV4_PORT.exec(address);
  if (v4) return Number(v4[2]) <= 65535 ? { host: v4[1]!, port: Number(v4[2]) } : undefined;
  const value = parseServerAddress(address);
  if (!value.ok || (!isIPv4(value.value.host) && !value.value.address.startsWith('['))) return undefined;
  return { host: canonicalHost(value.value.host), port: value.value.port };
}
