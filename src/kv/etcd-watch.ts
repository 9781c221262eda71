import { kvError } from '../errors.js';
import { Backoff, sleep } from '../util/backoff.js';
import { toPair, type EtcdKv, type KeyRange } from './etcd-keys.js';
import { toSnapshot } from './keys.js';
import type { KvPair, KvWatchListener } from './source.js';

/** One line of etcd's watch stream (JSON gateway). */
export interface EtcdWatchMessage {
  result?: {
    events?: Array<{ type?: string; kv?: EtcdKv }>;
    created?: boolean;
    canceled?: boolean;
    compact_revision?: string;
    cancel_reason?: string;
  };
  error?: { message?: string; code?: number };
}

export interface EtcdWatchDeps {
  range(range: KeyRange): Promise<{ pairs: KvPair[]; revision: number }>;
  watch(range: KeyRange, fromRevision: number): Promise<AsyncIterable<EtcdWatchMessage>>;
}

/** The least time between two reads of one range after its stream was cancelled. */
const MIN_REREAD_GAP_MS = 100;

/**
 * Follows key ranges: read each (pairs and revision), then stream its changes from revision + 1,
 * each event batch becoming a new snapshot of all ranges. A compacted revision is re-read and
 * re-watched at once; a broken stream, a store that went away, an error: reported, then
 * re-read and re-watched with backoff, forever. Re-reading from scratch is what makes a restart
 * of etcd lose nothing: whatever changed meanwhile is in the new read.
 */
export async function watchEtcd(ranges: readonly KeyRange[], listener: KvWatchListener, signal: AbortSignal, deps: EtcdWatchDeps): Promise<void> {
  const current = new Map<KeyRange, Map<string, string>>();
  const report = () => {
    if (current.size < ranges.length) return; // the first snapshot waits for every range
    listener.snapshot(toSnapshot([...current.values()].flatMap((m) => [...m].map(([key, value]) => ({ key, value })))));
  };
  await Promise.all(ranges.map((range) => watchRange(range, current, report, listener, signal, deps)));
}

async function watchRange(
  range: KeyRange,
  current: Map<KeyRange, Map<string, string>>,
  report: () => void,
  listener: KvWatchListener,
  signal: AbortSignal,
  deps: EtcdWatchDeps,
): Promise<void> {
  const backoff = new Backoff();
  while (!signal.aborted) {
    try {
      const { pairs, revision } = await deps.range(range);
      backoff.reset();
      listener.alive(range.label);
      const keys = new Map(pairs.map((p) => [p.key, p.value]));
      current.set(range, keys);
      report();
      const messages = await deps.watch(range, revision + 1);
      let compacted = false;
      for await (const message of messages) {
        if (message.error) throw kvError('KV_ERROR', `etcd's watch of "${range.label}" failed: ${message.error.message ?? 'unknown error'}`);
        const result = message.result;
        if (!result) continue;
        if (result.canceled) {
          compacted = result.compact_revision !== undefined && result.compact_revision !== '0';
          if (!compacted) throw kvError('KV_ERROR', `etcd cancelled the watch of "${range.label}"${result.cancel_reason ? `: ${result.cancel_reason}` : ''}`);
          break;
        }
        if (!result.events?.length) continue;
        for (const event of result.events) {
          const pair = event.kv && toPair(event.kv);
          if (!pair) continue;
          if (event.type === 'DELETE') keys.delete(pair.key);
          else keys.set(pair.key, pair.value);
        }
        listener.alive(range.label);
        report();
      }
      if (signal.aborted) return;
      if (!compacted) throw kvError('KV_UNREACHABLE', `etcd's watch stream of "${range.label}" ended`);
      // Compacted past our revision: read again, from the current revision.
      await sleep(MIN_REREAD_GAP_MS, signal);
    } catch (error) {
      if (signal.aborted) return;
      listener.error(error, range.label);
      await sleep(backoff.next(), signal);
    }
  }
}
