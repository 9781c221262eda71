import { follow, type LoopContext, type PrefixReading } from './consul-loop.js';
import { isRefusal, type FolderListing } from './consul-answers.js';
import { agree, groups, partsOf } from './consul-parts.js';
import type { KvWatchListener } from './source.js';

export interface SplitDeps {
  /** A part's read (`part` is its prefix); kept apart from a prefix of the same name watched whole. */
  read: (part: string, since: number | undefined, signal: AbortSignal) => Promise<PrefixReading>;
  list: (folder: string, since: number | undefined, signal: AbortSignal) => Promise<FolderListing>;
  /** A part is no longer read: what is kept for its answers can go. */
  drop?: (part: string) => void;
  /** How long new parts may disagree with the old ones before the prefix is read whole (GIVE_UP_SWAP_MS; tests shorten it). */
  giveUpSwapMs?: number;
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
}

/**
 * Read whole, the prefix takes over from the parts once it has read at an index at least as high
 * as each part's last (X-Consul-Index under a prefix is its newest change): it holds them all, and
 * none of them goes back in time. A part the store refuses keeps its last reading, which is older.
 */
function newer(group: readonly Part[]): boolean {
  const newest = Math.max(0, ...group.filter((p) => p.reporting).map((p) => p.reading?.index ?? 0));
  return group.every((p) => p.reporting || (p.reading && (p.reading.index ?? Infinity) >= newest));
}

/** A listing's scope in the failures (never a part's: no key holds a NUL). */
const listScope = (folder: string) => `${folder}\0?keys`;

/** Failures in a row of one query after which one read of the whole prefix asks whether the store can read it (and then the prefix is read whole). */
const GIVE_UP_FAILURES = 3;
/** How long new parts may disagree with the old ones before the prefix is read whole. */
const GIVE_UP_SWAP_MS = 30_000;

/**
 * Watches one prefix (stack mode's apps) in parts, so that a change is answered with its part,
 * not with every key under the prefix: at 100 apps of 100 servers, one app's 100 keys instead of
 * 10,000. Two small blocking queries list the names under the prefix (`apps` and `apps/`, with
 * `?keys&separator=/`: the second holds the apps, the first any key beside them such as
 * `apps2/…`), and partsOf cuts them into at most MAX_PARTS string prefixes, each watched by a
 * recursive blocking query of its own. The prefix is read whole first (the first snapshot comes as
 * soon as without parts), and for good with a store that cannot list or block, one where a part
 * cannot be read while the rest can (an ACL that lists a folder it does not let read), or whose
 * parts keep disagreeing with the whole.
 *
 * Parts change as names come and go, without a moment where a key is missing, doubled or back in
 * time: new parts join the report together with the old parts they replace, once their readings
 * agree (consul-parts.ts). The listings only say which parts to read; a key leaves the report only
 * when a part that holds it has read it gone.
 */
export class SplitWatch {
  private readonly parts = new Map<string, Part>();
  private wanted: string[];
  private readonly listings = new Map<string, FolderListing>();
  private readonly lists = new AbortController();
  private readonly loops = new Set<Promise<void>>();
  private readonly ctx: LoopContext;
  /** The prefix's queries failing now, and how many times in a row the store refused each. */
  private readonly failing = new Map<string, number>();
  private trying = false;
  private whole = false;
  private shown = false;
  private disagreeing?: number;

  constructor(
    private readonly prefix: string,
    private readonly sink: PartSink,
    ctx: LoopContext,
    private readonly deps: SplitDeps,
    private readonly listener = ctx.listener,
  ) {
    this.wanted = [prefix];
    this.ctx = { ...ctx, listener: this.tally(ctx.listener) };
  }

  /** Every wanted part has been in the report at least once: the first snapshot may go. */
  get ready(): boolean {
    this.shown ||= this.wanted.every((p) => this.parts.get(p)?.reporting);
    return this.shown;
  }

  async run(): Promise<void> {
    this.settle();
    const signal = AbortSignal.any([this.ctx.signal, this.lists.signal]);
    for (const folder of [this.prefix, `${this.prefix}/`]) {
      const read = (since: number | undefined, s: AbortSignal) => this.deps.list(folder, since, s);
      this.loop(follow<FolderListing>({ scope: listScope(folder), read, news: (listing) => this.listed(folder, listing), stop: signal }, this.ctx));
    }
    while (this.loops.size > 0) await Promise.all(this.loops);
  }

  private loop(running: Promise<void>): void {
    const done = running.finally(() => this.loops.delete(done));
    this.loops.add(done);
  }

  private listed(folder: string, listing: FolderListing): void {
    // A store that cannot list, or cannot block: one query for the whole prefix, as without parts.
    if (listing.names === undefined || listing.index === undefined) return this.readWhole();
    const names = this.listings.get(folder)?.names;
    this.listings.set(folder, listing);
    // Every change under the prefix wakes the listings; the parts change only when the names do.
    if (!names || names.length !== listing.names.length || names.some((n, i) => n !== listing.names![i])) this.plan();
  }

  /** The parts the listings call for, once the whole prefix has been reported (the first snapshot does not wait for them). */
  private plan(): void {
    const outer = this.listings.get(this.prefix)?.names;
    // Consul's folder key (`apps/`, as its UI makes one) holds no pair.
    const inner = this.listings.get(`${this.prefix}/`)?.names?.filter((n) => n !== `${this.prefix}/`);
    if (!outer || !inner || !this.shown || this.whole) return;
    // The folder (`apps/`) stands for the names in it, once there are any.
    this.wanted = partsOf(this.prefix, [...outer.filter((n) => n !== `${this.prefix}/` || inner.length === 0), ...inner]);
    this.settle();
  }

  private readWhole(): void {
    this.whole = true;
    this.lists.abort();
    for (const folder of [this.prefix, `${this.prefix}/`]) this.forget(listScope(folder));
    this.wanted = [this.prefix];
    this.settle();
  }

  /** Starts the wanted parts, and swaps in every group of new parts that can take over from the old ones they overlap. */
  private settle(): void {
    const shown = this.shown;
    for (const prefix of this.wanted) if (!this.parts.has(prefix)) this.start(prefix);
    const wanted = new Set(this.wanted);
    // Parts started for an earlier listing, unwanted before they were reported: nothing of theirs is lost.
    for (const part of [...this.parts.values()]) if (!wanted.has(part.prefix) && !part.reporting) this.end(part);
    const incoming = [...this.parts.values()].filter((p) => !p.reporting);
    const outgoing = [...this.parts.values()].filter((p) => p.reporting && !wanted.has(p.prefix));
    let swapped = false;
    let stuck = false;
    for (const group of groups(incoming, outgoing)) {
      if (!(this.whole ? newer(group) : agree(group))) {
        stuck ||= group.every((p) => p.reading);
        continue;
      }
      for (const part of group) {
        if (part.reporting) {
          this.sink.delete(part.prefix);
          this.end(part);
        } else {
          part.reporting = true;
          this.sink.set(part.prefix, part.reading!);
        }
      }
      swapped = true;
    }
    this.disagreeing = stuck ? (this.disagreeing ?? Date.now()) : undefined;
    if (swapped) this.sink.flush();
    if (!shown && this.ready) this.plan();
    else if (this.disagreeing !== undefined && Date.now() - this.disagreeing > (this.deps.giveUpSwapMs ?? GIVE_UP_SWAP_MS) && !this.whole) this.readWhole();
  }

  private start(prefix: string): void {
    const stop = new AbortController();
    const part: Part = { prefix, stop, reporting: false };
    const news = (reading: PrefixReading) => {
      // A part ended while its answer was on the way: it has no say any more.
      if (stop.signal.aborted) return;
      part.reading = reading;
      if (part.reporting) this.sink.set(prefix, reading);
      // A new part may now take over, or an old one now agree with the new ones.
      if (!part.reporting || !this.wanted.includes(prefix)) this.settle();
      if (part.reporting) this.sink.flush();
    };
    const read = (since: number | undefined, signal: AbortSignal) => this.deps.read(prefix, since, signal);
    this.loop(
      follow<PrefixReading>({ scope: prefix, read, news, stop: stop.signal }, this.ctx).finally(() => {
        if (!this.parts.has(prefix)) this.deps.drop?.(prefix);
      }),
    );
    this.parts.set(prefix, part);
  }

  private end(part: Part): void {
    part.stop.abort();
    this.parts.delete(part.prefix);
    this.forget(part.prefix);
  }

  /**
   * The listener of the prefix's queries: their failures told as the prefix's, each failure only
   * while it is the first still failing (the error count grows as with one query, not 30 times
   * as fast), and the prefix alive again only once none fails. A query the store refuses again and
   * again (a 3xx or 4xx answer) while the whole prefix can be read (one read of it tells) cannot be
   * read here: an ACL that lists a folder it does not let read, a gateway that refuses `?keys`.
   * The prefix is then read whole.
   */
  private tally(listener: KvWatchListener): KvWatchListener {
    return {
      snapshot: (snapshot) => listener.snapshot(snapshot),
      alive: (scope) => {
        this.failing.delete(scope);
        if (this.failing.size === 0) listener.alive(this.prefix);
      },
      error: (error, scope) => {
        // Refusals in a row (a store that answers, and says no to this one query): an outage's failures do not count.
        const count = isRefusal(error) ? (this.failing.get(scope) ?? 0) + 1 : 0;
        this.failing.set(scope, count);
        if (this.failing.keys().next().value === scope) listener.error(error, this.prefix);
        if (count > 0 && count % GIVE_UP_FAILURES === 0 && !this.whole) void this.tryWhole();
      },
    };
  }

  /** One read of the whole prefix: when it succeeds while a query of its parts keeps failing, the prefix is read whole. */
  private async tryWhole(): Promise<void> {
    if (this.trying) return;
    this.trying = true;
    try {
      await this.deps.read(this.prefix, undefined, this.ctx.signal);
      if (!this.whole && !this.ctx.signal.aborted) this.readWhole();
    } catch {
      // The store fails the whole prefix too: an outage, which the queries ride out.
    } finally {
      this.trying = false;
    }
  }

  /** A query no longer asked: its failure no longer stands. */
  private forget(scope: string): void {
    if (this.failing.delete(scope) && this.failing.size === 0) this.listener.alive(this.prefix);
  }
}
