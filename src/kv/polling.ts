import { sleep } from '../util/backoff.js';
import { formatDuration } from '../util/duration.js';
import { reporter } from './keys.js';
import type { KvSnapshot, KvSource } from './source.js';

/** `--interval`: a source watched by reading it at a fixed interval (the old image's 5 s polling). */
export function pollingSource(source: KvSource, intervalMs: number): KvSource {
  return {
    description: `${source.description} (polled every ${formatDuration(intervalMs)})`,
    read: (prefixes, signal) => source.read(prefixes, signal),
    close: () => source.close(),
    endpoints: source.endpoints,
    get lastContactMs() {
      return source.lastContactMs;
    },
    async watch(prefixes, listener, signal) {
      let latest: KvSnapshot | undefined;
      const changed = reporter(listener, () => latest?.pairs);
      while (!signal.aborted) {
        try {
          latest = await source.read(prefixes, signal);
          listener.alive('');
          changed();
        } catch (error) {
          if (!signal.aborted) listener.error(error, '');
        }
        await sleep(intervalMs, signal);
      }
    },
  };
}
