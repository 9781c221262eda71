/**
 * Runs `task` under an ora spinner on stderr when `enabled` (a TTY, text logs, not quiet);
 * otherwise just runs it. ora is loaded only when a spinner is shown.
 */
export async function withSpinner<T>(enabled: boolean, stream: NodeJS.WritableStream, text: string, task: () => Promise<T>): Promise<T> {
  // A terminal that reports no width (some PTYs without a size) would make ora's clearing loop
  // forever, so those get no spinner either.
  if (!enabled || !((stream as NodeJS.WriteStream).columns > 0)) return task();
  const { default: ora } = await import('ora');
  const spinner = ora({ text, stream: stream }).start();
  try {
    const result = await task();
    spinner.stop();
    return result;
  } catch (error) {
    spinner.stop();
    throw error;
  }
}

/** A spinner that runs until stopped (for waits with no single task), on a sized TTY only. */
export function startSpinner(stream: NodeJS.WritableStream, text: string): { stop(): void } {
  if (!((stream as NodeJS.WriteStream).columns > 0)) return { stop() {} };
  let stopped = false;
  let spinner: { stop(): void } | undefined;
  void import('ora').then(({ default: ora }) => {
    if (!stopped) spinner = ora({ text, stream: stream }).start();
  });
  return {
    stop() {
      stopped = true;
      spinner?.stop();
    },
  };
}
