import type { RenderedResource } from '../plan/render.js';
import { stageFile, type StagedFile } from '../util/atomic-write.js';
import { installError } from './install-error.js';

/** One file of an install: a resource's own, or a map file that goes with it. */
export interface InstallUnit {
  path: string;
  content: string;
  resource: RenderedResource;
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
    ...(r.companions ?? []).map((c) => ({ path: c.path, content: c.text, resource: r })),
    { path: r.resource.destination!, content: r.text, resource: r },
  ]);
}

/** Discards the staged copies (best effort: never throws). */
export async function discardStaged(files: readonly Staged[]): Promise<void> {
  await Promise.all(files.map((f) => f.staged.discard()));
}

/** Stages each file beside its destination; a file that cannot be staged is an install error naming it, and the others are discarded. */
export async function stageEach<T extends { path: string; content: string }>(files: readonly T[]): Promise<Array<Staged<T>>> {
  const staged: Array<Staged<T>> = [];
  try {
    for (const file of files) {
      const copy = await stageFile(file.path, file.content).catch((error: unknown) => {
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
 * A config reads its maps by their installed paths, so a config with new maps is checked as a
 * copy that reads the staged ones.
 */
async function checkStaged(files: readonly RenderedResource[], units: readonly StagedUnit[], check: CheckStaged): Promise<void> {
  let at = 0;
  for (const r of files) {
    const own = units.slice(at, at + (r.companions?.length ?? 0) + 1).map((u) => u.staged);
    at += own.length;
    const config = own[own.length - 1]!;
    // Only the maps the template read (the rendering knows which) are read by HAProxy with the config.
    const maps = (r.companions ?? []).flatMap((c, i) => (own[i]!.temp && c.loaded ? [{ path: c.path, temp: own[i]!.temp }] : []));
    if (!r.resource.haproxy) continue;
    if (maps.length === 0) {
      if (config.temp) await check(config.temp, r);
      continue;
    }
    const destination = r.resource.destination!;
    const text = maps.reduce((t, m) => t.split(m.path).join(m.temp), r.text);
    const copy = await stageFile(destination, text).catch((error: unknown) => {
      throw installError(destination, error);
    });
    try {
      await check(copy.temp ?? destination, r);
    } finally {
      await copy.discard();
    }
  }
}
