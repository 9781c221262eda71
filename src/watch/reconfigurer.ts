import type { Settings } from '../config/settings.js';
import { asOccsError, OccsError, withHint } from '../errors.js';
import { allPrefixes } from '../plan/render.js';
import type { CompiledTemplate } from '../template/engine.js';
import type { KvSource } from '../kv/source.js';
import type { Logger } from '../log.js';
import { storeName } from '../wiring/store.js';
import { compileTemplates } from '../wiring/templates.js';
import type { Executor } from './executor.js';
import type { RenderingNotes } from './notes.js';
import { liveSettings, storeChanged } from './reconfigure.js';
import type { StoreFollower } from './store-follower.js';
import type { StoreHealth } from './store-health.js';

/** What SIGHUP needs: the settings and templates watch started with, how to read settings again, and how to open the store they name. */
export interface ReconfigureParts {
  settings: Readonly<Settings>;
  templates: ReadonlyMap<string, CompiledTemplate>;
  log: Logger;
  reloadSettings?: () => Promise<Readonly<Settings>>;
  openSource: (settings: Readonly<Settings>) => Promise<KvSource>;
}

/**
 * The settings and templates watch runs with, and SIGHUP's re-reading of them: the config file
 * (and the secrets and files it names), every template, and the store they point at. All or
 * nothing: a config file that no longer loads, a template that no longer compiles or a store
 * that cannot be opened is reported, and everything keeps running as it was.
 */
export class Reconfigurer {
  settings: Readonly<Settings>;
  templates: ReadonlyMap<string, CompiledTemplate>;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly parts: ReconfigureParts,
    private readonly follower: StoreFollower,
    private readonly executor: Executor,
    private readonly notes: RenderingNotes,
    private readonly health: StoreHealth,
  ) {
    this.settings = parts.settings;
    this.templates = parts.templates;
  }

  /**
   * Reads everything again and, when all of it is good, runs with it; never throws. SIGHUPs in
   * quick succession are taken one after the other: the file read last is the one that counts.
   */
  reconfigure(): Promise<void> {
    const run = this.queue.then(() => this.readAgain());
    this.queue = run;
    return run;
  }

  private async readAgain(): Promise<void> {
    const { log, reloadSettings, openSource } = this.parts;
    try {
      const { settings, kept } = liveSettings(this.settings, reloadSettings ? await reloadSettings() : this.settings);
      const templates = await compileTemplates(settings.resources);
      // A new source every time: a rotated token, password or certificate file is read anew.
      const source = await openSource(settings);
      // Another store, or other credentials: it must answer before watch leaves the one it follows.
      if (storeChanged(this.settings, settings)) await readOrClose(source, settings);
      for (const notice of settings.notices) log.warn(notice);
      this.settings = settings;
      this.templates = templates;
      this.executor.reconfigure(settings);
      this.notes.store = storeName(settings);
      this.health.swapped();
      await this.follower.follow(source, allPrefixes(settings.resources));
      for (const name of kept) log.warn(`SIGHUP: ${name} changed in the config file; it takes effect when watch restarts`, { setting: name });
      log.info(`SIGHUP: the config${settings.configFile ? ` (${settings.configFile})` : ''} and ${templates.size} template(s) read again`);
    } catch (error) {
      const occs = asOccsError(error);
      log.error(`SIGHUP: ${withHint(occs)}; watch goes on with the settings and templates it had`, { code: occs.code, detail: occs.detail });
    }
  }
}

/** One read of every prefix from a store just opened; on failure the source is closed and the failure says which store. */
async function readOrClose(source: KvSource, settings: Readonly<Settings>): Promise<void> {
  try {
    await source.read(allPrefixes(settings.resources));
  } catch (error) {
    await source.close();
    const occs = asOccsError(error);
    throw new OccsError(occs.code, `the store the config file names now cannot be read: ${occs.message}`, {
      hint: 'fix kv or its credentials, then send SIGHUP again',
      cause: error,
    });
  }
}
