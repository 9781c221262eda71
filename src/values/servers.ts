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

/**
 * Turns key/value entries into servers, in the order given. Entries whose value is not a strict
 * address, or whose name is longer than MAX_NAME_LENGTH, are skipped with a reason; names that
 * HAProxy would refuse are mapped to safe, unique names (names that were already valid keep theirs).
 */
export function parseServers(pairs: ReadonlyArray<{ key: string; value: string }>): ServerList {
  const skipped: SkippedEntry[] = [];
  const renamed: RenamedEntry[] = [];
  const accepted: Array<{ key: string; base: string; address: ServerAddress }> = [];
  for (const { key, value } of pairs) {
    const base = lastSegment(key);
    const long = nameTooLong(base);
    const parsed = parseServerAddress(value);
    if (long) skipped.push({ key, reason: `server name ${long}` });
    else if (parsed.ok) accepted.push({ key, base, address: parsed.value });
    else skipped.push({ key, reason: parsed.reason });
  }

  const taken = new Set(accepted.filter((e) => isServerName(e.base)).map((e) => e.base));
  const servers = accepted.map(({ key, base, address }): ServerEntry => {
    if (isServerName(base)) return { key, name: base, ...address };
    const wanted = toServerName(base);
    let name = wanted;
    // The suffix that tells two mapped names apart must not take a name past the cap.
    for (let n = 2; taken.has(name); n++) name = `${wanted.slice(0, MAX_NAME_LENGTH - `-${n}`.length)}-${n}`;
    taken.add(name);
    renamed.push({ key, from: base, to: name });
    return { key, name, ...address };
  });
  return { servers, skipped, renamed };
}
