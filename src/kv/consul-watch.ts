import { follow, type LoopContext, type PrefixReading } from './consul-loop.js';
import { inOrder } from './consul-parts.js';
import type { FolderListing } from './consul-answers.js';
import { SplitWatch } from './consul-split.js';
import { reporter } from './keys.js';
import { keepProbing } from './liveness.js';
import type { KvPair, KvWatchListener } from './source.js';

/**
 * How long Consul may hold a blocking query open: Consul's own default (it takes at most 10
 * minutes). The probes, not the end of the wait, prove the store still answers, so a long wait
 * costs an idle watch almost nothing (one query per prefix every 5 minutes).
 */
export const BLOCKING_WAIT_S = 300;

export type { PrefixReading } from './consul-loop.js';

export interface ConsulWatchDeps {
  /** One read of a prefix; with `since`, a blocking query from that index. `keptAs`: what its last listing is kept under (a part's, apart from a prefix of the same name). */
  read: (prefix: string, since?: number, signal?: AbortSignal, keptAs?: string) => Promise<PrefixReading>;
  /**
   * One tiny request for the whole watch that proves the server in use can serve (moving to the
   * next when it cannot: the queries waiting on it follow), asked every probeIntervalMs while
   * queries block; throws when no server can.
   */
  probe?: (signal: AbortSignal) => Promise<void>;
  /** Asks a server other than the one in use whether it can serve, now and then (never throws). */
  checkOther?: (signal: AbortSignal) => Promise<void>;
  /** How often to probe (tests shorten it); PROBE_INTERVAL_MS by default. */
  probeIntervalMs?: number;
  pollIntervalMs: number;
  /** Prefixes watched in parts (consul-split.ts): each needs `list`. */
  split?: readonly string[];
  /** The names in a folder (`?keys&separator=/`); with `since`, a blocking query. */
  list?: (prefix: string, since?: number, signal?: AbortSignal) => Promise<FolderListing>;
  /** A part is no longer read: what is kept for its answers can go. */
  drop?: (prefix: string) => void;
  /** How long parts may disagree with the whole before it is read whole for good (tests shorten it). */
  giveUpSwapMs?: number;
}

/**
 * Watches prefixes with Consul's blocking queries, one loop per prefix (consul-loop.ts), or per
 * part of a prefix watched in parts (consul-split.ts), and reports the merged pairs whenever one
 * moves. While queries block, one probe for all of them proves the store still answers; when it
 * fails on every server, the blocking queries are given up (a store that takes connections and
 * answers nothing is an error within a probe interval plus its timeout). A report is made only
 * when the merged pairs differ from the last one.
 */
export async function watchConsul(prefixes: readonly string[], listener: KvWatchListener, signal: AbortSignal, deps: ConsulWatchDeps): Promise<void> {
  const ctx: LoopContext = { listener, signal, pollIntervalMs: deps.pollIntervalMs, blocking: new Set() };
  const list = deps.list;
  const split = list ? prefixes.filter((p) => deps.split?.includes(p)) : [];
  const whole = prefixes.filter((p) => !split.includes(p));
  const splits: SplitWatch[] = [];
  // The first snapshot waits until every prefix has been read once.
  const merged: Merged = new Merged(listener, (): boolean => whole.every((p) => merged.has(p)) && splits.every((s) => s.ready));
  for (const prefix of split) {
    // A part's pairs, and its last listing, kept apart from a prefix of the same name (`apps/web` watched whole as well).
    // The whole prefix keeps its listing under its own name, which one-shot reads (SIGHUP) share.
    const kept = (part: string) => (part === prefix ? part : `${part}\0`);
    const read = (part: string, since: number | undefined, s: AbortSignal) => deps.read(part, since, s, kept(part));
    const sink = {
      set: (part: string, r: PrefixReading) => merged.set(`${part}\0`, r),
      delete: (part: string) => merged.delete(`${part}\0`),
      flush: merged.flush,
    };
    const drop = (part: string) => deps.drop?.(kept(part));
    splits.push(new SplitWatch(prefix, sink, ctx, { read, list: list!, drop, giveUpSwapMs: deps.giveUpSwapMs }));
  }
  const watching = whole.map((prefix) =>
    follow<PrefixReading>(
      {
        scope: prefix,
        read: (since, s) => deps.read(prefix, since, s),
        news: (reading) => {
          merged.set(prefix, reading);
          merged.flush();
        },
      },
      ctx,
    ),
  );
  await Promise.all([...watching, ...splits.map((s) => s.run()), probeServers(prefixes[0] ?? '', ctx, deps)]);
}

/** The pairs of every prefix (or part), reported together, with the keys that may differ since the last report when every reading told them. */
class Merged {
  private readonly parts = new Map<string, readonly KvPair[]>();
  // The keys that may differ since the last report, while every reading told them (undefined: one did not).
  private changed: Set<string> | undefined = new Set();
  readonly flush: () => void;

  constructor(listener: KvWatchListener, ready: () => boolean) {
    const told = () => {
      const keys = this.changed && [...this.changed];
      this.changed = new Set();
      return keys;
    };
    this.flush = reporter(listener, () => (ready() ? inOrder(this.parts) : undefined), undefined, told);
  }

  has(part: string): boolean {
    return this.parts.has(part);
  }

  set(part: string, reading: PrefixReading): void {
    // Known only against the pairs this part last reported: a reading in between was not reported.
    const known = reading.changed && reading.changed.base === this.parts.get(part) ? reading.changed.keys : undefined;
    if (known) for (const key of known) this.changed?.add(key);
    else this.changed = undefined;
    this.parts.set(part, reading.pairs);
  }

  delete(part: string): void {
    for (const pair of this.parts.get(part) ?? []) this.changed?.add(pair.key);
    this.parts.delete(part);
  }
}

/** Probes the store while queries block on it (reads and polls prove it otherwise). */
async function probeServers(scope: string, ctx: LoopContext, deps: ConsulWatchDeps): Promise<void> {
  const probe = deps.probe;
  if (!probe) return;
  let asked = false;
  await keepProbing(
    {
      probe: async (signal) => {
        asked = ctx.blocking.size > 0;
        if (asked) await probe(signal);
      },
      checkOther: deps.checkOther,
      intervalMs: deps.probeIntervalMs,
      answered: () => asked && ctx.listener.alive(scope),
      failed(error) {
        ctx.listener.error(error, scope);
        for (const query of ctx.blocking) query.abort();
      },
    },
    ctx.signal,
  );
}
