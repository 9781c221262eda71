import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { systemErrorCode } from '../errors.js';
import type { RenderedResource } from '../plan/render.js';

/**
 * Removes the bundle files HTTPS no longer serves from its directory (a removed certificate's
 * private key does not stay on disk), once the files that name the others are installed and
 * HAProxy runs them. Only files of that directory go, which occs-lb alone writes. Returns the
 * files removed; one that cannot be is left for the next install.
 */
export async function sweepBundles(files: readonly RenderedResource[]): Promise<string[]> {
  const removed: string[] = [];
  for (const r of files) {
    if (!r.tls) continue;
    const dir = r.tls.settings.certsDir;
    const keep = new Set((r.companions ?? []).filter((c) => c.kind === 'cert').map((c) => c.path));
    const names = await readdir(dir).catch((error: unknown) => {
      if (systemErrorCode(error) === 'ENOENT') return [];
      throw error;
    });
    for (const name of names) {
      const path = join(dir, name);
      if (keep.has(path)) continue;
      if (
        await unlink(path).then(
          () => true,
          () => false,
        )
      )
        removed.push(path);
    }
  }
  return removed;
}

/** The files of the bundle directory that have temp files beside them (`.NAME.PID.RANDOM.tmp`): a run killed while installing a bundle leaves one holding its key. */
export async function bundlesWithTemps(certsDir: string): Promise<string[]> {
  const names = await readdir(certsDir).catch(() => [] as string[]);
  return [...new Set(names.flatMap((n) => /^\.(.+)\.\d+\.[a-z0-9]+\.tmp$/.exec(n)?.[1] ?? []))].map((name) => join(certsDir, name));
}
