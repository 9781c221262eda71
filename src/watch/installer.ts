import { readFile } from 'node:fs/promises';
import type { Settings } from '../config/settings.js';
import { systemErrorCode } from '../errors.js';
import { configRejected } from '../haproxy/check.js';
import type { HaproxyControl } from '../haproxy/control.js';
import type { Logger } from '../log.js';
import type { RenderedResource } from '../plan/render.js';
import { installChange, restore } from '../install/install.js';
import { InstallFailure } from '../install/install-error.js';
import { installUnits } from '../install/stage.js';

/** Every file watch installs: each resource's destination, and stack mode's map files. */
export function installedPaths(settings: Readonly<Settings>): string[] {
  const maps = settings.stack ? [settings.stack.maps.hosts, settings.stack.maps.paths] : [];
  return [...settings.resources.map((r) => r.destination!), ...maps];
}

/**
 * Installs changes through the one install step (src/install/install.ts: staged, HAProxy configs
 * checked with `haproxy -c`, renamed into place, all or none) and remembers what is on disk.
 */
export class Installer {
  private readonly disk = new Map<string, string | undefined>();

  constructor(private readonly deps: { settings: Readonly<Settings>; control: HaproxyControl; log: Logger }) {}

  /** Reads what is installed now (undefined: no file). */
  async init(): Promise<void> {
    for (const destination of installedPaths(this.deps.settings)) {
      const content = await readFile(destination, 'utf8').catch((error: unknown) => {
        if (systemErrorCode(error) === 'ENOENT') return undefined;
        throw error;
      });
      this.disk.set(destination, content);
    }
  }

  /** What is on disk at each destination. */
  get onDisk(): ReadonlyMap<string, string | undefined> {
    return this.disk;
  }

  /** Stages, checks (HAProxy configs, with their map files) and renames the files; returns their destinations. */
  async install(files: readonly RenderedResource[], backends: Readonly<Record<string, number>> = {}): Promise<string[]> {
    let checkMs = 0;
    const check = async (file: string, r: RenderedResource) => {
      const started = performance.now();
      try {
        await this.check(file, r);
      } finally {
        checkMs += performance.now() - started;
      }
    };
    const installed = await installChange(files, check).catch((error: unknown) => {
      // Files that could not be put back hold their new version: the record follows the disk.
      if (error instanceof InstallFailure) for (const u of installUnits(files)) if (error.notPutBack.includes(u.path)) this.disk.set(u.path, u.content);
      throw error;
    });
    for (const u of installed) {
      this.disk.set(u.path, u.content);
      if (u.path !== u.resource.resource.destination) continue;
      const ms = Math.round(checkMs);
      this.deps.log.info(`installed ${u.path} (haproxy -c ${ms} ms)`, { destination: u.path, backends, checkMs: ms });
    }
    return installed.map((u) => u.path);
  }

  /** After a failed reload: the files go back to what the running HAProxy still serves. */
  async restore(previous: ReadonlyArray<{ path: string; content: string | undefined }>): Promise<void> {
    const back = previous.filter((p) => p.content !== undefined);
    await restore(back).catch((error: unknown) => {
      if (error instanceof InstallFailure) for (const p of back) if (error.notPutBack.includes(p.path)) this.disk.set(p.path, p.content);
      throw error;
    });
    for (const p of back) this.disk.set(p.path, p.content);
  }

  /** `haproxy -c` on the staged file; a rejection names the rendered line. */
  private async check(file: string, r: RenderedResource): Promise<void> {
    const result = await this.deps.control.check(file);
    if (result.valid) return;
    throw configRejected(result, {
      file,
      shownAs: `the new config of ${r.resource.destination!}`,
      text: r.text,
      hint: 'the installed config stays; fix the template or the entries',
    });
  }
}
