import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * What keeps a file from being installed, as root finds it (a file's mode stops no rename by
 * root): a directory in its place, the immutable flag (chattr +i), a read-only file system, a
 * full one. The last two need the file's directory to be a mount of its own: the file moves into
 * a small tmpfs beside it and its name becomes a symlink there, so the link's target is what an
 * install replaces and only that one file's directory is read-only or full.
 */
export type InstallFault = 'directory' | 'immutable' | 'read-only' | 'full';

export const INSTALL_FAULTS: ReadonlyArray<{ fault: InstallFault; code: string; exit: number; errno: string }> = [
  { fault: 'directory', code: 'INSTALL_NOT_A_FILE', exit: 2, errno: 'EISDIR' },
  { fault: 'immutable', code: 'INSTALL_DENIED', exit: 2, errno: 'EPERM' },
  { fault: 'read-only', code: 'INSTALL_READ_ONLY', exit: 2, errno: 'EROFS' },
  { fault: 'full', code: 'INSTALL_NO_SPACE', exit: 1, errno: 'ENOSPC' },
];

const undo: Array<() => void> = [];

/** Where the file at `path` now lives: the directory whose file system the fault is on. */
export function faultDir(path: string): string {
  return dirname(realpathSync(path));
}

/** Puts `fault` on the existing file at `path`; clearFaults takes every fault away (call it in afterEach). */
export function injectFault(fault: InstallFault, path: string): void {
  const content = readFileSync(path);
  if (fault === 'directory') {
    unlinkSync(path);
    mkdirSync(path);
    undo.push(() => {
      rmSync(path, { recursive: true });
      writeFileSync(path, content);
    });
  } else if (fault === 'immutable') {
    execFileSync('chattr', ['+i', path]);
    undo.push(() => execFileSync('chattr', ['-i', path]));
  } else {
    const mount = join(dirname(path), `${basename(path)}.mnt`);
    mkdirSync(mount);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mount]);
    undo.push(() => {
      execFileSync('umount', [mount]);
      rmSync(mount, { recursive: true });
    });
    writeFileSync(join(mount, basename(path)), content);
    unlinkSync(path);
    symlinkSync(join(mount, basename(path)), path);
    undo.push(() => {
      const now = readFileSync(path);
      unlinkSync(path);
      writeFileSync(path, now);
    });
    if (fault === 'read-only') execFileSync('mount', ['-o', 'remount,ro', mount]);
    // `cat` stops at ENOSPC: not one more block is free.
    else spawnSync('sh', ['-c', `cat /dev/zero > '${mount}/ballast'`]);
  }
}

/** Takes every fault away, last first. */
export function clearFaults(): void {
  for (const step of undo.splice(0).reverse()) step();
}

/** Each file's bytes (a directory: 'a directory'), through symlinks. */
export function contents(paths: readonly string[]): Record<string, string> {
  return Object.fromEntries(paths.map((p) => [p, lstatSync(realpathSync(p)).isDirectory() ? 'a directory' : readFileSync(p, 'utf8')]));
}

/** Temp files and backups (`.NAME.PID.RANDOM.tmp`) in the directories of `paths` and of their targets. */
export function leftovers(paths: readonly string[]): string[] {
  const dirs = new Set(paths.flatMap((p) => [dirname(p), faultDir(p)]));
  return [...dirs].flatMap((dir) =>
    readdirSync(dir)
      .filter((entry) => entry.endsWith('.tmp'))
      .map((entry) => join(dir, entry)),
  );
}

/**
 * What an install error says of the other files when `files[index]` (in the order an install
 * renames them) fails with `fault`: only an immutable file fails at its rename, after the files
 * before it were replaced (and put back); the others fail before any file is.
 */
export function aftermath(fault: InstallFault, files: readonly string[], index: number): string {
  const replaced = fault === 'immutable' ? files.slice(0, index) : [];
  return replaced.length > 0 ? `every file is as it was (${replaced.join(', ')} put back)` : 'no file was changed';
}

/** The part of an install error's message that says what failed: up to `(ERRNO)`. */
export function failedPart(message: string, errno: string): string {
  const at = message.indexOf(`(${errno})`);
  return at < 0 ? message : message.slice(0, at + errno.length + 2);
}
