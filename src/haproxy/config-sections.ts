/**
 * A light structural reading of a haproxy.cfg: its sections and their server lines. Enough to
 * count servers per backend and to find the admin socket; not a full parser.
 */
export interface ConfigSection {
  kind: string;
  name: string;
  /** The whole header line, as words (`backend web from fast`). */
  header: string;
  /** 1-based line of the section header. */
  line: number;
  servers: Array<{ name: string; line: number }>;
  lines: string[];
}

/** A section header line: its keyword and its name. */
export const SECTION_HEADER =
  /^\s*(global|defaults|frontend|backend|listen|resolvers|peers|userlist|mailers|program|cache|http-errors|ring)(?=\s|$)\s*([^\s#]*)/;

/**
 * Words of a config line as HAProxy splits them: whitespace separates, but not inside '…' or
 * "…" or after a backslash; an unquoted `#` starts a comment. Quotes and escapes are kept as
 * written, so two lines compare equal only when HAProxy would read them the same.
 */
export function configWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      word += c;
      if (c === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else if (c === quote) quote = undefined;
    } else if (c === '\\' && i + 1 < line.length) {
      word += c + line[++i];
    } else if (c === '"' || c === "'") {
      quote = c;
      word += c;
    } else if (c === '#') {
      break;
    } else if (/\s/.test(c)) {
      if (word) words.push(word);
      word = '';
    } else word += c;
  }
  if (word) words.push(word);
  return words;
}

export function parseSections(text: string): ConfigSection[] {
  const sections: ConfigSection[] = [];
  let current: ConfigSection | undefined;
  text.split('\n').forEach((raw, index) => {
    const header = SECTION_HEADER.exec(raw);
    if (header) {
      current = { kind: header[1]!, name: header[2] ?? '', header: configWords(raw).join(' '), line: index + 1, servers: [], lines: [] };
      sections.push(current);
      return;
    }
    if (!current) return;
    const w = configWords(raw);
    if (w.length === 0) return;
    current.lines.push(w.join(' '));
    if (w[0] === 'server' && w[1]) current.servers.push({ name: w[1], line: index + 1 });
    // server-template PREFIX NUM|FROM-TO ADDRESS: that many server slots.
    const slots = w[0] === 'server-template' ? /^(?:(\d+)|(\d+)-(\d+))$/.exec(w[2] ?? '') : null;
    if (slots) {
      const count = slots[1] ? Number(slots[1]) : Number(slots[3]) - Number(slots[2]) + 1;
      for (let n = 0; n < count; n++) current.servers.push({ name: `${w[1]}${n + 1}`, line: index + 1 });
    }
  });
  return sections;
}

/**
 * Servers per backend: every `backend`, and every `listen` that has servers (a `listen` that only
 * serves stats is not a backend of the application).
 */
export function serverCounts(sections: ConfigSection[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of sections) {
    if (s.kind === 'backend' || (s.kind === 'listen' && s.servers.length > 0)) counts[s.name] = s.servers.length;
  }
  return counts;
}

/** The path of a `stats socket` that hands over listeners (`expose-fd listeners`), for `-x`. */
export function exposedListenersSocket(sections: ConfigSection[]): string | undefined {
  const global = sections.find((s) => s.kind === 'global');
  for (const line of global?.lines ?? []) {
    const w = line.split(' ');
    if (w[0] === 'stats' && w[1] === 'socket' && w[2] && line.includes('expose-fd listeners')) {
      return w[2].replace(/^unix@/, '');
    }
  }
  return undefined;
}

/** The path of an admin-level `stats socket` (the runtime API), if the config has one. */
export function adminSocket(sections: ConfigSection[]): string | undefined {
  const global = sections.find((s) => s.kind === 'global');
  for (const line of global?.lines ?? []) {
    const w = line.split(' ');
    if (w[0] === 'stats' && w[1] === 'socket' && w[2] && / level admin( |$)/.test(line)) return w[2].replace(/^unix@/, '');
  }
  return undefined;
}

/** Section keywords start with one of these letters: most lines (servers, options) are passed over at once. */
export const HEADER_START = /^\s*[gdfblrpumch]/;
const SERVER_LINE = /^\s*server\s+[^\s#]/;
const TEMPLATE_LINE = /^\s*server-template\s/;

/**
 * `serverCounts(parseSections(text))`, in one cheap pass: only header and server lines are looked
 * at, so a config of 10,000 servers costs a string scan, not a parse.
 */
export function countServers(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  let current: { kind: string; name: string; servers: number } | undefined;
  const close = () => {
    if (current && (current.kind === 'backend' || (current.kind === 'listen' && current.servers > 0))) counts[current.name] = current.servers;
  };
  for (const raw of text.split('\n')) {
    if (SERVER_LINE.test(raw)) {
      if (current) current.servers += 1;
      continue;
    }
    if (TEMPLATE_LINE.test(raw)) {
      const slots = /^(?:(\d+)|(\d+)-(\d+))$/.exec(configWords(raw)[2] ?? '');
      if (current && slots) current.servers += slots[1] ? Number(slots[1]) : Number(slots[3]) - Number(slots[2]) + 1;
      continue;
    }
    const header = HEADER_START.test(raw) ? SECTION_HEADER.exec(raw) : null;
    if (!header) continue;
    close();
    current = { kind: header[1]!, name: header[2] ?? '', servers: 0 };
  }
  close();
  return counts;
}
