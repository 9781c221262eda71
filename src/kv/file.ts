import { readFile } from 'node:fs/promises';
import { kvError, systemErrorCode } from '../errors.js';
import { parseKvFile } from './file-format.js';
import { filterSnapshot, toSnapshot } from './keys.js';
import type { KvSnapshot, KvSource } from './source.js';

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

  async close(): Promise<void> {}
}
