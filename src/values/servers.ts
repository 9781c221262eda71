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

export interface ServerList<T extends ServerEntry = ServerEntry> {
  servers: T[];
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

/** A server as parseServers makes it: key, name and address. */
const plainServer = (key: string, name: string, address: ServerAddress): ServerEntry => ({ key, name, ...address });

/**
 * Turns key/value entries into servers, in the order given. Entries whose value is not a strict
 * address, or whose name is longer than MAX_NAME_LENGTH, are skipped with a reason; names that
 * HAProxy would refuse are mapped to safe, unique names (names that were already valid keep theirs).
 */
export function parseServers(pairs: ReadonlyArray<{ key: string; value: string }>): ServerList {
  return parseServersAs(pairs, plainServer);
}

/**
 * parseServers, each server made by `make` from its key, name, address and the key's last
 * segment (stack mode adds its weight and state: one object per server, not a copy of one).
 */
export function parseServersAs<T extends ServerEntry>(
  pairs: ReadonlyArray<{ key: string; value: string }>,
  make: (key: string, name: string, address: ServerAddress, base: string) => T,
): ServerList<T> {
  const skipped: SkippedEntry[] = [];
  const renamed: RenamedEntry[] = [];
  const servers: T[] = [];
  // Entries whose name needs mapping (seldom: a store's keys are names already), by their place among the servers.
  const unnamed: Array<{ at: number; key: string; entry: ParsedEntry & { address: ServerAddress } }> = [];
  for (let i = 0; i < pairs.length; i++) {
    const { key, value } = pairs[i]!;
    const entry = parseEntry(key, value);
    if (!entry.address) skipped.push({ key, reason: entry.reason! });
    else if (entry.validName) servers.push(make(key, entry.base, entry.address, entry.base));
    else {
      unnamed.push({ at: servers.length, key, entry: entry as ParsedEntry & { address: ServerAddress } });
      servers.push(undefined as unknown as T);
    }
  }
  if (unnamed.length === 0) return { servers, skipped, renamed };
  // The names taken: every valid one first, so none of them is ever given to a mapped one.
  const taken = new Set<string>();
  for (const server of servers) if (server) taken.add(server.name);
  for (const { at, key, entry } of unnamed) {
    const wanted = toServerName(entry.base);
    let name = wanted;
    // The suffix that tells two mapped names apart must not take a name past the cap.
    for (let n = 2; taken.has(name); n++) name = `${wanted.slice(0, MAX_NAME_LENGTH - `-${n}`.length)}-${n}`;
    taken.add(name);
    renamed.push({ key, from: entry.base, to: name });
    servers[at] = make(key, name, entry.address, entry.base);
  }
  return { servers, skipped, renamed };
}
