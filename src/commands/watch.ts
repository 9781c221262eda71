import type { Settings } from '../config/settings.js';
import { asOccsError, usageError } from '../errors.js';
import { locateHaproxy } from '../haproxy/binary.js';
import { haproxyControl, type HaproxyControl } from '../haproxy/control.js';
import { describeReload } from '../haproxy/reload.js';
import { removeStaleRuntimeDirs, Supervisor } from '../haproxy/supervisor.js';
import { pollingSource } from '../kv/polling.js';
import type { KvSource } from '../kv/source.js';
import type { Logger } from '../log.js';
import { renderSnapshot } from '../plan/plan.js';
import { allPrefixes } from '../plan/render.js';
import type { CompiledTemplate } from '../template/engine.js';
import { removeStaleTemps } from '../util/atomic-write.js';
import { bundlesWithTemps } from '../install/sweep.js';
import { childEnv } from '../util/run.js';
import { startSpinner } from '../util/spinner.js';
import { Executor } from '../watch/executor.js';
import { HaproxyView, installedPaths } from '../watch/haproxy-view.js';
import { Planner } from '../watch/planner.js';
import { syncOnce } from '../watch/sync.js';
import type { Deadlines } from '../watch/health.js';
import { serveStatus } from '../watch/http-server.js';
import { RenderingNotes } from '../watch/notes.js';
import { WatchState } from '../watch/state.js';
import { WatchRecord } from '../watch/watch-record.js';
import { Watcher } from '../watch/watcher.js';
import { openStore, storeName } from '../wiring/store.js';
import { compileTemplates } from '../wiring/templates.js';
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
export async function watch(settings: Readonly<Settings>, { io, log, redact, reloadSettings }: CommandContext, options: WatchOptions): Promise<number> {
  const { exec, listen } = settings.watch;
  if (settings.resources.some((r) => !r.destination)) {
    throw usageError('watch needs a file to install the config in', { hint: 'pass --out /etc/haproxy/haproxy.cfg (or set each resource\'s "destination")' });
  }
  if (options.once && exec) {
    throw usageError('--once and --exec cannot be used together', { hint: '--once runs the pipeline once against an HAProxy that is already running' });
  }
  for (const notice of settings.notices) log.warn(notice);
  const store = storeName(settings);
  const binary = locateHaproxy(settings.haproxy.binary, io.env, 'watch checks every config with haproxy -c before installing it');
  const record = await WatchRecord.claim(settings.haproxy.config, log, { check: options.once });
  await removeLeftovers(settings, log);
  const templates = await compileTemplates(settings.resources);
  // How HAProxy is reached is decided here, once.
  const supervisor = exec ? Supervisor.prepare(exec) : undefined;
  const { config, reloadTimeoutMs } = settings.haproxy;
  const control = haproxyControl({ binary, config, reloadTimeoutMs, supervisor, strategy: supervisor ? undefined : settings.haproxy.reload });
  if (!supervisor && !settings.haproxy.reload) log.warn('no --exec and no reload strategy: configs are installed, but no HAProxy is reloaded');
  if (options.once) return once({ settings, templates, source: await openStore(settings), control, log, store });
  const source = await openWatchedStore(settings);

  await record.save();
  const state = new WatchState();
  if (supervisor) state.childAlive = false;
  const status = listen
    ? await serveStatus({ state, running: () => control.running(), deadlines: wedgeDeadlines(settings), redact }, listen.host, listen.port)
    : undefined;
  const spin = io.stderrIsTTY && log.format === 'text' && log.verbosity !== 'quiet';
  const watcher = new Watcher({
    settings,
    source,
    openSource: openWatchedStore,
    reloadSettings,
    templates,
    control,
    store,
    state,
    log,
    supervisor,
    status,
    record,
    childEnv: childEnv(io.env),
    waiting: (text) => (spin ? startSpinner(io.stderr, text) : (log.info(text), { stop() {} })),
  });
  return watcher.run();
}

/** The store as watch follows it: by its own change notification, or polled every --interval. */
async function openWatchedStore(settings: Readonly<Settings>): Promise<KvSource> {
  const { intervalMs } = settings.watch;
  const source = await openStore(settings, { pollIntervalMs: intervalMs });
  return intervalMs ? pollingSource(source, intervalMs) : source;
}

/**
 * When /livez calls watch wedged. A change may take a `haproxy -c` (30 s at most), a reload and
 * the one that sets HAProxy back, and a drain; the store's watch reports at least once a minute
 * (a blocking query's wait, etcd's idle stream, a file re-read every 30 s) or every --interval.
 * Well beyond both, so a slow machine is never restarted for being slow.
 */
function wedgeDeadlines(settings: Readonly<Settings>): Deadlines {
  const { reloadTimeoutMs } = settings.haproxy;
  const { drainTimeoutMs, intervalMs = 0 } = settings.watch;
  return {
    syncMs: 120_000 + 30_000 + 2 * reloadTimeoutMs + drainTimeoutMs,
    storeSilenceMs: Math.max(300_000, 3 * (intervalMs + settings.kvTimeoutMs)),
  };
}

interface OnceParts {
  settings: Readonly<Settings>;
  templates: ReadonlyMap<string, CompiledTemplate>;
  source: KvSource;
  control: HaproxyControl;
  log: Logger;
  store: string;
}

/** `watch --once`: one read, and the watch loop's one pass over it, against an HAProxy that runs already. */
async function once({ settings, templates, source, control, log, store }: OnceParts): Promise<number> {
  let fileFailure: unknown;
  const view = new HaproxyView(control, settings.haproxy.config);
  const executor = new Executor({
    settings,
    control,
    log,
    view,
    reloaded: (r) => log.info(describeReload(r), { before: r.before, after: r.after, ms: r.ms }),
    fileFailed: (error) => (fileFailure = error),
  });
  try {
    await view.init(installedPaths(settings), settings.tls?.crtList);
    const lastGood = (path: string) => view.state.installed.get(path);
    const rendering = renderSnapshot(settings, templates, await source.read(allPrefixes(settings.resources)), { installed: lastGood });
    const planner = new Planner({ settings, templates }, view);
    const outcome = await syncOnce({ planner, executor, view, notes: new RenderingNotes(log, store), log }, rendering);
    await executor.settled();
    if (fileFailure) throw asOccsError(fileFailure);
    const installed = outcome.path === 'runtime' ? [settings.haproxy.config] : outcome.installed;
    log.info(installed.length > 0 ? `installed ${installed.join(', ')}` : 'the installed config is up to date', { backends: rendering.backends });
    return 0;
  } finally {
    await source.close();
  }
}

/**
 * What a run killed with SIGKILL left behind: temp files beside the destinations and private
 * master-socket dirs. Nothing else would ever remove them outside a container.
 */
async function removeLeftovers(settings: Readonly<Settings>, log: Logger): Promise<void> {
  const paths = [...installedPaths(settings), ...(settings.tls ? await bundlesWithTemps(settings.tls.certsDir) : [])];
  const removed = [...(await Promise.all(paths.map((path) => removeStaleTemps(path)))).flat(), ...(await removeStaleRuntimeDirs())];
  if (removed.length > 0) log.info(`removed what an earlier run left: ${removed.join(', ')}`, { removed });
}
