import { readFile, watch } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { kvError, systemErrorCode } from '../errors.js';
import { Backoff, sleep } from '../util/backoff.js';
import { parseKvFile } from './file-format.js';
import { filterSnapshot, toSnapshot } from './keys.js';
import type { KvSnapshot, KvSource, KvWatchListener } from './source.js';

/** Editors and `mv` produce a few events per save; read once they have settled. */
const SETTLE_MS = 15;

/** `file:PATH`: a local file holding the whole store; read again on every `read`. */
export class FileSource implements KvSource {
  readonly description: string;

  constructor(private readonly path: string) {
    this.description = `file:${path}`;
  }

  async read(prefixes: readonly string[]): Promise<KvSnapshot> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      const code = systemErrorCode(error);
      const what = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(error)})`;
      throw kvError('KV_FILE_UNREADABLE', `key/value file ${this.path} ${what}`, {
        hint: 'create it or point --kv at another file:PATH',
        cause: error,
      });
    }
    return filterSnapshot(toSnapshot(parseKvFile(text, this.path)), prefixes);
  }

  /**
   * Reports the file now and after every change the file system announces. The directory is
   * watched, not the file, so a file replaced by rename (editors, atomic writes) is followed too.
   */
  async watch(prefixes: readonly string[], listener: KvWatchListener, signal: AbortSignal): Promise<void> {
    const report = async () => {
      try {
        listener.snapshot(await this.read(prefixes));
      } catch (error) {
        listener.error(error);
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const settle = () => {
      clearTimeout(timer);
      timer = setTimeout(() => void report(), SETTLE_MS);
    };
    const backoff = new Backoff();
    await report();
    while (!signal.aborted) {
      try {
        for await (const event of watch(dirname(this.path), { signal })) {
          backoff.reset();
          if (event.filename === basename(this.path)) settle();
        }
      } catch (error) {
        if (signal.aborted) break;
        listener.error(kvError('KV_FILE_WATCH', `cannot watch ${dirname(this.path)} (${systemErrorCode(error) ?? String(error)})`, { cause: error }));
        await sleep(backoff.next(), signal);
        await report();
      }
    }
    clearTimeout(timer);
  }

  async close(): Promise<void> {}
}
