import { open, watch } from 'node:fs/promises';
import { dirname } from 'node:path';
import { kvError, OccsError, systemErrorCode } from '../errors.js';
import { formatSize } from '../util/size.js';
import { DEFAULT_MAX_ANSWER_BYTES } from './source.js';
import { Backoff, sleep } from '../util/backoff.js';
import { duplicateKeys, parseKvFile } from './file-format.js';
import { filterSnapshot, reporter, toSnapshot } from './keys.js';
import { siblingsFrom } from './siblings.js';
import type { KvSnapshot, KvSource, KvWatchListener } from './source.js';

/** Editors and `mv` produce a few events per save; read once they have been quiet this long. */
const SETTLE_MS = 50;
/** A safety net under file-system events (which can be missed, e.g. on some network mounts). */
const REREAD_MS = 30_000;

/** `file:PATH`: a local file holding the whole store; read again on every `read`. */
export class FileSource implements KvSource {
  readonly description: string;

  constructor(
    private readonly path: string,
    /** A file larger than this is refused, not read (DEFAULT_MAX_ANSWER_BYTES by default). */
    private readonly maxBytes = DEFAULT_MAX_ANSWER_BYTES,
  ) {
    this.description = `file:${path}`;
  }

  async read(prefixes: readonly string[]): Promise<KvSnapshot> {
    let text: string;
    try {
      const handle = await open(this.path, 'r');
      try {
        if ((await handle.stat()).size > this.maxBytes) {
          throw kvError('KV_TOO_LARGE', `key/value file ${this.path} holds more than ${formatSize(this.maxBytes)}`, {
            hint: 'check that --kv names the right file; if it really holds that much, raise --kv-max-size',
          });
        }
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (error instanceof OccsError) throw error;
      const code = systemErrorCode(error);
      const what = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(error)})`;
      throw kvError('KV_FILE_UNREADABLE', `key/value file ${this.path} ${what}`, {
        hint: 'create it or point --kv at another file:PATH',
        cause: error,
      });
    }
    const notices = duplicateKeys(text, this.path);
    const all = toSnapshot(parseKvFile(text, this.path));
    // The whole file is in hand: the directories beside an empty prefix cost nothing more.
    return siblingsFrom(all.pairs, filterSnapshot({ ...all, ...(notices.length > 0 && { notices }) }, prefixes), prefixes);
  }

  /**
   * Reports the file now and after the file system announces a change in its directory (any
   * entry: a file replaced by rename, or a symlink swapped as Kubernetes does for ConfigMaps),
   * once events have been quiet for a moment; and every 30 s in any case. Only a content change
   * is reported as a snapshot.
   */
  async watch(prefixes: readonly string[], listener: KvWatchListener, signal: AbortSignal): Promise<void> {
    let latest: KvSnapshot | undefined;
    const pairs = () => latest?.pairs;
    const changed = reporter(listener, pairs, () => latest);
    // One read at a time, and one more after it when asked meanwhile: an older read can never
    // finish after a newer one and be reported in its place.
    let reading: Promise<void> | undefined;
    let again = false;
    const readOnce = async () => {
      try {
        latest = await this.read(prefixes);
        listener.alive('');
        changed();
      } catch (error) {
        listener.error(error, '');
      }
    };
    const report = async (): Promise<void> => {
      if (reading) {
        again = true;
        return reading;
      }
      reading = (async () => {
        do {
          again = false;
          await readOnce();
        } while (again && !signal.aborted);
      })();
      await reading;
      reading = undefined;
    };
    let timer: NodeJS.Timeout | undefined;
    const settle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => void report(), SETTLE_MS);
    };
    const reread = setInterval(() => void report(), REREAD_MS);
    const backoff = new Backoff();
    await report();
    try {
      while (!signal.aborted) {
        try {
          for await (const _event of watch(dirname(this.path), { signal })) {
            backoff.reset();
            settle();
          }
        } catch (error) {
          if (signal.aborted) break;
          listener.error(kvError('KV_FILE_WATCH', `cannot watch ${dirname(this.path)} (${systemErrorCode(error) ?? String(error)})`, { cause: error }), '');
          await sleep(backoff.next(), signal);
          await report();
        }
      }
    } finally {
      clearTimeout(timer);
      clearInterval(reread);
    }
  }

  async close(): Promise<void> {}
}
