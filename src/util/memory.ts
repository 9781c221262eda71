import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * What a long-running watch holds between changes is small (about 8 MiB of heap at 10,000
 * servers); what makes its resident size grow is V8's young generation, which doubles under
 * the garbage of each render and diff (4 → 32 MiB) and is never given back. These keep it down.
 */

/**
 * Keeps the process small for a long run, once start-up is done (a V8 flag set before Node's own
 * modules load makes them compile from source instead of from its code cache, which costs more
 * than it saves):
 * - the young generation does not grow: each scavenge stays small, and so does the process.
 *   A larger floor was measured and not kept: `--min-semi-space-size=2`, which only Node's command
 *   line sets (watch would start again in place), cut a change at 100 apps × 100 servers from 9.9
 *   to 9.2 ms of CPU right after start-up (2 → 4 MiB a semi-space, grown by start-up), but not once
 *   watch had idled and V8 had shrunk it (1 → 2 MiB: 9.4 against 10.3 ms), two runs or more each;
 * - no optimizing compiler (TurboFan): its own code, paged in by the first hot loop, stays
 *   resident for good (+6 MiB after a burst of 1,000 writes, measured), while watch's work comes
 *   in short bursts that the baseline compiler runs about as fast (one add at 10,000 servers:
 *   p50 189 ms against 178 ms, measured on a busy machine);
 * - nor the mid-tier one (Maglev): with TurboFan off it still compiled watch's hot functions on
 *   V8's worker threads. At 10,000 servers those threads took 2.7–3.3 ms of CPU per change,
 *   against 1.0–2.0 ms without it, and the main thread took no longer (etcd, one server added
 *   or removed at a time, three runs each, test/bench/scale.ts's way).
 */
export function keepSmall(): void {
  for (const flag of WATCH_V8_FLAGS) v8.setFlagsFromString(flag);
}

/** The V8 flags keepSmall sets, for a measurement that must run as watch does (test/bench/answer-cpu.ts). */
export const WATCH_V8_FLAGS = ['--semi-space-growth-factor=1', '--no-opt', '--no-maglev'] as const;

const IDLE_MS = 2000;
/** Below this much heap a full collection gains too little to be worth it. */
const WORTH_COLLECTING_BYTES = 24 * 1024 * 1024;
/** Nor when the heap grew less than this since the last one left it: V8's own collections keep such a heap in check. */
const GROWN_BYTES = 16 * 1024 * 1024;

/** What the collector reads and does; V8's own by default. */
export interface HeapControl {
  /** The heap's size now, in bytes (V8's total_heap_size). */
  size(): number;
  /** One full garbage collection. */
  collect(): void;
}

/**
 * After a busy spell that grew the heap (a burst of changes, a large config), one full garbage
 * collection once watch has been idle for 2 s: the heap V8 grew for the burst goes back (measured
 * at 10,000 servers: 101 → 70 MiB). Nothing is collected while changes keep coming, for a small
 * heap, nor for one that grew less than 16 MiB since the last collection left it (or since the
 * first idle spell, when that one was too small to collect): after a change or two at 10,000
 * servers the heap is about as large as before, and a collection there cost 17–26 ms of CPU for
 * little (V8's memory reducer collects such a heap on its own).
 */
export class IdleCollector {
  private timer?: NodeJS.Timeout;
  /** The heap's size right after the last collection, or at the first idle spell if that one collected nothing. */
  private left?: number;

  constructor(private readonly heap: HeapControl = v8Heap()) {}

  /** Something was done: collect once nothing more happens for a while. */
  busy(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.collectIfWorthIt(), IDLE_MS).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private collectIfWorthIt(): void {
    const size = this.heap.size();
    if (size < Math.max(WORTH_COLLECTING_BYTES, (this.left ?? 0) + GROWN_BYTES)) {
      this.left ??= size;
      return;
    }
    this.heap.collect();
    this.left = this.heap.size();
  }
}

/** V8's heap: its size, and a full collection (exposed once, when first asked for). */
function v8Heap(): HeapControl {
  let gc: (() => void) | undefined;
  return {
    size: () => v8.getHeapStatistics().total_heap_size,
    collect: () => {
      if (!gc) {
        v8.setFlagsFromString('--expose-gc');
        gc = vm.runInNewContext('gc') as () => void;
      }
      gc();
    },
  };
}
