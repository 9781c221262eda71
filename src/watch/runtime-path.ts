import type { Settings } from '../config/settings.js';
import { diffConfigs, type BackendChanges } from '../haproxy/config-diff.js';
import { applyAtRuntime, runtimeRefused, type RuntimeChannel } from '../haproxy/runtime.js';
import type { Logger } from '../log.js';
import type { RenderedResource } from '../pipeline/render.js';

/**
 * The no-reload path: which changes the running HAProxy's runtime API can take, and taking them.
 * Only the config HAProxy runs (`haproxy.config`) qualifies, and only when nothing but its
 * server lines changed.
 */
export class RuntimePath {
  constructor(
    private readonly settings: Readonly<Settings>,
    private readonly log: Logger,
    private readonly channel: () => RuntimeChannel | undefined,
  ) {}

  /** The server changes of a render, when the runtime API can apply them (else undefined). */
  changes(changed: RenderedResource[], installed: (destination: string) => string | undefined): BackendChanges[] | undefined {
    const [only] = changed;
    if (changed.length !== 1 || !only!.resource.haproxy || only!.resource.destination !== this.settings.haproxy.config) return undefined;
    if (!this.channel()) return undefined;
    const diff = diffConfigs(installed(only!.resource.destination) ?? '', only!.text);
    if (diff.kind === 'reload') this.log.debug(`this change needs a reload: ${diff.reason}`);
    return diff.kind === 'servers' ? diff.backends : undefined;
  }

  /** Applies them and reads them back; throws RUNTIME_REFUSED when HAProxy does not take them all. */
  async apply(backends: BackendChanges[]): Promise<void> {
    const channel = this.channel();
    if (!channel) throw runtimeRefused('the runtime API went away');
    const started = performance.now();
    await applyAtRuntime(channel, backends, this.settings.watch.drainTimeoutMs);
    const count = (k: 'added' | 'removed' | 'moved') => backends.reduce((n, b) => n + b[k].length, 0);
    const ms = Math.round(performance.now() - started);
    this.log.info(`applied through the runtime API, no reload: ${count('added')} added, ${count('removed')} removed, ${count('moved')} moved (${ms} ms)`, {
      path: 'runtime',
      backends: backends.map((b) => b.backend),
      ms,
    });
  }
}
