import type { RenderedResource } from '../plan/render.js';
import { stageFile, type StagedFile } from '../util/atomic-write.js';
import { stageChecked } from '../util/install-error.js';

/** One file of an install: a resource's own, or a map file that goes with it. */
export interface InstallUnit {
  path: string;
  content: string;
  resource: RenderedResource;
}

/** Every file the resources install: each resource's companions (map files) first, then itself, so a config never names a map not yet there. */
export function installUnits(files: readonly RenderedResource[]): InstallUnit[] {
  return files.flatMap((r) => [
    ...(r.companions ?? []).map((c) => ({ path: c.path, content: c.text, resource: r })),
    { path: r.resource.destination!, content: r.text, resource: r },
  ]);
}

/**
 * Stages every file of the resources beside its destination and runs `check` (`haproxy -c`) on
 * each HAProxy config that changed or whose map files did. A config reads its maps by their
 * installed paths, so a config with new maps is checked as a copy that reads the staged ones.
 * Any failure discards them all.
 */
export async function stageRendered(
  files: readonly RenderedResource[],
  check: (file: string, resource: RenderedResource) => Promise<void>,
): Promise<{ units: InstallUnit[]; staged: StagedFile[] }> {
  const units = installUnits(files);
  const staged = await stageChecked(units, async (all) => {
    let at = 0;
    for (const r of files) {
      const own = all.slice(at, at + (r.companions?.length ?? 0) + 1);
      at += own.length;
      const config = own[own.length - 1]!;
      const maps = (r.companions ?? []).flatMap((c, i) => (own[i]!.temp ? [{ path: c.path, temp: own[i]!.temp }] : []));
      if (!r.resource.haproxy || own.every((s) => !s.temp)) continue;
      if (maps.length === 0) {
        await check(config.temp!, r);
        continue;
      }
      const text = maps.reduce((t, m) => t.split(m.path).join(m.temp), r.text);
      const copy = await stageFile(r.resource.destination!, text);
      try {
        await check(copy.temp ?? r.resource.destination!, r);
      } finally {
        await copy.discard();
      }
    }
  });
  return { units, staged };
}
