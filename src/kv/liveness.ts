/**
 * How often a store is asked a tiny question while a long request waits on it (a blocking query,
 * a watch stream). A store that takes connections and then answers nothing looks just like one
 * with nothing new to say; the probe tells them apart within this interval plus --kv-timeout
 * (13 s by default), instead of at the end of a 60 s wait.
 */
export const PROBE_INTERVAL_MS = 3_000;

/**
 * Runs `wait` and, every `intervalMs` until it settles, `probe`. When a probe fails, `wait` is
 * aborted and the probe's error is thrown in its place. `signal` aborts both.
 */
export async function withProbes<T>(
  wait: (signal: AbortSignal) => Promise<T>,
  probe: (signal: AbortSignal) => Promise<void>,
  signal: AbortSignal,
  intervalMs = PROBE_INTERVAL_MS,
): Promise<T> {
  const inner = new AbortController();
  const abort = () => inner.abort();
  signal.addEventListener('abort', abort, { once: true });
  let failure: { error: unknown } | undefined;
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    timer = setTimeout(() => {
      probe(inner.signal).then(
        () => (inner.signal.aborted ? undefined : schedule()),
        (error: unknown) => {
          if (inner.signal.aborted) return;
          failure = { error };
          inner.abort();
        },
      );
    }, intervalMs);
  };
  schedule();
  try {
    return await wait(inner.signal);
  } catch (error) {
    throw failure ? failure.error : error;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', abort);
    inner.abort(); // a probe still under way is no longer needed
  }
}
