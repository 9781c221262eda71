import { chmod, mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RenderedResource } from '../plan/render.js';
import { stageCheckCopy, stageFile, type StagedFile } from '../util/atomic-write.js';
import { crtListNaming } from '../util/crt-list.js';
import { installError } from './install-error.js';

/** A file only its owner reads: a certificate bundle holds a private key. */
export const PRIVATE_FILE = 0o600;

/** The directory of private files: made if missing, and only its owner may list or enter it (0700), whatever it was. */
async function privateDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (((await stat(dir)).mode & 0o777) !== 0o700) await chmod(dir, 0o700);
}

/** One file of an install: a resource's own, or a map file that goes with it. */
export interface InstallUnit {
  path: string;
  content: string;
  /** The content as pieces that join to it (a patched config's sections): written from them, never joined. */
  pieces?: readonly string[];
  resource: RenderedResource;
  /** Its mode when fixed: a certificate bundle's (0600, in a directory only the user reads). */
  mode?: number;
}

/** A file staged beside its destination (no temp copy: its content is unchanged). */
export type Staged<T extends { path: string } = { path: string }> = T & { staged: StagedFile };

/** A file of an install, staged. */
export type StagedUnit = Staged<InstallUnit>;

/** `haproxy -c` (or nothing) on a staged HAProxy config: resolves when HAProxy takes it. */
export type CheckStaged = (file: string, resource: RenderedResource) => Promise<void>;

/** Every file the resources install: each resource's companions (map files) first, then itself, so a config never names a map not yet there. */
export function installUnits(files: readonly RenderedResource[]): InstallUnit[] {
  return files.flatMap((r) => [
    ...(r.companions ?? []).map((c) => ({ path: c.path, content: c.text, resource: r, ...(c.mode !== undefined && { mode: c.mode }) })),
    { path: r.resource.destination!, content: r.text, ...(r.sections && { pieces: r.sections }), resource: r },
  ]);
}

/** Discards the staged copies (best effort: never throws). */
export async function discardStaged(files: readonly Staged[]): Promise<void> {
  await Promise.all(files.map((f) => f.staged.discard()));
}

/** Stages each file beside its destination; a file that cannot be staged is an install error naming it, and the others are discarded. */
export async function stageEach<T extends { path: string; content: string; pieces?: readonly string[]; mode?: number }>(
  files: readonly T[],
): Promise<Array<Staged<T>>> {
  const staged: Array<Staged<T>> = [];
  try {
    for (const file of files) {
      if (file.mode === PRIVATE_FILE)
        await privateDirectory(dirname(file.path)).catch((error: unknown) => {
          throw installError(file.path, error);
        });
      const copy = await stageFile(file.path, file.pieces ?? file.content, file.mode).catch((error: unknown) => {
        throw installError(file.path, error);
      });
      staged.push({ ...file, staged: copy });
    }
  } catch (error) {
    await discardStaged(staged);
    throw error;
  }
  return staged;
}

/**
 * Stages every file of the resources beside its destination and runs `check` (`haproxy -c`) on
 * each HAProxy config that changed or whose map files did. Any failure discards them all.
 */
export async function stageRendered(files: readonly RenderedResource[], check: CheckStaged): Promise<StagedUnit[]> {
  const units = await stageEach(installUnits(files));
  try {
    await checkStaged(files, units, check);
  } catch (error) {
    await discardStaged(units);
    throw error;
  }
  return units;
}

/**
 * A config reads its maps and crt-list by their installed paths, and the crt-list its bundles by
 * theirs, so a config whose files changed is checked as a copy that reads the staged ones (the
 * crt-list as a copy naming the staged bundles).
 */
async function checkStaged(files: readonly RenderedResource[], units: readonly StagedUnit[], check: CheckStaged): Promise<void> {
  let at = 0;
  for (const r of files) {
    const own = units.slice(at, at + (r.companions?.length ?? 0) + 1).map((u) => u.staged);
    at += own.length;
    const config = own[own.length - 1]!;
    if (!r.resource.haproxy) continue;
    const companions = r.companions ?? [];
    const temps = new Map(companions.flatMap((c, i) => (own[i]!.temp ? [[c.path, own[i]!.temp] as const] : [])));
    const copies: StagedFile[] = [];
    try {
      // Only the files the template read (the rendering knows which) are read by HAProxy with the config.
      const read = new Map<string, string>();
      for (const c of companions.filter((x) => x.loaded && x.kind !== 'cert')) {
        const text = c.kind === 'crt-list' ? crtListNaming(c.text, temps) : c.text;
        if (text === c.text) {
          if (temps.has(c.path)) read.set(c.path, temps.get(c.path)!);
          continue;
        }
        const copy = await stageCopy(c.path, [text]);
        copies.push(copy);
        read.set(c.path, copy.temp ?? c.path);
      }
      if (read.size === 0) {
        if (config.temp) await check(config.temp, r);
        continue;
      }
      const copy = await stageCopy(r.resource.destination!, swapped(r.text, read));
      copies.push(copy);
      await check(copy.temp ?? r.resource.destination!, r);
    } finally {
      await Promise.all(copies.map((c) => c.discard()));
    }
  }
}

/** `text` with each path of `swaps` (in order) replaced by its copy's, as pieces to write one after another. */
export function swapped(text: string, swaps: ReadonlyMap<string, string>): string[] {
  // Odd indexes hold the copies' paths, never searched again.
  let pieces = [text];
  for (const [path, copy] of swaps)
    pieces = pieces.flatMap((piece, i) => (i % 2 === 1 ? [piece] : piece.split(path).flatMap((part, j) => (j === 0 ? [part] : [copy, part]))));
  return pieces;
}

/** A copy of a file for a check, staged beside it (an install error names the file when it cannot be). */
function stageCopy(destination: string, pieces: readonly string[]): Promise<StagedFile> {
  return stageCheckCopy(destination, pieces).catch((error: unknown) => {
    throw installError(destination, error);
  });
}
