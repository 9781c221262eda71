import { sleep } from '../util/backoff.js';

export interface WaitWindow {
  minMs: number;
  maxMs: number;
}

/** Whether a request may skip the quiescence window: known, or asked of the newest state once per batch. */
export type Immediate = boolean | (() => boolean);

/** Lets the loop run what is due (I/O, timers, more events) before going on. */
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Runs one job at a time. Requests that arrive while one runs are folded into the next run,
 * which starts after `minMs` without a new request, or `maxMs` after the first request of the
 * burst, whichever comes first (the quiescence window).
 */
export class Coalescer {
  private pending = false;
  private forced = false;
  /** Every request of the pending batch may skip the quiescence window (a function: ask it, once, when the window starts). */
  private immediate: Immediate = false;
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
   * A function is asked once per batch, after the events at hand have come in, never per
   * request: a burst of requests costs one answer.
   */
  request(force = false, immediate: Immediate = false): void {
    const now = Date.now();
    if (!this.pending) {
      this.firstAt = now;
      this.immediate = immediate;
    } else if (immediate === false) this.immediate = false;
    else if (this.immediate === true) this.immediate = immediate;
    this.pending = true;
    this.lastAt = now;
    this.forced ||= force;
    this.running ??= this.loop();
  }

  /** Resolves when no run is under way or pending. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Resolves when no run is under way or pending and no request came for `quietMs`: a lull
   * between the events of a burst (a store that takes 1,000 writes over a second sends their
   * events in bunches) is not its end.
   */
  async settled(quietMs: number, signal?: AbortSignal): Promise<void> {
    // The caller may stop waiting (a deadline of its own): the loop ends with it, no timer left behind.
    const stop = signal ? AbortSignal.any([this.signal, signal]) : this.signal;
    for (;;) {
      await this.idle();
      const left = quietMs - (Date.now() - this.lastAt);
      if ((left <= 0 && !this.running) || stop.aborted) return;
      await sleep(left, stop);
    }
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
        if (quiet >= this.window.minMs || waited >= this.window.maxMs || (await this.skips())) break;
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

  /** Whether the pending batch skips the window; a function is asked once, after the loop has taken what is due. */
  private async skips(): Promise<boolean> {
    if (typeof this.immediate === 'function') {
      await yieldToLoop();
      const ask = this.immediate;
      if (typeof ask === 'function') this.immediate = !this.signal.aborted && ask();
    }
    return this.immediate === true;
  }
}
