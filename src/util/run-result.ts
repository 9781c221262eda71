/** How a command run to completion ended, and what it printed. */
export interface RunResult {
  /** Exit status, or undefined when killed by a signal or the timeout. */
  exitCode?: number;
  signal?: string;
  timedOut: boolean;
  /** stdout and stderr, interleaved as they arrived. */
  output: string;
}
