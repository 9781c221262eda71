import { HEADER_START, SECTION_HEADER } from './config-sections.js';
import type { ExpectedBackend, ExpectedServer, ExpectedState } from './expected-types.js';

/** Where each section of a config starts (its header line), in order, and the backend it is when its servers may be patched. */
export interface Layout {
  starts: readonly number[];
  /** Per section: the backend's name when its servers are its server lines alone (no `default-server` reaches them, no `server-template`, no name twice, compared). */
  patchable: ReadonlyArray<string | undefined>;
}

/** What a config was read into, kept to read the next one against. */
export interface ReadConfig {
  config: string;
  state: ExpectedState;
  layout: Layout;
  /** The server of each server line read (a line no `default-server` reaches is one server, wherever it stands); changed in place. */
  servers: Map<string, ExpectedServer>;
}

export const SERVER_RAW = /^\s*server\s/;
const BLANK = /^\s*$/;

/**
 * The state of `config` from the last one read, when the two differ only by server lines (and
 * blank lines) of one patchable backend: its servers are the last ones, less those of the lines
 * gone, plus those of the lines come, in the lines' order; every other backend is the same object.
 * At 10,000 servers the look after a change costs a compare of the texts and one backend's map,
 * not 10,000 lines split and looked up. Undefined when it differs otherwise: read it whole.
 * `mapPaths`: the map files (the same as last time); `serverOf` reads a line no `default-server` reaches.
 */
export function patchedRead(last: ReadConfig, config: string, mapPaths: readonly string[], serverOf: (raw: string) => ExpectedServer): ReadConfig | undefined {
  const old = last.config;
  const region = changedLines(old, config);
  const section = sectionAt(last.layout.starts, region.start);
  const name = section < 0 ? undefined : last.layout.patchable[section];
  const backend = name === undefined ? undefined : last.state.backends.get(name);
  if (!backend || !onlyServers(region.was) || !onlyServers(region.now)) return undefined;
  // A map file's path in a line that came or went may change which maps the config loads: read it whole.
  if (mapPaths.some((path) => path.includes('\n') || [...region.was, ...region.now].some((l) => l.includes(path)))) return undefined;
  const gone = new Map<string, ExpectedServer>();
  for (const raw of region.was.filter((l) => SERVER_RAW.test(l))) {
    const server = last.servers.get(raw);
    if (!server || backend.servers.get(server.name) !== server || gone.has(server.name)) return undefined;
    gone.set(server.name, server);
  }
  const come = region.now.filter((l) => SERVER_RAW.test(l)).map((raw) => [raw, last.servers.get(raw) ?? serverOf(raw)] as const);
  const names = new Set(come.map(([, s]) => s.name));
  if (names.size !== come.length || come.some(([, s]) => backend.servers.has(s.name) && !gone.has(s.name))) return undefined;
  const before = serverBefore(old, region.start, last.layout.starts[section]!, last.servers);
  if (before === null) return undefined;
  const coming = come.map(([, s]) => s);
  const servers = inPlace(backend.servers, gone, coming, () => !serverAfter(config, region.endNow)) ?? inOrder(backend.servers, gone, coming, before);
  for (const raw of region.was) last.servers.delete(raw);
  for (const [raw, server] of come) last.servers.set(raw, server);
  const backends = new Map(last.state.backends).set(name!, { ...backend, servers } satisfies ExpectedBackend);
  const shift = config.length - old.length;
  const starts = last.layout.starts.map((s, i) => (i > section ? s + shift : s));
  return { config, state: { ...last.state, backends }, layout: { starts, patchable: last.layout.patchable }, servers: last.servers };
}

/**
 * The servers in their lines' order, the quick way (a copy made natively): those gone deleted,
 * those of a name that stays set where they were, the new ones last. Only when that is their
 * order: the names that stay come first and in the same order as before, and new ones only where
 * no server line follows (`atEnd`). Undefined otherwise.
 */
function inPlace(
  servers: ReadonlyMap<string, ExpectedServer>,
  gone: ReadonlyMap<string, ExpectedServer>,
  come: readonly ExpectedServer[],
  atEnd: () => boolean,
) {
  const staying = come.filter((s) => gone.has(s.name)).map((s) => s.name);
  const order = [...gone.keys()].filter((n) => staying.includes(n));
  // The new ones go last: after the servers that stay, in the lines too, and after every server of the backend.
  const newLast = come.slice(staying.length).every((s) => !gone.has(s.name));
  if (order.some((n, i) => n !== staying[i]) || !newLast || (staying.length < come.length && !atEnd())) return undefined;
  const next = new Map(servers);
  for (const name of gone.keys()) if (!staying.includes(name)) next.delete(name);
  for (const server of come) next.set(server.name, server);
  return next;
}

/** The servers in their lines' order, one at a time: the last ones but those gone, and those come after `before` (undefined: first). */
function inOrder(servers: ReadonlyMap<string, ExpectedServer>, gone: ReadonlyMap<string, ExpectedServer>, come: readonly ExpectedServer[], before?: string) {
  const next = new Map<string, ExpectedServer>();
  const place = () => come.forEach((s) => next.set(s.name, s));
  if (before === undefined) place();
  for (const [name, server] of servers) {
    if (!gone.has(name)) next.set(name, server);
    if (name === before) place();
  }
  return next;
}

/** Whether a server line follows `at` before the next section header (or the end). */
function serverAfter(text: string, at: number): boolean {
  for (let start = at; start < text.length;) {
    const end = text.indexOf('\n', start);
    const raw = text.slice(start, end < 0 ? text.length : end);
    if (SERVER_RAW.test(raw)) return true;
    if (HEADER_START.test(raw) && SECTION_HEADER.test(raw)) return false;
    if (end < 0) break;
    start = end + 1;
  }
  return false;
}

const onlyServers = (lines: readonly string[]) => lines.every((l) => SERVER_RAW.test(l) || BLANK.test(l));

/** The index of the section the offset lies in (after its header line's start), or -1 before the first. */
function sectionAt(starts: readonly number[], at: number): number {
  let i = starts.length - 1;
  while (i >= 0 && starts[i]! >= at) i--;
  return i;
}

/**
 * The name of the last server before `at` in the section that starts at `header` (undefined: none, the
 * first server comes first); null when a server line there was never read.
 */
function serverBefore(text: string, at: number, header: number, servers: ReadonlyMap<string, ExpectedServer>): string | undefined | null {
  let end = at - 1;
  while (end > header) {
    const start = text.lastIndexOf('\n', end - 1) + 1;
    const raw = text.slice(start, end);
    if (SERVER_RAW.test(raw)) return servers.get(raw)?.name ?? null;
    end = start - 1;
  }
  return undefined;
}

/** The whole lines where two texts differ: where they start (the same in both), the lines of each there, and where they end in `now`. */
function changedLines(was: string, now: string): { start: number; was: string[]; now: string[]; endNow: number } {
  const prefix = samePrefix(was, now);
  const suffix = sameSuffix(was, now, Math.min(was.length, now.length) - prefix);
  const start = prefix === 0 ? 0 : was.lastIndexOf('\n', prefix - 1) + 1;
  let [endWas, endNow] = [was.length - suffix, now.length - suffix];
  // The same text follows both ends: move them together to the next line start of both.
  if (!(lineStart(was, endWas) && lineStart(now, endNow))) {
    const newline = was.indexOf('\n', endWas);
    const by = newline < 0 ? suffix : newline + 1 - endWas;
    [endWas, endNow] = [endWas + by, endNow + by];
  }
  return { start, was: linesOf(was.slice(start, endWas)), now: linesOf(now.slice(start, endNow)), endNow };
}

const lineStart = (text: string, at: number) => at === 0 || at === text.length || text.charCodeAt(at - 1) === 10;
const linesOf = (text: string) => (text === '' ? [] : text.replace(/\n$/, '').split('\n'));

/** Strings compared a block at a time (each compare native), then a character at a time. */
const BLOCK = 4096;

function samePrefix(a: string, b: string): number {
  const most = Math.min(a.length, b.length);
  let at = 0;
  while (at + BLOCK <= most && a.slice(at, at + BLOCK) === b.slice(at, at + BLOCK)) at += BLOCK;
  while (at < most && a.charCodeAt(at) === b.charCodeAt(at)) at++;
  return at;
}

function sameSuffix(a: string, b: string, most: number): number {
  let n = 0;
  while (n + BLOCK <= most && a.slice(a.length - n - BLOCK, a.length - n) === b.slice(b.length - n - BLOCK, b.length - n)) n += BLOCK;
  while (n < most && a.charCodeAt(a.length - 1 - n) === b.charCodeAt(b.length - 1 - n)) n++;
  return n;
}
