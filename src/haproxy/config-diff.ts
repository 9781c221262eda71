import { configWords, HEADER_START, SECTION_HEADER } from './config-sections.js';
import { canonicalHost, parseServerLine, unshaped, type ServerLine } from './server-line.js';

export type { ServerLine } from './server-line.js';

export interface BackendChanges {
  backend: string;
  added: ServerLine[];
  removed: ServerLine[];
  /** Same name and options, another address or port. */
  moved: Array<{ from: ServerLine; to: ServerLine }>;
  /** Same name, another weight or `disabled` (maintenance) and nothing else: the new lines (absent: none). */
  shaped?: ServerLine[];
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

const reload = (reason: string): ConfigDiff => ({ kind: 'reload', reason });

/**
 * Compares the installed config with a new one. When they differ only in the `server` lines of
 * backends that can change at runtime, returns those changes; anything else — another directive,
 * a new backend, a server line that is not plain — needs a reload, with the reason why.
 *
 * The work follows the size of the change: the two texts are compared line by line (a string
 * comparison, no parsing), and only the lines that differ are read as HAProxy would (words,
 * quotes, comments) and parsed; of the rest, only the sections a change touches are looked at.
 */
export function diffConfigs(installed: string, next: string): ConfigDiff {
  if (installed === next) return { kind: 'same' };
  const before = splitLines(installed);
  const after = splitLines(next);
  const headers = (c: ConfigLines) => c.sections.map((s) => s.header);
  if (headers(before).join('\n') !== headers(after).join('\n')) return reload('sections were added, removed, renamed or re-parented');
  const changed = changedLines(before, after);
  const defaults = after.sections.filter((s) => s.kind === 'defaults').flatMap((s) => sectionLines(after, s));
  const backends: BackendChanges[] = [];
  for (const [index, lines] of changed) {
    const section = after.sections[index];
    if (!section) return reload('lines outside any section changed');
    const name = `${section.kind} ${section.name}`;
    if (lines.removed.some((l) => !isServer(l)) || lines.added.some((l) => !isServer(l))) return reload(`${name}: a directive changed`);
    const changes = diffServers(section, sectionLines(after, section), lines, defaults);
    if ('reason' in changes) return reload(`${name}: ${changes.reason}`);
    backends.push(changes);
  }
  if (backends.length === 0) return reload('the configs differ in whitespace or comments only');
  if (defaults.some((l) => l.startsWith('default-server'))) return reload('default-server settings do not reach servers added at runtime');
  return { kind: 'servers', backends };
}

const isServer = (line: string) => line.startsWith('server ') || line.startsWith('server-template ');

/** A config's raw lines, and where each section starts. */
interface ConfigLines {
  lines: string[];
  sections: Array<{ kind: string; name: string; header: string; start: number; end: number }>;
}

/**
 * The last two configs split: a change's new config is the installed one of the next change
 * (a runtime change installs the rendering it was decided on), so each config of 10,000 servers
 * is split once, not twice. Read only.
 */
const split: Array<{ text: string; lines: ConfigLines }> = [];

function splitLines(text: string): ConfigLines {
  const kept = split.find((s) => s.text === text);
  if (kept) return kept.lines;
  const made = splitText(text);
  split.unshift({ text, lines: made });
  split.length = Math.min(split.length, 2);
  return made;
}

function splitText(text: string): ConfigLines {
  const lines = text.split('\n');
  const sections: ConfigLines['sections'] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!HEADER_START.test(line)) continue;
    const header = SECTION_HEADER.exec(line);
    if (!header) continue;
    if (sections.length > 0) sections[sections.length - 1]!.end = i;
    sections.push({ kind: header[1]!, name: header[2] ?? '', header: configWords(line).join(' '), start: i, end: lines.length });
  }
  return { lines, sections };
}

/** A raw line that HAProxy reads as a `server` or `server-template` line. */
const SERVER_RAW = /^\s*server(?:-template)?\s/;

/**
 * The lines of a section but its servers (without its header), as HAProxy reads them: words
 * joined, comments and blanks gone. Server lines are passed over unread: a backend of 10,000
 * servers costs a scan, and what decides its runtime policy is in its other lines.
 */
function sectionLines(config: ConfigLines, section: ConfigLines['sections'][number]): string[] {
  const out: string[] = [];
  for (let i = section.start + 1; i < section.end; i++) {
    if (SERVER_RAW.test(config.lines[i]!)) continue;
    const w = configWords(config.lines[i]!);
    if (w.length > 0) out.push(w.join(' '));
  }
  return out;
}

/**
 * The lines that differ, per section of the new config, read as HAProxy reads them: the common
 * start and end are skipped by plain comparison, and what is left is compared as multisets (a
 * line that moved within the section is no change).
 */
function changedLines(before: ConfigLines, after: ConfigLines): Map<number, { removed: string[]; added: string[] }> {
  const a = before.lines;
  const b = after.lines;
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tailA = a.length;
  let tailB = b.length;
  while (tailA > head && tailB > head && a[tailA - 1] === b[tailB - 1]) [tailA, tailB] = [tailA - 1, tailB - 1];
  const counts = new Map<number, Map<string, number>>();
  const tally = (config: ConfigLines, from: number, to: number, sign: number) => {
    const headers = new Set(config.sections.map((s) => s.start));
    for (let i = from; i < to; i++) {
      const words = configWords(config.lines[i]!);
      if (words.length === 0 || headers.has(i)) continue;
      const section = sectionAt(config, i);
      const lines = counts.get(section) ?? new Map<string, number>();
      counts.set(section, lines);
      const line = words.join(' ');
      lines.set(line, (lines.get(line) ?? 0) + sign);
    }
  };
  tally(before, head, tailA, -1);
  tally(after, head, tailB, 1);
  const changed = new Map<number, { removed: string[]; added: string[] }>();
  // In the config's order of sections, whichever text a change was found in first.
  for (const [section, lines] of [...counts].sort(([a], [b]) => a - b)) {
    const removed = [...lines].filter(([, n]) => n < 0).flatMap(([l, n]) => Array<string>(-n).fill(l));
    const added = [...lines].filter(([, n]) => n > 0).flatMap(([l, n]) => Array<string>(n).fill(l));
    if (removed.length + added.length > 0) changed.set(section, { removed, added });
  }
  return changed;
}

/** The index of the section a line lies in (-1: before the first section). Sections are few: a scan is enough. */
function sectionAt(config: ConfigLines, line: number): number {
  for (let i = config.sections.length - 1; i >= 0; i--) if (config.sections[i]!.start <= line) return i;
  return -1;
}

function diffServers(
  section: ConfigLines['sections'][number],
  lines: string[],
  changed: { removed: string[]; added: string[] },
  defaults: string[],
): BackendChanges | { reason: string } {
  if (section.kind !== 'backend' && section.kind !== 'listen') return { reason: 'servers outside a backend' };
  const policy = runtimePolicy(lines, defaults);
  if (policy) return { reason: policy };
  if ([...changed.removed, ...changed.added].some((l) => l.startsWith('server-template '))) return { reason: 'server-template lines change only by reload' };
  const parse = (list: string[]): Map<string, ServerLine> | string => {
    const servers = new Map<string, ServerLine>();
    for (const line of list) {
      const parsed = parseServerLine(line);
      if (typeof parsed === 'string') return parsed;
      servers.set(parsed.name, parsed);
    }
    return servers;
  };
  const was = parse(changed.removed);
  const now = parse(changed.added);
  if (typeof was === 'string' || typeof now === 'string') return { reason: (typeof was === 'string' ? was : now) as string };
  const changes: BackendChanges = { backend: section.name, added: [], removed: [], moved: [] };
  for (const [name, line] of now) {
    const old = was.get(name);
    if (!old) {
      changes.added.push(line);
      continue;
    }
    if (old.options.join(' ') !== line.options.join(' ')) {
      if (unshaped(old.options) !== unshaped(line.options)) return { reason: `the options of server ${name} changed` };
      (changes.shaped ??= []).push(line);
    }
    if (canonicalHost(old.host) !== canonicalHost(line.host) || old.port !== line.port) changes.moved.push({ from: old, to: line });
  }
  for (const [name, line] of was) if (!now.has(name)) changes.removed.push(line);
  return changes;
}

/**
 * Why a backend cannot change at runtime, if it cannot: its balance (its own, else what a
 * defaults section may give it: every one of them, to be safe, as which one applies depends on
 * order and `from`), or `default-server` settings, which servers added at runtime do not get.
 */
export function runtimePolicy(lines: readonly string[], defaults: readonly string[]): string | undefined {
  const own = lines.filter((l) => l.startsWith('balance '));
  const inherited = defaults.filter((l) => l.startsWith('balance '));
  const balances = (own.length > 0 ? own : inherited.length > 0 ? inherited : ['balance roundrobin']).map((l) => l.split(' ')[1]!);
  const consistent = [...lines, ...defaults].some((l) => l === 'hash-type consistent' || l.startsWith('hash-type consistent '));
  for (const balance of balances) {
    if (balance === 'random' || balance.startsWith('random(')) return `balance ${balance}: ${RING_BALANCE_REASON}`;
    if (!DYNAMIC_BALANCE.has(balance)) {
      return consistent ? `balance ${balance} with hash-type consistent: ${RING_BALANCE_REASON}` : `balance ${balance} does not take servers at runtime`;
    }
  }
  if (lines.some((l) => l.startsWith('default-server'))) return 'default-server settings do not reach servers added at runtime';
  return undefined;
}
