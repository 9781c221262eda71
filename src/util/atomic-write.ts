import type { Stats } from 'node:fs';
import { chown, lstat, open, readdir, readFile, readlink, realpath, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { systemErrorCode } from '../errors.js';
import { encoded } from './encoded.js';

export type WriteResult = 'written' | 'unchanged';

/** A new version of a file, written and synced beside it, not yet in place. */
export interface StagedFile {
  /** The file that will be replaced: a symlink's target, not the link. */
  path: string;
  /** The staged copy (undefined when the content is unchanged): check it before committing. */
  temp?: string;
  commit(): Promise<WriteResult>;
  discard(): Promise<void>;
}

const ignoreMissing = (error: unknown) => {
  if (systemErrorCode(error) === 'ENOENT') return undefined;
  throw error;
};

/** Follows symlinks so that the link stays a link and its target gets the new content. */
async function resolveTarget(path: string): Promise<string> {
  const real = await realpath(path).catch(ignoreMissing);
  if (real) return real;
  let current = path;
  for (let hops = 0; hops < 40; hops++) {
    const info = await lstat(current).catch(ignoreMissing);
    if (!info?.isSymbolicLink()) return current;
    current = resolve(dirname(current), await readlink(current));
  }
  return current;
}

/**
 * Writes `content` (or pieces of it, one after another) to a temp file in the destination's
 * directory and fsyncs it, carrying over the existing file's mode (and owner, when we may).
 * Nothing visible changes until `commit`. A directory at the destination is refused here
 * (EISDIR), before anything is written. `mode`, when given, is the file's whatever it had (a
 * bundle's private key: 0600), and a file of the same content but another mode is staged again.
 */
export async function stageFile(destination: string, content: string | readonly string[], mode?: number): Promise<StagedFile> {
  const path = await resolveTarget(destination);
  const existing = await stat(path).catch(ignoreMissing);
  if (existing?.isDirectory()) throw Object.assign(new Error(`EISDIR: a directory is in the way, '${path}'`), { code: 'EISDIR', path });
  // Encoded once: its size is known from its bytes, which are written when it is not on disk already.
  const text = encoded(content);
  const temp = tempBeside(path);
  try {
    if (
      existing &&
      existing.size === text.bytes.length &&
      (mode === undefined || (existing.mode & 0o7777) === mode) &&
      (await holds(path, existing, typeof content === 'string' ? content : content.join('')))
    )
      return { path, commit: async () => 'unchanged', discard: async () => {} };
    await writeTemp(temp, text.bytes, existing, mode);
  } finally {
    text.release();
  }
  return {
    path,
    temp,
    async commit() {
      await rename(temp, path);
      await syncDirectory(dirname(path));
      return 'written';
    },
    discard: () => unlink(temp).catch(() => {}),
  };
}

/** Files last read and found to hold what was to be written, by path: the stat they had then, and that content. */
const seenHolding = new Map<string, { stat: Stats; content: string }>();

/**
 * Whether the file at `path` (stat `now`) holds `content`. Read once; while its inode, size,
 * mtime and ctime stay as they were then (any write changes its ctime), not read again: an
 * unchanged 700 KB config cost 5 ms to read and decode for each change of its map files.
 */
async function holds(path: string, now: Stats, content: string): Promise<boolean> {
  const seen = seenHolding.get(path);
  const same = (a: Stats) => a.dev === now.dev && a.ino === now.ino && a.size === now.size && a.mtimeMs === now.mtimeMs && a.ctimeMs === now.ctimeMs;
  if (seen && seen.content === content && same(seen.stat)) return true;
  seenHolding.delete(path);
  if ((await readFile(path, 'utf8').catch(() => undefined)) !== content) return false;
  seenHolding.set(path, { stat: now, content });
  return true;
}

/**
 * A copy of a file, beside it, for `haproxy -c` alone and then discarded: written from `pieces`
 * one after another (a large config with a few paths swapped is never made one string again),
 * and not synced.
 */
export async function stageCheckCopy(destination: string, pieces: readonly string[]): Promise<StagedFile> {
  const path = await resolveTarget(destination);
  const temp = tempBeside(path);
  await writeTemp(temp, pieces, await stat(path).catch(ignoreMissing), undefined, false);
  return {
    path,
    temp,
    commit: () => Promise.reject(new Error(`${temp} is a copy for a check, never installed`)),
    discard: () => unlink(temp).catch(() => {}),
  };
}

/**
 * A fresh name beside `path` for a temp file: `.NAME.PID.RANDOM.tmp`. The pid tells
 * removeStaleTemps whose file it is. (Not node:crypto: it costs start-up time; 'wx' refuses a clash.)
 */
export function tempBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 10) || '0'}.tmp`);
}

/** Creates `temp` ('wx') holding `content` (pieces: one after another), synced, with the mode (and owner, when we may) of `existing`, or `mode` when given. */
export async function writeTemp(
  temp: string,
  content: string | Buffer | readonly string[],
  existing: Stats | undefined,
  fixed?: number,
  sync = true,
): Promise<void> {
  const mode = fixed ?? (existing ? existing.mode & 0o7777 : 0o644);
  const handle = await open(temp, 'wx', mode);
  try {
    await writeContent(handle, content);
    await handle.chmod(mode);
    if (existing && process.getuid?.() === 0) await chown(temp, existing.uid, existing.gid);
    if (sync) await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    // A file handle's errors name no file: this one says where (a full disk is the temp file's).
    throw systemErrorCode(error) && (error as { path?: unknown }).path === undefined ? Object.assign(error as object, { path: temp }) : error;
  }
  await handle.close();
}

/** Writes `content` whole (a text is encoded by encoded.ts), in one write as a rule: `writeFile` splits a 600 KB config into two. */
async function writeContent(handle: FileHandle, content: string | Buffer | readonly string[]): Promise<void> {
  const text = Buffer.isBuffer(content) ? { bytes: content, release: () => {} } : encoded(content);
  try {
    for (let at = 0; at < text.bytes.length;) at += (await handle.write(text.bytes, at, text.bytes.length - at)).bytesWritten;
  } finally {
    text.release();
  }
}

/** Replaces one file: readers see the old file or the complete new one, never a partial file. */
export async function writeFileAtomic(path: string, content: string): Promise<WriteResult> {
  const staged = await stageFile(path, content);
  try {
    return await staged.commit();
  } catch (error) {
    await staged.discard();
    throw error;
  }
}

/** Makes the renames in `dir` durable. Best effort: a file system that cannot sync a directory still renamed. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => {});
  await handle.close();
}

/**
 * Removes the temp files a killed run left beside `destination` (or its symlink's target): the
 * staged copies, and the backups an install keeps of the files it replaces until it is done
 * (src/install/commit.ts), all named by tempBeside; ours by their name, made by a process that is gone, or carrying this very process id but older
 * than this process (a run that died before a restart with the same pid, as PID 1 in a
 * container). Best effort: never throws (the install itself reports a destination that is
 * wrong). Returns the paths removed.
 */
export async function removeStaleTemps(destination: string): Promise<string[]> {
  const removed: string[] = [];
  try {
    const path = await resolveTarget(destination);
    const dir = dirname(path);
    const name = basename(path);
    for (const entry of await readdir(dir)) {
      if (!entry.startsWith(`.${name}.`) || !entry.endsWith('.tmp')) continue;
      const pid = /^\.(\d+)\.[a-z0-9]+\.tmp$/.exec(entry.slice(name.length + 1))?.[1];
      if (!pid || !(await leftByGoneProcess(Number(pid), join(dir, entry)))) continue;
      await unlink(join(dir, entry)).then(
        () => removed.push(join(dir, entry)),
        () => {},
      );
    }
  } catch {
    // nothing to clean, or nothing we may clean
  }
  return removed;
}

/** When this process started, by the wall clock. */
const STARTED_AT = Date.now() - process.uptime() * 1000;

/**
 * Whether `path`, named with the pid of the process that made it, was left by a process that is
 * gone: that pid runs nothing, or it is ours and the file is older than this process.
 */
export async function leftByGoneProcess(pid: number, path: string): Promise<boolean> {
  if (pid !== process.pid) return !processExists(pid);
  const info = await lstat(path).catch(() => undefined);
  return info !== undefined && info.mtimeMs < STARTED_AT;
}

/** Whether a process with this id exists (one we may not signal exists too). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return systemErrorCode(error) === 'EPERM';
  }
}
