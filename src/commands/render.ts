import type { Settings } from '../config/settings.js';
import { usageError } from '../errors.js';
import { renderSnapshot } from '../plan/plan.js';
import { checkConfigFile, configRejected } from '../haproxy/check.js';
import { locateHaproxy } from '../haproxy/binary.js';
import type { Logger } from '../log.js';
import type { RenderedResource } from '../plan/render.js';
import { installChange, type InstalledUnit } from '../install/install.js';
import { installUnits } from '../install/stage.js';
import { sweepBundles } from '../install/sweep.js';
import { removeStaleTemps } from '../util/atomic-write.js';
import { withSpinner } from '../util/spinner.js';
import { describeRead, readStore, storeName } from '../wiring/store.js';
import { compileTemplates } from '../wiring/templates.js';
import { templateOrigin } from '../template/line-origin.js';
import type { CommandContext } from './context.js';
import { reportRendering } from './report.js';

export interface RenderOptions {
  /** false with --no-check: install with --out without `haproxy -c` of the new config. */
  check: boolean;
}

/**
 * `occs-lb render`: read the store once, render every resource, and print the config (no
 * destination) or install the files through the one install step (src/install/install.ts): each
 * staged beside its destination, HAProxy configs checked with `haproxy -c` (a rejection is exit
 * 5), then renamed into place, all of them or none: when any step fails, every file is as it was.
 */
export async function render(settings: Readonly<Settings>, { io, log }: CommandContext, options: RenderOptions = { check: true }): Promise<void> {
  if (settings.stack && !settings.resources[0]!.destination) {
    throw usageError('stack mode keeps its routes in map files beside the config, so render cannot print it alone', {
      hint: 'give --out FILE: render writes the config there and its map files beside it (.hosts.map and .paths.map)',
    });
  }
  if (settings.tls && !settings.resources.some((r) => r.destination === settings.haproxy.config)) {
    throw usageError('HTTPS keeps its certificates in files beside the config, so render cannot print it alone', {
      hint: 'give --out FILE: render writes the config there and the certificates beside it (.crt-list and the .certs directory)',
    });
  }
  const templates = await compileTemplates(settings.resources);
  const installing = settings.resources.some((r) => r.destination);
  const binary =
    installing && options.check && settings.resources.some((r) => r.destination && r.haproxy)
      ? locateHaproxy(settings.haproxy.binary, io.env, 'install without the check with --no-check')
      : undefined;
  const spin = io.stderrIsTTY && log.format === 'text' && log.verbosity !== 'quiet';
  const what = describeRead(settings);
  log.debug(what);
  const snapshot = await withSpinner(spin, io.stderr, what, () => readStore(settings));
  const rendering = renderSnapshot(settings, templates, snapshot);
  reportRendering(settings, rendering, storeName(settings), log);

  for (const { resource, text } of rendering.resources) if (!resource.destination) io.stdout.write(text);
  const files = rendering.resources.filter((r) => r.resource.destination);
  if (files.length === 0) return;
  // Temp files a killed run left beside the destinations go first: nothing else would remove them.
  for (const { path } of installUnits(files)) for (const stale of await removeStaleTemps(path)) log.info(`removed ${stale}, left by an earlier run`);
  for (const { path, result } of await install(files, binary, log)) {
    log.info(result === 'written' ? `wrote ${path}` : `${path} is unchanged`, { destination: path, result });
  }
  for (const path of await sweepBundles(files)) log.info(`removed ${path}: its certificate is no longer served`, { removed: path });
}

/** Stages every file (map files too), checks the HAProxy configs among them (when `binary` is given), then renames them all into place. */
function install(files: RenderedResource[], binary: string | undefined, log: Logger): Promise<InstalledUnit[]> {
  return installChange(files, async (file, r) => {
    if (!binary) return;
    const shownAs = `the new config of ${r.resource.destination!}`;
    const result = await checkConfigFile(binary, file);
    if (!result.valid) {
      throw configRejected(result, {
        file,
        shownAs,
        text: r.text,
        origin: templateOrigin(r.resource.template, r.text),
        hint: 'nothing was written; fix the template or the entries, or install it unchecked with --no-check',
      });
    }
    log.debug(`haproxy -c passed for ${shownAs}`);
  });
}
