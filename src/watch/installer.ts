import { configRejected } from '../haproxy/check.js';
import type { HaproxyControl } from '../haproxy/control.js';
import { installChange, restore } from '../install/install.js';
import { InstallFailure } from '../install/install-error.js';
import { installUnits } from '../install/stage.js';
import type { Logger } from '../log.js';
import type { RenderedResource } from '../plan/render.js';
import type { HaproxyView } from './haproxy-view.js';
import { templateOrigin } from '../template/line-origin.js';

/**
 * Installs changes through the one install step (src/install/install.ts: staged, HAProxy configs
 * checked with `haproxy -c`, renamed into place, all or none) and tells the view
 * (haproxy-view.ts) what is on disk.
 */
export class Installer {
  constructor(private readonly deps: { control: HaproxyControl; log: Logger; view: HaproxyView }) {}

  /** Stages, checks (HAProxy configs, with their map files) and renames the files; returns their destinations. */
  async install(files: readonly RenderedResource[], backends: Readonly<Record<string, number>> = {}, background = false): Promise<string[]> {
    let checkMs = 0;
    const check = async (file: string, r: RenderedResource) => {
      const started = performance.now();
      try {
        await this.check(file, r, background);
      } finally {
        checkMs += performance.now() - started;
      }
    };
    const installed = await installChange(files, check).catch((error: unknown) => {
      // Files that could not be put back hold their new version: the view follows the disk.
      if (error instanceof InstallFailure)
        this.deps.view.filesInstalled(
          installUnits(files).filter((u) => error.notPutBack.includes(u.path)),
          true,
        );
      throw error;
    });
    for (const u of installed) {
      if (u.path !== u.resource.resource.destination) continue;
      const ms = Math.round(checkMs);
      this.deps.log.info(`installed ${u.path} (haproxy -c ${ms} ms)`, { destination: u.path, backends, checkMs: ms });
    }
    this.deps.view.filesInstalled(installed);
    return installed.map((u) => u.path);
  }

  /** After a failed reload: the files go back to what the running HAProxy still serves. */
  async restore(previous: ReadonlyArray<{ path: string; content: string | undefined }>): Promise<void> {
    const back = previous.filter((p): p is { path: string; content: string } => p.content !== undefined);
    await restore(back).catch((error: unknown) => {
      // Those put back are as before; those that could not be still hold the new version (the view has it).
      if (error instanceof InstallFailure)
        this.deps.view.filesInstalled(
          back.filter((p) => !error.notPutBack.includes(p.path)),
          true,
        );
      throw error;
    });
    this.deps.view.filesInstalled(back, true);
  }

  /** `haproxy -c` on the staged file; a rejection names the rendered line. */
  private async check(file: string, r: RenderedResource, background: boolean): Promise<void> {
    const result = await this.deps.control.check(file, background);
    if (result.valid) return;
    throw configRejected(result, {
      file,
      shownAs: `the new config of ${r.resource.destination!}`,
      text: r.text,
      origin: templateOrigin(r.resource.template, r.text),
      hint: 'the installed config stays; fix the template or the entries',
    });
  }
}
