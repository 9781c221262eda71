import { link, lstat, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { systemErrorCode } from '../errors.js';
import { syncDirectory, tempBeside, writeTemp, type WriteResult } from '../util/atomic-write.js';
import { installError } from './install-error.js';
import { discardStaged, type Staged } from './stage.js';

/** The calls of a commit that a test makes fail (a real file system fails them only by chance). */
export interface CommitCalls {
  rename(from: string, to: string): Promise<void>;
  link(existing: string, newPath: string): Promise<void>;
}

const SYSTEM: CommitCalls = { rename, link };

/** A changed file on its way in: its staged copy, the file it replaces, and the way back to the old one (none: there was no file). */
interface Replacing {
  file: Staged;
  temp: string;
  target: string;
  backup?: string;
}

/**
 * Renames staged files into place, all or none: first a way back is kept for every file that
 * exists (a hard link beside it, or a copy of its bytes where the file system refuses the link),
 * then the staged copies are renamed in order. When a rename fails, the files already replaced
 * are put back (a file that did not exist is removed), the other staged copies are discarded and
 * the error names the file that failed. The backups go once all are in. A file named by a symlink
 * is the link's target (stageFile resolved it), so the link stays a link. A change of one file
 * alone (the config behind a runtime change) needs no way back: its rename is all or none.
 */
export async function commitStaged(files: readonly Staged[], calls: CommitCalls = SYSTEM): Promise<WriteResult[]> {
  const replacing: Replacing[] = [];
  const alone = files.filter((f) => f.staged.temp).length === 1;
  try {
    for (const file of files) {
      if (!file.staged.temp) continue;
      const target = file.staged.path;
      const backup = alone
        ? undefined
        : await keepWayBack(target, calls).catch((error: unknown) => {
            throw installError(file.path, error);
          });
      replacing.push({ file, temp: file.staged.temp, target, backup });
    }
  } catch (error) {
    await discardStaged(files);
    await removeBackups(replacing);
    throw error;
  }
  for (const [i, r] of replacing.entries()) {
    try {
      await calls.rename(r.temp, r.target);
    } catch (error) {
      const done = replacing.slice(0, i);
      const notPutBack = await putBack(done, calls);
      await discardStaged(replacing.slice(i).map((rest) => rest.file));
      await removeBackups(replacing);
      await syncDirectories(done);
      throw installError(r.file.path, error, { replaced: done.map((d) => d.file.path), notPutBack });
    }
  }
  await syncDirectories(replacing);
  await removeBackups(replacing);
  return files.map((f) => (f.staged.temp ? 'written' : 'unchanged'));
}

/** A second name for the file at `target`, beside it, that a rename onto `target` leaves alone; undefined when there is no file. */
async function keepWayBack(target: string, calls: CommitCalls): Promise<string | undefined> {
  const existing = await lstat(target).catch((error: unknown) => {
    if (systemErrorCode(error) === 'ENOENT') return undefined;
    throw error;
  });
  if (!existing) return undefined;
  const backup = tempBeside(target);
  try {
    await calls.link(target, backup);
    return backup;
  } catch {
    // No hard links on this file system, or the file refuses them (immutable): a copy will do.
  }
  await writeTemp(backup, await readFile(target), existing);
  return backup;
}

/** Puts the replaced files back, last first; returns the destinations that could not be (they hold the new version). */
async function putBack(done: readonly Replacing[], calls: CommitCalls): Promise<string[]> {
  const failed: string[] = [];
  for (const r of [...done].reverse()) {
    try {
      if (r.backup) await calls.rename(r.backup, r.target);
      else await unlink(r.target);
    } catch {
      failed.unshift(r.file.path);
    }
  }
  return failed;
}

/** Removes the backups still there (best effort: one left behind is removed by removeStaleTemps at the next start). */
async function removeBackups(replacing: readonly Replacing[]): Promise<void> {
  const backups = replacing.flatMap((r) => (r.backup ? [r.backup] : []));
  await Promise.all(backups.map((backup) => unlink(backup).catch(() => {})));
}

async function syncDirectories(replacing: readonly Replacing[]): Promise<void> {
  await Promise.all([...new Set(replacing.map((r) => dirname(r.target)))].map(syncDirectory));
}
