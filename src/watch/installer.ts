import { configRejected } from '../haproxy/check.js';
import type { HaproxyControl } from '../haproxy/control.js';
import type { Logger } from '../log.js';
import type { RenderedResource } from '../plan/render.js';
import { installFiles } from '../util/atomic-write.js';
import { installError } from '../util/install-error.js';
import { stageRendered } from '../wiring/stage.js';
import type { HaproxyView } from './haproxy-view.js';

/**
 * Writes files the safe way and tells the view (haproxy-view.ts) what is on disk: each one
 * staged beside its destination, HAProxy configs checked with `haproxy -c`, then renamed into
 * place; a failure leaves the files as they were.
 */
export class Installer {
  constructor(private readonly deps: { control: HaproxyControl; log: Logger; view: HaproxyView }) {}

  /** Stages, checks (HAProxy configs, with their map files) and renames the files; returns their destinations. */
  async install(files: readonly RenderedResource[], backends: Readonly<Record<string, number>> = {}): Promise<string[]> {
    if (files.length === 0) return [];
    const started = performance.now();
    const { units, staged } = await stageRendered(files, (file, r) => this.check(file, r));
    const checkMs = Math.round(performance.now() - started);
    for (const [i, s] of staged.entries()) {
      try {
        await s.commit();
      } catch (error) {
        await Promise.all(staged.slice(i).map((rest) => rest.discard()));
        throw installError([s.path], error);
      }
      if (units[i]!.path === units[i]!.resource.resource.destination) {
        this.deps.log.info(`installed ${s.path} (haproxy -c ${checkMs} ms)`, { destination: s.path, backends, checkMs });
      }
    }
    this.deps.view.filesInstalled(units);
    return units.map((u) => u.path);
  }

  /** After a failed reload: the files go back to what the running HAProxy still serves. */
  async restore(previous: ReadonlyArray<{ path: string; content: string | undefined }>): Promise<void> {
    const known = previous.filter((p): p is { path: string; content: string } => p.content !== undefined);
    await installFiles(known).catch((error: unknown) => {
      throw installError(
        known.map((p) => p.path),
        error,
      );
    });
    this.deps.view.filesInstalled(known, true);
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
