import { dirname } from 'node:path';
import { OccsError, systemErrorCode, type ErrorCode, type OccsErrorOptions } from '../errors.js';

const DENIED_HINT = 'run as a user who may write there, or change --out / the resource\'s "destination"';

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
  EACCES: { code: 'INSTALL_DENIED', what: (d) => `${d} may not be written by this user`, hint: DENIED_HINT },
  // Also what renaming onto an immutable or append-only file says, even to root.
  EPERM: {
    code: 'INSTALL_DENIED',
    what: (d) => `the file or ${d} may not be changed: immutable, append-only, or not this user's`,
    hint: `${DENIED_HINT}; lsattr shows an immutable file, chattr -i lifts it`,
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

/** What an install had done when one of its files failed. */
export interface InstallProgress {
  /** The destinations already replaced when it failed. */
  replaced: readonly string[];
  /** Those of them that could not be put back: they hold the new version. */
  notPutBack: readonly string[];
}

/** A file that could not be installed; `notPutBack` names the files of the change left holding their new version. */
export class InstallFailure extends OccsError {
  constructor(
    code: ErrorCode,
    message: string,
    options: OccsErrorOptions,
    readonly notPutBack: readonly string[] = [],
  ) {
    super(code, message, options);
  }
}

/** What became of the other files, said after the failure. */
function aftermath({ replaced, notPutBack }: InstallProgress): string {
  if (replaced.length === 0) return 'no file was changed';
  if (notPutBack.length === 0) return `every file is as it was (${replaced.join(', ')} put back)`;
  const hold = notPutBack.length === 1 ? 'holds' : 'hold';
  return `${notPutBack.join(', ')} could not be put back and ${hold} the new version; every other file is as it was`;
}

/**
 * What a failed install means to the user: the destination that could not be written (as it was
 * named, never the temp file beside it or a backup) and why, said in words with its own code,
 * and what became of the other files of the change.
 */
export function installError(destination: string, thrown: unknown, progress: InstallProgress = { replaced: [], notPutBack: [] }): OccsError {
  if (thrown instanceof OccsError) return thrown;
  const errno = systemErrorCode(thrown);
  // The file the system call failed on sits in the directory that matters: a symlink's target's.
  const failedPath = (thrown as { path?: unknown } | undefined)?.path;
  const dir = dirname(typeof failedPath === 'string' ? failedPath : destination);
  const cause = errno ? CAUSES[errno] : undefined;
  const options = { cause: thrown };
  if (!cause) {
    const why = errno ?? (thrown instanceof Error ? thrown.message : String(thrown));
    return new InstallFailure(
      'INSTALL_FAILED',
      `cannot install ${destination} (${why}); ${aftermath(progress)}`,
      { ...options, hint: 'check the disk and the directory (space, health, permissions)' },
      progress.notPutBack,
    );
  }
  return new InstallFailure(
    cause.code,
    `cannot install ${destination}: ${cause.what(dir)} (${errno}); ${aftermath(progress)}`,
    { ...options, hint: cause.hint },
    progress.notPutBack,
  );
}
