/**
 * The replicated state behind the Consul-KV test servers (consul-kv-server.ts): one key space and
 * one index sequence that every server of a cluster shares, as Consul's servers share one Raft log.
 * It keeps a log of recent writes, so a server that lags (or lost its leader) can serve the store
 * as it was some time ago, and it knows which server leads.
 */
export interface ConsulEntry {
  Key: string;
  Value: string | null;
  Flags: number;
  LockIndex: number;
  CreateIndex: number;
  ModifyIndex: number;
}

/** A read's index and body (undefined: no key). */
export interface Answer {
  index: number;
  body?: string;
}

/** What the store asks of a server to pick the leader. */
export interface Member {
  readonly address: string;
  readonly running: boolean;
  readonly knownLeader: boolean;
}

interface State {
  entries: Map<string, ConsulEntry>;
  /** Raft index of the last delete under a key, so an index still moves when keys vanish. */
  tombstones: Map<string, number>;
  /**
   * The keys of each, sorted (made when first needed): a prefix is a range of them, as in Consul's
   * radix tree; `modify` holds each entry's ModifyIndex beside its key.
   */
  sorted?: { entries: string[]; modify: number[]; tombstones: string[] };
}

/** Where `key` is, or would go, in a sorted list. */
function place(sorted: readonly string[], key: string): number {
  let [low, high] = [0, sorted.length];
  while (low < high) {
    const mid = (low + high) >> 1;
    if (sorted[mid]! < key) low = mid + 1;
    else high = mid;
  }
  return low;
}

function insert(sorted: string[] | undefined, key: string, beside?: { list: number[]; value: number }): void {
  if (!sorted) return;
  const at = place(sorted, key);
  sorted.splice(at, 0, key);
  beside?.list.splice(at, 0, beside.value);
}

function remove(sorted: string[] | undefined, key: string, beside?: number[]): void {
  const at = sorted ? place(sorted, key) : -1;
  if (!sorted || sorted[at] !== key) return;
  sorted.splice(at, 1);
  beside?.splice(at, 1);
}

/** The first index from `from` on whose key does not start with `prefix` (those that do are contiguous). */
function pastPrefix(sorted: readonly string[], prefix: string, from: number): number {
  let [low, high] = [from, sorted.length];
  while (low < high) {
    const mid = (low + high) >> 1;
    if (sorted[mid]!.startsWith(prefix)) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The keys under `prefix` (or `prefix` alone), in order. */
function* range(sorted: readonly string[], prefix: string, recurse: boolean): Generator<string> {
  for (let i = place(sorted, prefix); i < sorted.length && (recurse ? sorted[i]!.startsWith(prefix) : sorted[i] === prefix); i++) yield sorted[i]!;
}

function sortedOf(state: State): NonNullable<State['sorted']> {
  if (state.sorted) return state.sorted;
  const entries = [...state.entries.keys()].sort();
  return (state.sorted = { entries, modify: entries.map((k) => state.entries.get(k)!.ModifyIndex), tombstones: [...state.tombstones.keys()].sort() });
}

/** One write as the log keeps it: when, and what the keys it touched held before. */
interface Write {
  at: number;
  before: Array<{ key: string; entry?: ConsulEntry; tombstone?: number }>;
}

/** How long, and how many, writes are kept for servers that serve the past. */
const LOG_MS = 10 * 60_000;
const LOG_WRITES = 20_000;

const bare = (key: string) => key.replace(/^\/+/, '');

export class ConsulKvStore {
  private readonly state: State = { entries: new Map(), tombstones: new Map() };
  private index = 1;
  private readonly log: Write[] = [];
  private readonly listeners = new Set<(keys: readonly string[]) => void>();
  /**
   * Answers to reads of the present, until the next write: a write wakes every watcher of its
   * prefix at once, and Consul serves them all from its in-memory tree, not by sorting and
   * encoding each time.
   */
  private readonly answers = new Map<string, Answer>();
  private readonly members: Member[] = [];
  private leading?: Member;

  /** A server joins the cluster; the first to join leads while it runs and knows a leader. */
  join(member: Member): void {
    this.members.push(member);
  }

  /**
   * The leader: it stays leader while it runs and knows a leader; else the first server that
   * does is elected (at once: the test server has no election timeout). None: no quorum anywhere.
   */
  leader(): Member | undefined {
    const canLead = (m?: Member) => m !== undefined && m.running && m.knownLeader;
    if (!canLead(this.leading)) this.leading = this.members.find(canLead);
    return this.leading;
  }

  /** Told the keys of every write (the servers wake their blocking queries). */
  onChange(listener: (keys: readonly string[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  put(key: string, value: string, flags = 0): void {
    this.putMany([[key, value]], flags);
  }

  /** Several keys set in one Consul transaction (`PUT /v1/txn`): one index, one wake-up. */
  putMany(pairs: ReadonlyArray<readonly [string, string]>, flags = 0): void {
    this.write(
      pairs.map(([key]) => bare(key)),
      (index) => {
        for (const [key, value] of pairs) {
          const k = bare(key);
          const previous = this.state.entries.get(k);
          const sorted = this.state.sorted;
          if (!previous) insert(sorted?.entries, k, sorted && { list: sorted.modify, value: index });
          else if (sorted) sorted.modify[place(sorted.entries, k)] = index;
          const encoded = value === '' ? null : Buffer.from(value, 'utf8').toString('base64');
          this.state.entries.set(k, { Key: k, Value: encoded, Flags: flags, LockIndex: 0, CreateIndex: previous?.CreateIndex ?? index, ModifyIndex: index });
        }
      },
    );
  }

  delete(key: string, recurse = false): void {
    const k = bare(key);
    const doomed = recurse ? [...this.state.entries.keys()].filter((e) => e.startsWith(k)) : [k];
    if (!doomed.some((d) => this.state.entries.has(d))) return;
    this.deleteMany(doomed);
  }

  /** Several keys deleted in one Consul transaction: one index, one wake-up. */
  deleteMany(keys: readonly string[]): void {
    const doomed = keys.map(bare);
    this.write(doomed, (index) => {
      for (const d of doomed) {
        if (!this.state.entries.delete(d)) continue;
        remove(this.state.sorted?.entries, d, this.state.sorted?.modify);
        if (!this.state.tombstones.has(d)) insert(this.state.sorted?.tombstones, d);
        this.state.tombstones.set(d, index);
      }
    });
  }

  private write(keys: string[], change: (index: number) => void): void {
    this.log.push({
      at: performance.now(),
      before: keys.map((key) => ({ key, entry: this.state.entries.get(key), tombstone: this.state.tombstones.get(key) })),
    });
    while (this.log.length > LOG_WRITES || (this.log.length > 0 && this.log[0]!.at < performance.now() - LOG_MS)) this.log.shift();
    this.index += 1;
    change(this.index);
    this.answers.clear();
    for (const listener of this.listeners) listener(keys);
  }

  /**
   * A GET's answer: the keys under `key` (or `key` alone), those the token may read only.
   * `asOf`: the store as it was then (a server that lags), as far back as the log goes.
   */
  /** `keys`: the keys alone, each cut after the separator given that follows `key` (`?keys&separator=/`), once each. */
  read(key: string, recurse: boolean, raw: boolean, readable: string | undefined, asOf?: number, keys?: string): Answer {
    if (asOf !== undefined && this.log.some((w) => w.at > asOf)) return answerOf(this.past(asOf), key, recurse, raw, readable, keys);
    const id = `${recurse}:${raw}:${readable}:${keys}:${key}`;
    const known = this.answers.get(id);
    if (known) return known;
    const answer = answerOf(this.state, key, recurse, raw, readable, keys);
    this.answers.set(id, answer);
    return answer;
  }

  /** The state before every write made after `asOf`. */
  private past(asOf: number): State {
    const state: State = { entries: new Map(this.state.entries), tombstones: new Map(this.state.tombstones) };
    for (let i = this.log.length - 1; i >= 0 && this.log[i]!.at > asOf; i--) {
      for (const { key, entry, tombstone } of this.log[i]!.before) {
        if (entry) state.entries.set(key, entry);
        else state.entries.delete(key);
        if (tombstone === undefined) state.tombstones.delete(key);
        else state.tombstones.set(key, tombstone);
      }
    }
    return state;
  }
}

function answerOf(state: State, key: string, recurse: boolean, raw: boolean, readable: string | undefined, keys?: string): Answer {
  const sorted = sortedOf(state);
  const start = place(sorted.entries, key);
  const end = recurse ? pastPrefix(sorted.entries, key, start) : start + (sorted.entries[start] === key ? 1 : 0);
  // Consul's index for a prefix: the highest modify or delete index under it.
  let index = 1;
  for (let i = start; i < end; i++) index = Math.max(index, sorted.modify[i]!);
  for (const k of range(sorted.tombstones, key, recurse)) index = Math.max(index, state.tombstones.get(k)!);
  const mayRead = (k: string) => readable === undefined || k.startsWith(readable);
  if (keys !== undefined) {
    // The names, each key cut just after the separator that follows the prefix, once each: the
    // keys under one name are contiguous, so the walk steps over them (Consul's walk visits each).
    const names: string[] = [];
    for (let i = start; i < end;) {
      const k = sorted.entries[i]!;
      const at = keys && mayRead(k) ? k.indexOf(keys, key.length) : -1;
      if (at < 0) {
        if (mayRead(k)) names.push(k);
        i += 1;
        continue;
      }
      const name = k.slice(0, at + keys.length);
      if (name !== names.at(-1)) names.push(name);
      i = readable === undefined ? pastPrefix(sorted.entries, name, i) : i + 1;
    }
    return { index, body: names.length === 0 ? undefined : JSON.stringify(names) };
  }
  const matches: ConsulEntry[] = [];
  for (let i = start; i < end; i++) if (mayRead(sorted.entries[i]!)) matches.push(state.entries.get(sorted.entries[i]!)!);
  const body = raw ? Buffer.from(matches[0]?.Value ?? '', 'base64').toString('utf8') : JSON.stringify(matches);
  return { index, body: matches.length === 0 ? undefined : body };
}
