/** How long the file of a runtime change waits at most for the changes after it (a burst) to be carried out. */
export const FOLLOW_LAG_MS = 5000;

/**
 * How long the store is quiet before the file follows: longer than the gap between a Consul
 * watch's answers in a burst (MIN_QUERY_GAP_MS, 100 ms, plus the answer) and than the lulls
 * of etcd's events while it takes a burst of writes. Measured: 1,000 servers written at once to
 * etcd at 10,000, the file's `haproxy -c` (half a second, a core) started in such a lull.
 */
export const FOLLOW_QUIET_MS = 250;

/** Why a wait for the changes is given up: one reason for all, so that no abort builds a DOMException and its stack (about 30 µs a file at 100 apps × 100 servers). */
const GIVEN_UP = new Error('the file follows');

export interface FileFollowerDeps<T> {
  /** Installs the file (staged, `haproxy -c`, renamed); `urgent`: a reload waits for it, at normal priority. */
  install: (file: T, urgent: boolean) => Promise<void>;
  /** The file could not be installed, and no newer one may pass in time: the disk is behind HAProxy. */
  failed: (error: unknown) => Promise<void>;
  /** The file could not be installed, and a newer one is due (it records the same changes). */
  superseded: (error: unknown) => void;
  /** Resolves once no store change waits to be carried out, nor is under way, nor came for `quietMs` (FOLLOW_QUIET_MS). */
  changesDone?: (quietMs: number, signal: AbortSignal) => Promise<void>;
  /** At most this long (FOLLOW_LAG_MS). */
  lagMs?: number;
}

/**
 * The file of a runtime change, installed in the background, one at a time: a newer one replaces
 * one not started yet. During a burst it waits for the changes after it, at most `lagMs` after
 * the oldest change not yet on disk: `haproxy -c` of a large config takes a core (0.8 s at 10,000
 * servers) from HAProxy and the store while they serve the burst, and the newest file records
 * them all. Never rejects.
 */
export class FileFollower<T> {
  private pending?: T;
  /** When the oldest change of the pending file was carried out. */
  private pendingSince = 0;
  /** When the oldest change not on disk was carried out. */
  private behindSince = 0;
  private following?: Promise<void>;
  /** The disk is needed now (a reload reads it): no more waiting for changes, until the files are done. */
  private urgent = false;
  private wake?: () => void;

  constructor(private readonly deps: FileFollowerDeps<T>) {}

  private get lagMs(): number {
    return this.deps.lagMs ?? FOLLOW_LAG_MS;
  }

  follow(file: T): void {
    const now = performance.now();
    if (this.pending === undefined) this.pendingSince = now;
    if (!this.following) this.behindSince = now;
    this.pending = file;
    this.following ??= this.run();
  }

  /** Installs a waiting file now (a reload reads the disk); resolves once none is being installed. */
  async flush(): Promise<void> {
    if (this.following) this.urgent = true;
    this.wake?.();
    await this.settled();
  }

  /** Resolves once no file is being installed. */
  async settled(): Promise<void> {
    while (this.following) await this.following;
  }

  private async run(): Promise<void> {
    for (;;) {
      await this.changesDone(this.lagMs - (performance.now() - this.behindSince));
      const file = this.pending;
      // The last look at `pending` and the end of the run in one synchronous step: a file followed now starts a run.
      if (file === undefined) {
        this.following = undefined;
        this.urgent = false;
        return;
      }
      this.pending = undefined;
      try {
        await this.deps.install(file, this.urgent);
        this.behindSince = this.pendingSince;
      } catch (error) {
        // A newer file records the same changes and more: it may pass, unless the disk has been behind too long.
        if (this.pending !== undefined && performance.now() - this.behindSince < this.lagMs) {
          this.deps.superseded(error);
          continue;
        }
        await this.deps.failed(error).catch(() => {});
        this.behindSince = this.pendingSince;
      }
    }
  }

  /** Until the changes after the pending file are carried out, at most `ms`, or the disk is needed now. */
  private async changesDone(ms: number): Promise<void> {
    const done = this.deps.changesDone;
    if (!done || this.urgent || ms <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    const given = new AbortController();
    try {
      await Promise.race([
        done(FOLLOW_QUIET_MS, given.signal),
        new Promise<void>((resolve) => {
          this.wake = resolve;
          timer = setTimeout(resolve, ms);
        }),
      ]);
    } catch {
      // The changes cannot be waited for: the file follows now.
    } finally {
      given.abort(GIVEN_UP); // the wait given up ends too
      clearTimeout(timer);
      this.wake = undefined;
    }
  }
}
