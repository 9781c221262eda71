import { readdirSync, readFileSync } from 'node:fs';
import { packageVersion } from '../paths.js';
import type { WatchState } from './state.js';

type Sample = [labels: string, value: number];

/** A label value as Prometheus's text format quotes it. */
const label = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** The Prometheus text exposition of the watch's counters and gauges, and the process's own. */
export function metricsText(state: WatchState): string {
  const c = state.counters;
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: Sample[]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  const ours = (name: string, type: 'counter' | 'gauge', help: string, samples: Sample[]) => metric(`occs_lb_${name}`, type, help, samples);
  ours('renders_total', 'counter', 'Renders of the templates.', [['', c.renders]]);
  const patchedHelp = 'Of the renders, those that changed only the server lines a store change touched, not running the template over every server.';
  ours('renders_patched_total', 'counter', patchedHelp, [['', c.patchedRenders]]);
  ours('render_failures_total', 'counter', 'Renders that failed (template errors, refused values).', [['', c.renderFailures]]);
  ours('installs_total', 'counter', 'Configs installed (atomically) after passing the checks.', [['', c.installs]]);
  ours('install_failures_total', 'counter', 'Configs that could not be written (a full disk, a read-only directory); retried.', [['', c.installFailures]]);
  ours('check_failures_total', 'counter', 'Rendered configs haproxy -c rejected.', [['', c.checkFailures]]);
  ours('refused_total', 'counter', 'Store answers refused by --min-servers or --strict, or held because they empty every backend.', [['', c.refused]]);
  ours('reloads_total', 'counter', 'Verified HAProxy reloads.', [['', c.reloads]]);
  ours('reload_failures_total', 'counter', 'Reloads that failed (the previous config was put back).', [['', c.reloadFailures]]);
  ours('runtime_updates_total', 'counter', 'Changes applied through the runtime API, with no reload.', [['', c.runtimeUpdates]]);
  ours('runtime_fallbacks_total', 'counter', 'Changes the runtime API refused, applied by reload instead.', [['', c.runtimeFallbacks]]);
  ours('store_errors_total', 'counter', 'Failed reads of the key/value store.', [['', c.storeErrors]]);
  ours('unexpected_failures_total', 'counter', 'Failures nobody foresaw (a bug, or the system failing): see the log.', [['', c.unexpectedFailures]]);
  ours('signals_total', 'counter', 'SIGHUPs handled (each forces a re-read, render and reload).', [['', c.signals]]);
  ours('drift_verifications_total', 'counter', "Looks at HAProxy's live servers, weights, states and map entries (--verify-interval).", [
    ['', c.driftVerifications],
  ]);
  ours('drift_corrections_total', 'counter', "Changes made to HAProxy behind watch's back that it put back, by how.", [
    ['{how="runtime"}', c.driftRuntime],
    ['{how="reload"}', c.driftReload],
  ]);
  storeMetrics(state, ours);
  ours(
    'last_sync_timestamp_seconds',
    'gauge',
    'When the store last confirmed the installed config (a change applied, or a read with nothing new), in Unix seconds; 0: never.',
    [['', state.lastSyncAt === undefined ? 0 : state.lastSyncAt / 1000]],
  );
  ours('build_info', 'gauge', 'Always 1; the labels say which occs-lb runs.', [[`{version="${label(packageVersion())}"}`, 1]]);
  ours(
    'backend_servers',
    'gauge',
    'Servers per backend in the installed config.',
    Object.entries(state.backends).map(([name, n]) => [`{backend="${label(name)}"}`, n]),
  );
  ours('empty_backends', 'gauge', 'Backends of the installed config with no server (HAProxy answers 503 to their requests).', [
    ['', state.emptyBackends.length],
  ]);
  const skipped = new Map<string, number>();
  for (const s of state.skipped) skipped.set(s.kind, (skipped.get(s.kind) ?? 0) + 1);
  ours(
    'entries_skipped',
    'gauge',
    'Store entries the latest answer held that were skipped as invalid (the log and /healthz name them), by reason.',
    [...skipped].sort(([a], [b]) => (a < b ? -1 : 1)).map(([reason, n]) => [`{reason="${label(reason)}"}`, n]),
  );
  certMetrics(state, ours);
  processMetrics(metric);
  return `${lines.join('\n')}\n`;
}

/** The process metrics every Prometheus client exports, by the same names. */
function processMetrics(metric: (name: string, type: 'counter' | 'gauge', help: string, samples: Sample[]) => void): void {
  const cpu = process.cpuUsage();
  metric('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', [['', (cpu.user + cpu.system) / 1e6]]);
  metric('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [['', process.memoryUsage.rss()]]);
  metric('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', [
    ['', Math.floor(Date.now() / 1000 - process.uptime())],
  ]);
  const fds = openFds();
  if (fds !== undefined) metric('process_open_fds', 'gauge', 'Number of open file descriptors.', [['', fds]]);
  const max = maxFds();
  if (max !== undefined) metric('process_max_fds', 'gauge', 'Maximum number of open file descriptors.', [['', max]]);
}

function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined; // not Linux
  }
}

function maxFds(): number | undefined {
  try {
    const soft = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return soft === undefined ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

type Emit = (name: string, type: 'counter' | 'gauge', help: string, samples: Sample[]) => void;

/** The store's health: up, failovers, and each endpoint of a store given as several. */
function storeMetrics(state: WatchState, ours: Emit): void {
  const c = state.counters;
  ours('store_up', 'gauge', '1 when the last read of the store succeeded.', [['', state.storeProblems.size > 0 ? 0 : 1]]);
  ours('store_failovers_total', 'counter', 'Moves from a store endpoint that could not serve to the next (a cluster given as several).', [
    ['', c.storeFailovers],
  ]);
  ours(
    'store_endpoint_up',
    'gauge',
    'Per endpoint of a store given as several: 1 when it answered when last asked, 0 when it did not (not shown until asked).',
    (state.followed?.endpoints?.health.endpoints ?? []).filter((e) => e.up !== undefined).map((e) => [`{endpoint="${label(e.endpoint)}"}`, e.up ? 1 : 0]),
  );
  const contact = state.followed?.lastContactMs;
  if (contact !== undefined) {
    ours(
      'store_last_contact_seconds',
      'gauge',
      'How long ago the Consul server in use last heard from its leader (X-Consul-LastContact), as of its last answer.',
      [['', contact / 1000]],
    );
  }
}

/** HTTPS: each certificate's expiry. */
function certMetrics(state: WatchState, ours: Emit): void {
  ours(
    'cert_not_after_timestamp_seconds',
    'gauge',
    'HTTPS: when each certificate served expires, in Unix seconds (alert on it minus time()).',
    state.certs.map((c) => [`{name="${label(c.name)}"}`, c.notAfter / 1000]),
  );
}
