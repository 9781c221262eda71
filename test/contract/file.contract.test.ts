import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileSource } from '../../src/kv/file.js';
import { makeTempDir } from '../support/temp.js';
import { describeKvContract } from './kv-contract.js';

let dir: string;
const data: Record<string, string> = {};
const path = () => join(dir, 'kv.json');
/** The whole store rewritten atomically (temp file, rename), as a deploy tool would. */
const save = () => {
  writeFileSync(`${path()}.tmp`, JSON.stringify(data));
  renameSync(`${path()}.tmp`, path());
};
/** Puts made together (Promise.all) are saved together, once. */
let saving: Promise<void> | undefined;
const saveSoon = (): Promise<void> =>
  (saving ??= Promise.resolve().then(() => {
    saving = undefined;
    save();
  }));

describeKvContract({
  name: 'file: (JSON)',
  async start() {
    dir = makeTempDir();
    save();
  },
  stop: async () => {},
  put: (key, value) => {
    data[key] = value;
    return saveSoon();
  },
  delete: async (key) => {
    delete data[key];
    save();
  },
  goAway: async () => rmSync(path()),
  comeBack: async () => save(),
  // The file is gone: the data changes, and is saved when it comes back.
  putWhileAway: async (key, value) => void (data[key] = value),
  deleteWhileAway: async (key) => void delete data[key],
  source: async () => new FileSource(path()),
  checksCredentials: false,
});
