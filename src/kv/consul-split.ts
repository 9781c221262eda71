import { follow, type LoopContext, type PrefixReading } from './consul-loop.js';
import { overlap, partsOf } from './consul-parts.js';
import type { KvPair, KvWatchListener } from './source.js';

/** Consul's `?keys&separator=/` answer: the names in a folder; `names` undefined when the store cannot list (not Consul's API). */
export interface FolderListing {
  names?: string[];
  index?: number;
}

export interface SplitDeps {
  read: (prefix: string, since: number | undefined, signal: AbortSignal) => Promise<PrefixReading>;
  list: (prefix: string, since: number | undefined, signal: AbortSignal) => Promise<FolderListing>;
  /** A part is no longer read: what is kept for its answers can go. */
  drop?: (prefix: string) => void;
}

/** Where a split prefix's pairs go: each part reported, or taken back, on its own. */
export interface PartSink {
  set(part: string, reading: PrefixReading): void;
  delete(part: string): void;
  flush(): void;
}

interface Part {
  prefix: string;
  stop: AbortController;
  /** Its last reading; undefined until the first. */
  reading?: PrefixReading;
  /** Its pairs are in the report. */
  reporting: boolean;
  done: Promise<void>;
}

/**
 * Watches one prefix (stack mode's apps) in parts, so that a change is answered with its part,
 * not with every key under the prefix: at 100 apps of 100 servers, one app's 100 keys instead of
 * 10,000. Two small blocking queries list the names under the prefix (`apps` and `apps/`, with
 * `?keys&separator=/`: the second holds the apps, the first any key beside them such as
 * `apps2/…`), and partsOf cuts them into at most MAX_PARTS string prefixes, each watched by a
 * recursive blocking query of its own. Until the listings answer, and for good with a store that
 * cannot list or block, the prefix is watched whole, as one part.
 *
 * Parts change as names come and go, without a moment where a key is missing, doubled or back in
 * time: new parts join the report together with the old parts they replace, once their readings
 * agree (agree, below). The listings only say which parts to read; a key leaves the report only
 * when a part that holds it has read it gone.
 */
export class SplitWatch {
  private readonly parts = new Map<string, Part>();
  private wanted: string[];
  private readonly listings = new Map<string, FolderListing>();
  private readonly lists = new AbortController();
  private shown = false;

  private readonly ctx: LoopContext;

  constructor(
    private readonly prefix: string,
    private readonly sink: PartSink,
    ctx: LoopContext,
    private readonly deps: SplitDeps,
  ) {
    this.wanted = [prefix];
    this.ctx = { ...ctx, listener: tally(ctx.listener, prefix) };
  }

  /** Every wanted part has been in the report at least once: the first snapshot may go. */
  get ready(): boolean {
    this.shown ||= this.wanted.every((p) => this.parts.get(p)?.reporting);
    return this.shown;
  }

  async run(): Promise<void> {
    this.settle();
    const signal = AbortSignal.any([this.ctx.signal, this.lists.signal]);
    const listed = [this.prefix, `${this.prefix}/`].map((folder) =>
      follow<FolderListing>(
        { scope: `${folder}?keys`, read: (since, s) => this.deps.list(folder, since, s), news: (listing) => this.listed(folder, listing), stop: signal },
        this.ctx,
      ),
    );
    await Promise.all(listed);
    // The parts end with the watch (or are stopped as they are replaced).
    while (this.parts.size > 0) await Promise.all([...this.parts.values()].map((p) => p.done));
  }

  private listed(folder: string, listing: FolderListing): void {
    if (listing.names === undefined || listing.index === undefined) {
      // A store that cannot list, or cannot block: one query for the whole prefix, as without parts.
      this.lists.abort();
      this.wanted = [this.prefix];
      this.settle();
      return;
    }
    this.listings.set(folder, listing);
    const outer = this.listings.get(this.prefix)?.names;
    const inner = this.listings.get(`${this.prefix}/`)?.names;
    if (!outer || !inner) return;
    // The folder itself (`apps/`) stands for the names in it, once they are known.
    const names = [...outer.filter((n) => n !== `${this.prefix}/` || inner.length === 0), ...inner];
    this.wanted = partsOf(this.prefix, names);
    this.settle();
  }

  /** Starts the wanted parts, and swaps in every group of new parts that can take over from the old ones they overlap. */
  private settle(): void {
    for (const prefix of this.wanted) if (!this.parts.has(prefix)) this.start(prefix);
    const wanted = new Set(this.wanted);
    // Parts started for an earlier listing, unwanted before they were reported: nothing of theirs is lost.
    for (const part of [...this.parts.values()]) if (!wanted.has(part.prefix) && !part.reporting) this.end(part);
    const incoming = [...this.parts.values()].filter((p) => !p.reporting);
    const outgoing = [...this.parts.values()].filter((p) => p.reporting && !wanted.has(p.prefix));
    let changed = false;
    for (const group of groups(incoming, outgoing)) {
      if (!agree(group)) continue;
      for (const part of group) {
        if (part.reporting) {
          this.sink.delete(part.prefix);
          this.end(part);
        } else {
          part.reporting = true;
          this.sink.set(part.prefix, part.reading!);
        }
      }
      changed = true;
    }
    if (changed) this.sink.flush();
  }

  private start(prefix: string): void {
    const stop = new AbortController();
    const part: Part = { prefix, stop, reporting: false, done: Promise.resolve() };
    part.done = follow<PrefixReading>(
      {
        scope: prefix,
        read: (since, signal) => this.deps.read(prefix, since, signal),
        news: (reading) => {
          part.reading = reading;
          if (part.reporting) this.sink.set(prefix, reading);
          // A new part may now take over, or an old one now agree with the new ones.
          if (!part.reporting || !this.wanted.includes(prefix)) this.settle();
          if (part.reporting) this.sink.flush();
        },
        stop: stop.signal,
      },
      this.ctx,
    ).finally(() => {
      if (this.parts.get(prefix) === part) this.parts.delete(prefix);
      this.deps.drop?.(prefix);
    });
    this.parts.set(prefix, part);
  }

  private end(part: Part): void {
    part.stop.abort();
    this.parts.delete(part.prefix);
  }
}

/**
 * The listener of a split prefix's queries: their failures told as the prefix's, and the prefix
 * alive again only once none of them fails (/healthz shows one problem for the prefix, not one
 * per part, and one part's good read does not hide another's failure).
 */
function tally(listener: KvWatchListener, prefix: string): KvWatchListener {
  const failing = new Set<string>();
  return {
    snapshot: (snapshot) => listener.snapshot(snapshot),
    alive(scope) {
      failing.delete(scope);
      if (failing.size === 0) listener.alive(prefix);
    },
    error(error, scope) {
      failing.add(scope);
      listener.error(error, prefix);
    },
  };
}

/** The new and old parts, in groups that overlap one another (through any chain): each group is swapped at once. */
function groups(incoming: Part[], outgoing: Part[]): Part[][] {
  const all = [...incoming, ...outgoing];
  const seen = new Set<Part>();
  const found: Part[][] = [];
  for (const first of all) {
    if (seen.has(first)) continue;
    const group = [first];
    seen.add(first);
    for (let i = 0; i < group.length; i++) {
      for (const other of all) {
        if (seen.has(other) || !overlap(group[i]!.prefix, other.prefix)) continue;
        seen.add(other);
        group.push(other);
      }
    }
    found.push(group);
  }
  return found;
}

/**
 * Whether a group's new parts can take over from its old ones without a key going missing or back
 * in time: every new part has read; every pair of the old parts lies under a new part (a key the
 * listings do not know yet waits for them, and an app the listings say is gone leaves once its own
 * part has read it gone); and where old and new parts overlap, they hold the same pairs (a part
 * that read before the last change waits for its next answer, which that change brings at once).
 */
function agree(group: readonly Part[]): boolean {
  const incoming = group.filter((p) => !p.reporting);
  if (!incoming.every((p) => p.reading)) return false;
  const outgoing = group.filter((p) => p.reporting);
  const under = (parts: readonly Part[]) => (key: string) => parts.some((p) => key.startsWith(`/${p.prefix}`));
  const old = outgoing.flatMap((p) => p.reading!.pairs);
  if (!old.every((pair) => under(incoming)(pair.key))) return false;
  const taking = incoming.flatMap((p) => p.reading!.pairs).filter((pair) => under(outgoing)(pair.key));
  const byKey = new Map(old.map((pair) => [pair.key, pair.value]));
  return taking.length === old.length && taking.every((pair) => byKey.get(pair.key) === pair.value);
}

/** The pairs of the reporting parts, in key order (their prefixes never start with one another). */
export function inOrder(parts: ReadonlyMap<string, readonly KvPair[]>): KvPair[] {
  return [...parts.keys()].sort().flatMap((p) => parts.get(p)!);
}
