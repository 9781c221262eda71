import { readFileSync } from 'node:fs';

/** Small helpers for benchmark figures: percentiles over samples and a fixed-width report. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const median = (samples: number[]): number => percentile(samples, 50);

export const ms = (value: number): string => `${value.toFixed(1)} ms`;

export function report(title: string, rows: Array<[string, string]>): void {
  console.log(`\n## ${title}`);
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
}

/** p50 / p99 (min–max) of samples. */
export const spread = (samples: number[]) =>
  `${ms(median(samples))} / ${ms(percentile(samples, 99))} (${ms(Math.min(...samples))}–${ms(Math.max(...samples))})`;

/** CPU time a process has used, in ms (user + system; /proc counts in 10 ms ticks). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * A process's CPU at rest, in ms per second: over 30 s (one look for drift, every 30 s, among it),
 * from 5 s after whatever came before. Taken after the TAIL_MS that follows changes, so that what
 * they left to do is done (the check of the last patch comes up to 30 s after it); before them,
 * the rest would hold what start-up leaves (4–7 ms/s at 10,000 servers, against about 1 after).
 */
export async function cpuAtRest(pid: number): Promise<number> {
  await new Promise((r) => setTimeout(r, 5000));
  const { cpu, elapsed } = await cpuOver(pid, 30_000);
  return cpu / (elapsed / 1000);
}

/** What changes leave watch to do once they stop ends within this: its check of the last patched config, at the latest 30 s after it (CHECK_WITHIN_MS, src/watch/planner.ts). */
export const TAIL_MS = 31_000;

/** A process's CPU (ms) over the TAIL_MS after changes, and how long that took (ms). */
export const cpuOfTail = (pid: number): Promise<{ cpu: number; elapsed: number }> => cpuOver(pid, TAIL_MS);

/** A process's CPU (ms) over the next `ms`, and how long that took (ms). */
async function cpuOver(pid: number, ms: number): Promise<{ cpu: number; elapsed: number }> {
  const [before, started] = [cpuMs(pid), performance.now()];
  await new Promise((r) => setTimeout(r, ms));
  return { cpu: cpuMs(pid) - before, elapsed: performance.now() - started };
}

/** CPU (ms) spent over `elapsed` ms beyond what the process spends at rest (`restPerS`, ms per s) over that time. */
export const beyondRest = (cpu: number, elapsed: number, restPerS: number): number => cpu - (restPerS * elapsed) / 1000;

/**
 * Changes made right after start-up, before the trials, and not counted in them: this many
 * rounds. Measured at 10,000 servers on Consul (one add or removal at a time, CPU per change by
 * groups): the first 2 changes after start-up cost 15–20 ms each, the next 4 25–30 ms, against
 * 7–9 ms from the 7th on. The 4 are V8 collecting what start-up and the first look for drift left
 * (its memory reducer, 8 s after that look; with 8 s idle before the changes they cost 7.5 ms);
 * the first 2 cost 15 ms even then: the first run of each code path.
 */
export const WARM_UP_ROUNDS = 5;

/** `round(i)` for i < WARM_UP_ROUNDS, each making `perRound` changes: the process's CPU per change over them (ms). */
export async function warmUpCpu(pid: number, round: (i: number) => Promise<void>, perRound = 2): Promise<number> {
  const before = cpuMs(pid);
  for (let i = 0; i < WARM_UP_ROUNDS; i++) await round(i);
  return (cpuMs(pid) - before) / (WARM_UP_ROUNDS * perRound);
}
