import type { RenderedResource } from '../plan/render.js';
import type { WriteResult } from '../util/atomic-write.js';
import { commitStaged } from './commit.js';
import { stageEach, stageRendered, type CheckStaged, type InstallUnit } from './stage.js';

/** A file of a change, installed: `written`, or `unchanged` when it already held that content. */
export interface InstalledUnit extends InstallUnit {
  result: WriteResult;
}

/**
 * Installs the files of a change, all or none: every file (map files too) staged beside its
 * destination, each HAProxy config checked by `check` with the staged map files, then all renamed
 * into place. Any failure leaves every file as it was and throws an install error naming the file
 * that failed (an InstallFailure whose `notPutBack` lists any file left holding its new version),
 * or the check's error. Keeps no record of what is on disk: the caller does, from what it returns.
 */
export async function installChange(files: readonly RenderedResource[], check: CheckStaged): Promise<InstalledUnit[]> {
  if (files.length === 0) return [];
  const staged = await stageRendered(files, check);
  const results = await commitStaged(staged);
  return staged.map(({ path, content, resource }, i) => ({ path, content, resource, result: results[i]! }));
}

/**
 * Puts files back to earlier contents (after a failed reload), all or none as installChange does,
 * unchecked: they are what HAProxy last ran. A file with no earlier content (there was none) is
 * left as it is.
 */
export async function restore(previous: ReadonlyArray<{ path: string; content: string | undefined }>): Promise<void> {
  const known = previous.filter((p): p is { path: string; content: string } => p.content !== undefined);
  if (known.length === 0) return;
  await commitStaged(await stageEach(known));
}
