import { isServerName, MAX_NAME_LENGTH, nameTooLong, parseServerAddress, toServerName, type ServerAddress } from './server.js';

export interface ServerEntry extends ServerAddress {
  /** The key the entry came from, e.g. `/apps/myapp/containers/one`. */
  key: string;
  /** A unique HAProxy server name: the key's last segment, mapped to `[A-Za-z0-9._:-]+`. */
  name: string;
}

export interface SkippedEntry {
  key: string;
  reason: string;
}

export interface RenamedEntry {
  key: string;
  from: string;
  to: string;
}

export interface ServerList {
  servers: ServerEntry[];
  skipped: SkippedEntry[];
  renamed: RenamedEntry[];
}

const lastSegment = (key: string): string => key.slice(key.lastIndexOf('/') + 1);

/** What one entry parses to: its name's base, whether HAProxy takes that name as it is, and its address or why it is skipped. */
interface ParsedEntry {
  value: string;
  base: string;
  validName: boolean;
  address?: ServerAddress;
  reason?: string;
}

/**
 * Each key's entry as parsed last, kept from one answer to the next: an answer of 10,000 servers
 * that changed one parses one (the rest is a lookup). Bounded: emptied when it holds as many keys
 * as no store of ours does.
 */
const parsedEntries = new Map<string, ParsedEntry>();
const MOST_KEPT = 200_000;

function parseEntry(key: string, value: string): ParsedEntry {
  const kept = parsedEntries.get(key);
  if (kept?.value === value) return kept;
  const base = lastSegment(key);
  const long = nameTooLong(base);
  const parsed = long ? undefined : parseServerAddress(value);
  const entry: ParsedEntry = { value, base, validName: isServerName(base) };
  if (long) entry.reason = `server name ${long}`;
  else if (parsed!.ok) entry.address = parsed!.value;
  else entry.reason = parsed!.reason;
  if (parsedEntries.size >= MOST_KEPT) parsedEntries.clear();
  parsedEntries.set(key, entry);
  return entry;
}

/**
 * Turns key/value entries into servers, in the order given. Entries whose value is not a strict
 * address, or whose name is longer than MAX_NAME_LENGTH, are skipped with a reason; names that
 * HAProxy would refuse are mapped to safe, unique names (names that were already valid keep theirs).
 */
export function parseServers(pairs: ReadonlyArray<{ key: string; value: string }>): ServerList {
  const skipped: SkippedEntry[] = [];
  const renamed: RenamedEntry[] = [];
  const accepted: Array<{ key: string; entry: ParsedEntry & { address: ServerAddress } }> = [];
  for (const { key, value } of pairs) {
    const entry = parseEntry(key, value);
    if (entry.address) accepted.push({ key, entry: entry as ParsedEntry & { address: ServerAddress } });
    else skipped.push({ key, reason: entry.reason! });
  }

  // The names taken, made only when one needs mapping (seldom: a store's keys are names already).
  let taken: Set<string> | undefined;
  const servers = accepted.map(({ key, entry }): ServerEntry => {
    if (entry.validName) return { key, name: entry.base, ...entry.address };
    taken ??= new Set(accepted.filter((e) => e.entry.validName).map((e) => e.entry.base));
    const wanted = toServerName(entry.base);
    let name = wanted;
    // The suffix that tells two mapped names apart must not take a name past the cap.
    for (let n = 2; taken.has(name); n++) name = `${wanted.slice(0, MAX_NAME_LENGTH - `-${n}`.length)}-${n}`;
    taken.add(name);
    renamed.push({ key, from: entry.base, to: name });
    return { key, name, ...entry.address };
  });
  return { servers, skipped, renamed };
}
