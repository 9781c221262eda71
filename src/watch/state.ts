import { ExitCode, INSTALL_CODES, type OccsError } from '../errors.js';
import { packageVersion } from '../paths.js';

type Counter = keyof WatchState['counters'];

/** Which counter a failed sync adds to: each failure is counted once, by what failed. */
export function failureCounter(error: OccsError): Counter {
  if (error.code === 'UNEXPECTED') return 'unexpectedFailures';
  if (INSTALL_CODES.has(error.code)) return 'installFailures';
  if (error.code === 'CONFIG_REJECTED') return 'checkFailures';
  if (error.code === 'MIN_SERVERS' || error.code === 'ENTRIES_REJECTED') return 'refused';
  if (error.exitCode === ExitCode.reload) return 'reloadFailures';
  return 'renderFailures';
}

/**
 * What `watch` has done and how it is doing: counters for /metrics, the reason for /healthz.
 * Plain data plus a Prometheus text rendering; the loop updates it, the HTTP server reads it.
 */
/** How /healthz names a store's trouble, by error code (anything else: "store failing"). */
const STORE_PROBLEMS: Record<string, string> = {
  KV_UNREACHABLE: 'store unreachable',
  KV_ERROR: 'store answering errors',
  KV_TIMEOUT: 'store not answering',
  KV_TLS: 'store unreachable',
  KV_UNAUTHORISED: 'store refuses the credentials',
  KV_PERMISSION_DENIED: 'store refuses the credentials',
  KV_FILE_UNREADABLE: 'store file unreadable',
  KV_FILE_MALFORMED: 'store file malformed',
};

export class WatchState {
  readonly counters = {
    renders: 0,
    renderFailures: 0,
    installs: 0,
    installFailures: 0,
    checkFailures: 0,
    reloads: 0,
    reloadFailures: 0,
    runtimeUpdates: 0,
    runtimeFallbacks: 0,
    storeErrors: 0,
    refused: 0,
    unexpectedFailures: 0,
    signals: 0,
  };
  /** Servers per backend in the installed config. */
  backends: Record<string, number> = {};
  lastSyncAt?: number;
  /** Why the last sync did not succeed (undefined: it did). */
  syncProblem?: string;
  /** What fails to be read right now, by scope (a prefix): the message and since when. */
  readonly storeProblems = new Map<string, { message: string; code: string; since: number }>();
  /** Whether the supervised HAProxy runs (undefined: watch supervises none). */
  childAlive?: boolean;

  syncSucceeded(): void {
    this.lastSyncAt = Date.now();
    this.syncProblem = undefined;
  }

  /** Backends of the installed config with no server: HAProxy answers 503 to their requests. */
  get emptyBackends(): string[] {
    return Object.entries(this.backends)
      .filter(([, n]) => n === 0)
      .map(([name]) => name);
  }

  /**
   * 200 with "ok", or 503 with the reason, for /healthz. A backend with no servers is a real
   * state of the store (an app scaled to zero), so it stays 200, but the text names it.
   */
  health(): { ok: boolean; reason: string } {
    if (this.childAlive === false) return { ok: false, reason: 'haproxy is not running' };
    const [problem] = this.storeProblems.values();
    if (problem)
      return { ok: false, reason: `${STORE_PROBLEMS[problem.code] ?? 'store failing'} since ${new Date(problem.since).toISOString()}: ${problem.message}` };
    if (this.syncProblem) return { ok: false, reason: `last sync failed: ${this.syncProblem}` };
    if (this.lastSyncAt === undefined) return { ok: false, reason: 'no successful sync yet' };
    const empty = this.emptyBackends;
    if (empty.length > 0) return { ok: true, reason: `ok, but no servers in backend ${empty.join(', ')} (HAProxy answers 503 there)` };
    return { ok: true, reason: 'ok' };
  }

  /** The Prometheus text exposition of the counters and gauges. */
  metrics(): string {
    const c = this.counters;
    const lines: string[] = [];
    const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: Array<[string, number]>) => {
      lines.push(`# HELP occs_lb_${name} ${help}`, `# TYPE occs_lb_${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`occs_lb_${name}${labels} ${value}`);
    };
    metric('renders_total', 'counter', 'Renders of the templates.', [['', c.renders]]);
    metric('render_failures_total', 'counter', 'Renders that failed (template errors, refused values).', [['', c.renderFailures]]);
    metric('installs_total', 'counter', 'Configs installed (atomically) after passing the checks.', [['', c.installs]]);
    metric('install_failures_total', 'counter', 'Configs that could not be written (a full disk, a read-only directory); retried.', [['', c.installFailures]]);
    metric('check_failures_total', 'counter', 'Rendered configs haproxy -c rejected.', [['', c.checkFailures]]);
    metric('refused_total', 'counter', 'Store answers refused by --min-servers or --strict.', [['', c.refused]]);
    metric('reloads_total', 'counter', 'Verified HAProxy reloads.', [['', c.reloads]]);
    metric('reload_failures_total', 'counter', 'Reloads that failed (the previous config was put back).', [['', c.reloadFailures]]);
    metric('runtime_updates_total', 'counter', 'Changes applied through the runtime API, with no reload.', [['', c.runtimeUpdates]]);
    metric('runtime_fallbacks_total', 'counter', 'Changes the runtime API refused, applied by reload instead.', [['', c.runtimeFallbacks]]);
    metric('store_errors_total', 'counter', 'Failed reads of the key/value store.', [['', c.storeErrors]]);
    metric('unexpected_failures_total', 'counter', 'Failures nobody foresaw (a bug, or the system failing): see the log.', [['', c.unexpectedFailures]]);
    metric('signals_total', 'counter', 'SIGHUPs handled (each forces a re-read, render and reload).', [['', c.signals]]);
    metric('store_up', 'gauge', '1 when the last read of the store succeeded.', [['', this.storeProblems.size > 0 ? 0 : 1]]);
    metric(
      'last_sync_timestamp_seconds',
      'gauge',
      'When the store last confirmed the installed config (a change applied, or a read with nothing new), in Unix seconds; 0: never.',
      [['', this.lastSyncAt === undefined ? 0 : this.lastSyncAt / 1000]],
    );
    metric('build_info', 'gauge', 'Always 1; the labels say which occs-lb runs.', [[`{version="${packageVersion()}"}`, 1]]);
    metric(
      'backend_servers',
      'gauge',
      'Servers per backend in the installed config.',
      Object.entries(this.backends).map(([name, n]) => [`{backend="${name}"}`, n]),
    );
    metric('empty_backends', 'gauge', 'Backends of the installed config with no server (HAProxy answers 503 to their requests).', [
      ['', this.emptyBackends.length],
    ]);
    return `${lines.join('\n')}\n`;
  }
}
