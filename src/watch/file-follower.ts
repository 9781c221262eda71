import type { RenderedResource } from '../plan/render.js';

/** How long the file of a runtime change waits at most for the changes after it (a burst) to be carried out. */
export const FOLLOW_LAG_MS = 5000;

export interface FileFollowerDeps {
  /** Installs the file (staged, `haproxy -c` at a low priority, renamed). */
  install: (file: RenderedResource) => Promise<void>;
  /** The file could not be installed, and no newer one is due. */
  failed: (error: unknown) => Promise<void>;
  /** Resolves once no store change waits to be carried out, nor is under way. */
  changesDone?: () => Promise<void>;
  /** At most this long (FOLLOW_LAG_MS). */
  lagMs?: number;
}

/**
 * The file of a runtime change, installed in the background, one at a time: a newer one replaces
 * one not started yet. During a burst it waits for the changes after it, at most FOLLOW_LAG_MS:
 * `haproxy -c` of a large config takes a core (0.8 s at 10,000 servers) from HAProxy and the
 * store while they serve the burst, and the newest file records them all.
 */
export class FileFollower {
  private pending?: RenderedResource;
  /** When the oldest change the pending file records was carried out. */
  private pendingSince = 0;
  private following?: Promise<void>;
  /** The disk is needed now (a reload reads it): no more waiting for changes, until the files are done. */
  private urgent = false;
  private wake?: () => void;

  constructor(private readonly deps: FileFollowerDeps) {}

  follow(file: RenderedResource): void {
    if (!this.pending) this.pendingSince = performance.now();
    this.pending = file;
    this.following ??= this.run().finally(() => {
      this.following = undefined;
      this.urgent = false;
    });
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
    while (this.pending) {
      await this.changesDone((this.deps.lagMs ?? FOLLOW_LAG_MS) - (performance.now() - this.pendingSince));
      const file = this.pending;
      if (!file) return;
      this.pending = undefined;
      try {
        await this.deps.install(file);
      } catch (error) {
        if (this.pending) continue; // a newer file is due, and may pass
        await this.deps.failed(error);
      }
    }
  }

  /** Until the changes after the pending file are carried out, at most `ms`, or the disk is needed now. */
  private async changesDone(ms: number): Promise<void> {
    const done = this.deps.changesDone;
    if (!done || this.urgent || ms <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done(),
      new Promise<void>((resolve) => {
        this.wake = resolve;
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
    this.wake = undefined;
  }
}
