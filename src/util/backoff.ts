/**
 * Exponential backoff with jitter for retrying a store forever: 250 ms, 500 ms, 1 s, then 2 s,
 * each delay drawn between half and all of its step so that many watchers do not retry in step.
 * The cap is low on purpose: a store that comes back after any outage is read again within 2 s,
 * and a retry every 1–2 s is nothing to a store (one small request per prefix).
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs = 250,
    private readonly capMs = 2_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next retry; each call lengthens the next. */
  next(): number {
    const step = Math.min(this.capMs, this.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(step / 2 + (this.random() * step) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}

/** Resolves after `ms` (at once when it is 0 or less), or when the signal aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    // A deadline already past is no wait at all; Node 24 also warns on stderr about a negative
    // timeout (TimeoutNegativeWarning), a line that is not JSON in a container's log.
    const timer = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
