import { dirname } from 'node:path';
import { OccsError, systemErrorCode, type ErrorCode } from '../errors.js';
import { PartialInstallError, stageFile, type StagedFile } from './atomic-write.js';

/** Per errno: the error code (its exit code is in errors.ts), what went wrong (of the destination's directory) and what to do. */
const CAUSES: Record<string, { code: ErrorCode; what: (dir: string) => string; hint: string }> = {
  ENOSPC: { code: 'INSTALL_NO_SPACE', what: (d) => `the file system of ${d} is full`, hint: 'free some space there' },
  EDQUOT: {
    code: 'INSTALL_NO_SPACE',
    what: (d) => `the disk quota for ${d} is used up`,
    hint: 'free some space there, or raise the quota',
  },
  EROFS: {
    code: 'INSTALL_READ_ONLY',
    what: (d) => `${d} is on a read-only file system`,
    hint: 'install it on a writable one (--out, or the resource\'s "destination")',
  },
  EACCES: {
    code: 'INSTALL_DENIED',
    what: (d) => `${d} may not be written by this user`,
    hint: 'run as a user who may write there, or change --out / the resource\'s "destination"',
  },
  EPERM: {
    code: 'INSTALL_DENIED',
    what: (d) => `${d} may not be written by this user`,
    hint: 'run as a user who may write there, or change --out / the resource\'s "destination"',
  },
  ENOENT: {
    code: 'INSTALL_NO_DIRECTORY',
    what: (d) => `the directory ${d} does not exist`,
    hint: 'create it, or change --out / the resource\'s "destination"',
  },
  ENOTDIR: { code: 'INSTALL_NO_DIRECTORY', what: (d) => `${d} is not a directory`, hint: 'change --out / the resource\'s "destination"' },
  EISDIR: {
    code: 'INSTALL_NOT_A_FILE',
    what: () => 'the destination is a directory',
    hint: 'give the path of a file, not of a directory',
  },
  ELOOP: { code: 'INSTALL_NOT_A_FILE', what: () => 'the destination is a symlink loop', hint: 'fix the symlink, or change --out' },
};

/**
 * What a failed install means to the user: which destination could not be written and why,
 * said in words (not the errno text of a temp file), with its own code. The destination is
 * named, never the temp file beside it; what was replaced already (if anything) is said.
 */
export function installError(destinations: readonly string[], thrown: unknown): OccsError {
  if (thrown instanceof OccsError) return thrown;
  const partial = thrown instanceof PartialInstallError ? thrown : undefined;
  const error = partial ? partial.cause : thrown;
  const errno = systemErrorCode(error);
  const failedPath = (error as { path?: string } | undefined)?.path;
  // The file being written is the temp file beside a destination, or the destination itself.
  const matched = destinations.find((d) => failedPath && dirname(failedPath) === dirname(d));
  const destination = matched ?? (destinations.join(', ') || failedPath || '(unknown)');
  const dir = dirname(matched ?? failedPath ?? destinations[0] ?? '.');
  const done = partial?.installed.length ? `; ${partial.installed.join(', ')} already replaced` : '; no file was changed';
  const cause = errno ? CAUSES[errno] : undefined;
  if (!cause) {
    return new OccsError('INSTALL_FAILED', `cannot install ${destination} (${errno ?? (error as Error)?.message ?? String(error)})${done}`, {
      hint: 'check the disk and the directory (space, health, permissions)',
      cause: error,
    });
  }
  return new OccsError(cause.code, `cannot install ${destination}: ${cause.what(dir)} (${errno})${done}`, {
    hint: cause.hint,
    cause: error,
  });
}

/**
 * Stages every file beside its destination, then runs `check` on them all (a file whose content
 * is unchanged has no temp copy). Any failure discards them all; a file that cannot be staged is
 * an install error naming the destinations.
 */
export async function stageChecked(
  files: ReadonlyArray<{ path: string; content: string }>,
  check: (staged: readonly StagedFile[]) => Promise<void>,
): Promise<StagedFile[]> {
  const staged: StagedFile[] = [];
  const discardAll = () => Promise.all(staged.map((s) => s.discard()));
  try {
    for (const file of files) staged.push(await stageFile(file.path, file.content));
  } catch (error) {
    await discardAll();
    throw installError(
      files.map((f) => f.path),
      error,
    );
  }
  try {
    await check(staged);
  } catch (error) {
    await discardAll();
    throw error;
  }
  return staged;
}
