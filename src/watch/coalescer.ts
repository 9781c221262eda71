import { sleep } from '../util/backoff.js';

export interface WaitWindow {
  minMs: number;
  maxMs: number;
}

/**
 * Runs one job at a time. Requests that arrive while one runs are folded into the next run,
 * which starts after `minMs` without a new request, or `maxMs` after the first request of the
 * burst, whichever comes first (the quiescence window).
 */
export class Coalescer {
  private pending = false;
  private forced = false;
  /** Every request of the pending batch may skip the quiescence window. */
  private immediate = false;
  private firstAt = 0;
  private lastAt = 0;
  private running?: Promise<void>;

  constructor(
    private readonly job: (forced: boolean) => Promise<void>,
    private readonly window: WaitWindow,
    private readonly signal: AbortSignal,
  ) {}

  /**
   * Asks for a run; `force` makes that run act even if nothing changed (SIGHUP). `immediate`
   * skips the quiescence window (a cheap change), unless another request of the batch may not.
   */
  request(force = false, immediate = false): void {
    const now = Date.now();
    if (!this.pending) {
      this.firstAt = now;
      this.immediate = immediate;
    } else this.immediate &&= immediate;
    this.pending = true;
    this.lastAt = now;
    this.forced ||= force;
    this.running ??= this.loop();
  }

  /** Resolves when no run is under way or pending. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    for (;;) {
      // The last look at `pending` and the release of `running` happen in one synchronous step,
      // so a request can never slip in between and be left without a run.
      if (!this.pending || this.signal.aborted) {
        this.running = undefined;
        return;
      }
      for (;;) {
        const now = Date.now();
        const quiet = now - this.lastAt;
        const waited = now - this.firstAt;
        if (this.immediate || quiet >= this.window.minMs || waited >= this.window.maxMs) break;
        await sleep(Math.min(this.window.minMs - quiet, this.window.maxMs - waited), this.signal);
        if (this.signal.aborted) break;
      }
      if (this.signal.aborted) continue;
      const forced = this.forced;
      this.pending = false;
      this.forced = false;
      await this.job(forced).catch(() => {}); // the job reports its own failures
    }
  }
}
