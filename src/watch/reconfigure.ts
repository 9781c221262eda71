import type { Settings } from '../config/settings.js';

/**
 * SIGHUP reads the config file again (as consul-template does). What watch has built its process
 * around — the HAProxy it runs or reloads, the files it installs, the status listener, the log,
 * the quiescence window — keeps its running value until watch restarts; everything else takes the
 * new one: the store and its credentials, prefixes, templates, template values, the rules.
 */

const FILES = 'the files installed (out, resources[].destination)';

/** A setting that only a restart changes: its name as the user knows it, and how to read it. */
const RESTART_ONLY: ReadonlyArray<[name: string, read: (s: Readonly<Settings>) => unknown]> = [
  ['exec', (s) => s.watch.exec],
  ['listen', (s) => s.watch.listen],
  ['wait', (s) => [s.watch.waitMinMs, s.watch.waitMaxMs]],
  ['verifyInterval', (s) => s.watch.verifyIntervalMs],
  [FILES, (s) => s.resources.map((r) => [r.destination, r.haproxy])],
  ['haproxyConfig, haproxyBinary, the reload strategy, reloadTimeout', (s) => s.haproxy],
  ['logFormat', (s) => s.logFormat],
  ['quiet/verbose', (s) => s.verbosity],
];

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The settings to run with after SIGHUP: `fresh` where it may change live, `running` where only a
 * restart changes it; `kept` names the restart-only settings `fresh` changed (to warn of). Pure.
 */
export function liveSettings(running: Readonly<Settings>, fresh: Readonly<Settings>): { settings: Readonly<Settings>; kept: string[] } {
  const kept = RESTART_ONLY.filter(([, read]) => !same(read(running), read(fresh))).map(([name]) => name);
  const destinationsKept = kept.includes(FILES);
  const settings: Settings = {
    ...fresh,
    watch: {
      ...fresh.watch,
      exec: running.watch.exec,
      listen: running.watch.listen,
      waitMinMs: running.watch.waitMinMs,
      waitMaxMs: running.watch.waitMaxMs,
      // The drift keeper's timer is set once, at start.
      verifyIntervalMs: running.watch.verifyIntervalMs,
    },
    // Files elsewhere would leave the installed ones unwatched: the resources stay as they are.
    resources: destinationsKept ? running.resources : fresh.resources,
    haproxy: running.haproxy,
    logFormat: running.logFormat,
    verbosity: running.verbosity,
    // Stack mode's map files sit beside the config: they move only with it.
    stack: destinationsKept ? running.stack : fresh.stack,
  };
  return { settings: Object.freeze(settings), kept };
}

/** Whether `fresh` names another store, or reaches it otherwise (credentials, TLS, timeouts, polling). */
export function storeChanged(running: Readonly<Settings>, fresh: Readonly<Settings>): boolean {
  const store = (s: Readonly<Settings>) => [
    s.kv?.spec,
    s.kv?.base,
    s.token,
    s.kvUser,
    s.kvPassword,
    s.kvCa,
    s.kvCert,
    s.kvKey,
    s.insecure,
    s.kvTimeoutMs,
    s.kvMaxBytes,
    s.kvConsistency,
    s.kvMaxStaleMs,
    s.watch.intervalMs,
  ];
  return !same(store(running), store(fresh));
}
