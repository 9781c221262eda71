import { readFileSync } from 'node:fs';
import type { Settings } from '../config/settings.js';
import { adminSocket, parseSections } from '../haproxy/config-sections.js';
import { runtimeChannel, type RuntimeChannel } from '../haproxy/runtime.js';
import { usageError } from '../errors.js';
import { locateHaproxy } from '../haproxy/binary.js';
import { reloadHaproxy } from '../haproxy/reload.js';
import { openKvSource } from '../kv/open.js';
import { pollingSource } from '../kv/polling.js';
import { startSpinner } from '../util/spinner.js';
import { compileTemplates, sourceOptions, storeLocation } from '../pipeline/render.js';
import { Applier } from '../watch/apply.js';
import { serveStatus } from '../watch/http-server.js';
import { WatchState } from '../watch/state.js';
import { removeStaleRuntimeDirs, Supervisor } from '../watch/supervisor.js';
import { WatchRecord } from '../watch/watch-record.js';
import { removeStaleTemps } from '../util/atomic-write.js';
import { childEnv } from '../util/run.js';
import type { Logger } from '../log.js';
import { Watcher } from '../watch/watcher.js';
import type { CommandContext } from './context.js';

export interface WatchOptions {
  /** One full pipeline run, then exit. */
  once: boolean;
}

/**
 * `occs-lb watch`: keep HAProxy serving exactly the store's backends. Waits for the first good
 * render, installs it, starts the --exec HAProxy (or reloads a running one), then follows the
 * store until SIGTERM/SIGINT or HAProxy's exit, whose status it returns.
 */
export async function watch(settings: Readonly<Settings>, { io, log, redact }: CommandContext, options: WatchOptions): Promise<number> {
  const { exec, listen, intervalMs } = settings.watch;
  if (settings.resources.some((r) => !r.destination)) {
    throw usageError('watch needs a file to install the config in', { hint: 'pass --out /etc/haproxy/haproxy.cfg (or set each resource\'s "destination")' });
  }
  if (options.once && exec)
    throw usageError('--once and --exec cannot be used together', { hint: '--once runs the pipeline once against an HAProxy that is already running' });
  const location = storeLocation(settings);
  const haproxy = locateHaproxy(settings.haproxy.binary, io.env, 'watch checks every config with haproxy -c before installing it');
  const record = await WatchRecord.claim(settings.haproxy.config, log, { check: options.once });
  await removeLeftovers(settings, log);
  const templates = await compileTemplates(settings.resources);
  const supervisor = exec ? Supervisor.prepare(exec) : undefined;
  const strategy = supervisor ? undefined : settings.haproxy.reload;
  if (!supervisor && !strategy) log.warn('no --exec and no reload strategy: configs are installed, but no HAProxy is reloaded');

  const runtime = settings.watch.runtimeApi ? runtimeFor(settings, supervisor) : undefined;
  const applier = new Applier({ settings, templates, haproxy, log, runtime });
  await applier.init();
  const source = await openKvSource(location, sourceOptions(settings, { pollIntervalMs: intervalMs }));

  if (options.once) {
    try {
      const snapshot = await source.read([...new Set(settings.resources.flatMap((r) => r.prefixes))]);
      const reload = strategy
        ? async () => void (await reloadHaproxy(strategy, { binary: haproxy, config: settings.haproxy.config, timeoutMs: settings.haproxy.reloadTimeoutMs }))
        : undefined;
      const result = await applier.apply(snapshot, false, reload);
      log.info(result.installed.length > 0 ? `installed ${result.installed.join(', ')}` : 'the installed config is up to date', { backends: result.backends });
      return 0;
    } finally {
      await source.close();
    }
  }

  await record.save();
  const state = new WatchState();
  if (supervisor) state.childAlive = false;
  const status = listen ? await serveStatus(state, listen.host, listen.port, redact) : undefined;
  const spin = io.stderrIsTTY && log.format === 'text' && log.verbosity !== 'quiet';
  const watcher = new Watcher({
    settings,
    source: intervalMs ? pollingSource(source, intervalMs) : source,
    applier,
    state,
    log,
    supervisor,
    strategy,
    haproxy,
    status,
    record,
    childEnv: childEnv(io.env),
    waiting: (text) => (spin ? startSpinner(io.stderr, text) : (log.info(text), { stop() {} })),
  });
  return watcher.run();
}

/**
 * What a run killed with SIGKILL left behind: temp files beside the destinations and private
 * master-socket dirs. Nothing else would ever remove them outside a container.
 */
async function removeLeftovers(settings: Readonly<Settings>, log: Logger): Promise<void> {
  const removed = [...(await Promise.all(settings.resources.map((r) => removeStaleTemps(r.destination!)))).flat(), ...(await removeStaleRuntimeDirs())];
  if (removed.length > 0) log.info(`removed what an earlier run left: ${removed.join(', ')}`, { removed });
}

/**
 * Where the runtime API of the HAProxy that watch reloads is: the master CLI (`@1`) of the
 * supervised HAProxy or of --master-socket, else the admin `stats socket` of the installed
 * config. Asked at each change, so it follows what is running and installed.
 */
function runtimeFor(settings: Readonly<Settings>, supervisor: Supervisor | undefined): () => RuntimeChannel | undefined {
  return () => {
    if (supervisor) return supervisor.socket ? runtimeChannel('master', supervisor.socket) : undefined;
    const strategy = settings.haproxy.reload;
    if (strategy?.kind === 'master-socket') return runtimeChannel('master', strategy.socket);
    const installed = readInstalled(settings.haproxy.config);
    const admin = installed && adminSocket(parseSections(installed));
    return admin ? runtimeChannel('admin', admin) : undefined;
  };
}

function readInstalled(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
