/** The master CLI's `show proc`, as far as reload verification needs it. */
export interface ProcTable {
  master: { pid: number; reloads: number; failed: number };
  /** Workers; `current` is false for old workers still finishing their connections. */
  workers: Array<{ pid: number; reloads: number; current: boolean }>;
}

/**
 * Parses HAProxy 2.6's `show proc`:
 *   #<PID>  <type>  <reloads>  <uptime>  <version>
 *   1234    master  3 [failed: 1]  0d00h01m02s  2.6.12
 *   # workers
 *   1240    worker  0  0d00h00m01s  2.6.12
 *   # old workers
 *   1236    worker  1  0d00h00m09s  2.6.12
 * A worker's reload count is the number of reloads it has survived: 0 for the newest.
 */
export function parseShowProc(text: string): ProcTable | undefined {
  let master: ProcTable['master'] | undefined;
  const workers: ProcTable['workers'] = [];
  let current = true;
  for (const line of text.split('\n')) {
    if (/^#\s*old workers/.test(line)) current = false;
    else if (/^#\s*(workers|programs)/.test(line)) current = /workers/.test(line);
    const m = /^(\d+)\s+master\s+(\d+)\s*(?:\[failed:\s*(\d+)\])?/.exec(line);
    if (m) master = { pid: Number(m[1]), reloads: Number(m[2]), failed: Number(m[3] ?? 0) };
    const w = /^(\d+)\s+worker\s+(\d+)/.exec(line);
    if (w) workers.push({ pid: Number(w[1]), reloads: Number(w[2]), current });
  }
  return master && { master, workers };
}
