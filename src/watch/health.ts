import { printable } from '../log.js';
import { shown } from '../values/shown.js';
import { certExpiryLine, daysLeft } from '../tls/certs.js';
import type { WatchState } from './state.js';

/**
 * The three probes of the status listener, as Kubernetes names them, judged from the watch's
 * state. Pure: the caller passes the time and whether HAProxy runs.
 *
 * - liveness (/livez): the loop is not stuck. Restarting watch would not fix a store outage or a
 *   bad template, so only a wedged loop fails it.
 * - readiness (/readyz): HAProxy runs and serves a config that passed `haproxy -c`. A store
 *   outage or a refused answer leaves HAProxy serving the last good config, so they do not fail
 *   it: every replica failing together would empty the Service, the outage a probe must not make.
 * - health (/healthz): everything, for people and alerts.
 */

export interface Verdict {
  ok: boolean;
  reason: string;
}

/** How long a sync, or the store's watch without a word, may take before watch counts as wedged. */
export interface Deadlines {
  syncMs: number;
  storeSilenceMs: number;
}

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

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

export function liveness(state: WatchState, now: number, deadlines: Deadlines): Verdict {
  if (state.syncSince !== undefined && now - state.syncSince > deadlines.syncMs) {
    return { ok: false, reason: `wedged: one change has been under way for ${seconds(now - state.syncSince)}` };
  }
  if (now - state.storeHeardAt > deadlines.storeSilenceMs) {
    return { ok: false, reason: `wedged: the store's watch has reported nothing for ${seconds(now - state.storeHeardAt)}` };
  }
  return { ok: true, reason: 'alive' };
}

/** `running`: whether HAProxy runs (undefined: the way watch reaches it cannot tell). */
export function readiness(state: WatchState, running: boolean | undefined): Verdict {
  if (state.shuttingDownSince !== undefined) return { ok: false, reason: 'shutting down' };
  if (!state.serving) return { ok: false, reason: 'no checked config installed yet' };
  if (state.childAlive === false || running === false) return { ok: false, reason: 'haproxy is not running' };
  const trouble = health(state);
  return { ok: true, reason: trouble.ok ? 'ready' : `ready: HAProxy serves the last good config (${trouble.reason})` };
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/**
 * 200 with "ok", or 503 with the reason. A backend with no servers is a real state of the store
 * (an app scaled to zero), and an entry skipped as invalid leaves the rest served, so both stay
 * 200, but the text names them, and the last drift HAProxy was set back from.
 */
export function health(state: WatchState): Verdict {
  if (state.childAlive === false) return { ok: false, reason: 'haproxy is not running' };
  const [problem] = state.storeProblems.values();
  if (problem) {
    return { ok: false, reason: `${STORE_PROBLEMS[problem.code] ?? 'store failing'} since ${new Date(problem.since).toISOString()}: ${problem.message}` };
  }
  if (state.syncProblem) return { ok: false, reason: `last sync failed: ${state.syncProblem}` };
  if (state.lastSyncAt === undefined) return { ok: false, reason: 'no successful sync yet' };
  const notes: string[] = [];
  const empty = state.emptyBackends;
  if (empty.length > 0) notes.push(`no servers in backend ${empty.join(', ')} (HAProxy answers 503 there)`);
  if (state.skipped.length > 0) {
    // Named as logs name them: a key of 70,000 characters, or one with a bidirectional override, cannot flood or fake the answer.
    const named = state.skipped.slice(0, 5).map((s) => printable(shown(s.key)));
    const more = state.skipped.length > named.length ? ` and ${state.skipped.length - named.length} more` : '';
    notes.push(`${state.skipped.length} invalid ${state.skipped.length === 1 ? 'entry' : 'entries'} skipped: ${named.join(', ')}${more}`);
  }
  const expiring = state.expiringCerts(Date.now());
  if (expiring.length > 0) notes.push(expiring.map((c) => certExpiryLine(c, Date.now())).join('; '));
  const drift = state.drift
    ? `; HAProxy last drifted at ${iso(state.drift.at)} (${state.drift.found.slice(0, 3).map(printable).join('; ')}), set right by ${state.drift.how}`
    : '';
  return { ok: true, reason: `${notes.length > 0 ? `ok, but ${notes.join('; ')}` : 'ok'}${drift}` };
}

/** /healthz?format=json: the same judgement, and what it was made of. */
export function healthDocument(state: WatchState, running: boolean | undefined, now: number, deadlines: Deadlines): Record<string, unknown> {
  const verdict = health(state);
  const ready = readiness(state, running);
  const live = liveness(state, now, deadlines);
  const expiring = state.expiringCerts(now);
  const degraded = state.emptyBackends.length > 0 || state.skipped.length > 0 || expiring.length > 0;
  return {
    status: verdict.ok ? (degraded ? 'degraded' : 'ok') : 'failing',
    reason: verdict.reason,
    live: live.ok,
    ready: ready.ok,
    readyReason: ready.reason,
    haproxy: { running: state.childAlive === false ? false : (running ?? null), servesCheckedConfig: state.serving },
    store: {
      up: state.storeProblems.size === 0,
      problems: [...state.storeProblems].map(([scope, p]) => ({ scope, code: p.code, message: p.message, since: iso(p.since) })),
      endpoints: state.followed?.endpoints ? { ...state.followed.endpoints.health, failovers: state.counters.storeFailovers } : null,
      lastContactMs: state.followed?.lastContactMs ?? null,
    },
    lastSync: iso(state.lastSyncAt),
    syncProblem: state.syncProblem ?? null,
    backends: state.backends,
    emptyBackends: state.emptyBackends,
    skipped: state.skipped.map((s) => ({ key: shown(s.key), kind: s.kind, reason: s.reason })),
    drift: state.drift
      ? {
          at: iso(state.drift.at),
          found: state.drift.found,
          differences: state.drift.differences,
          how: state.drift.how,
          corrections: state.counters.driftRuntime + state.counters.driftReload,
        }
      : null,
    tls: {
      certificates: state.certs.map((c) => ({
        name: c.name,
        names: c.names,
        notAfter: iso(c.notAfter),
        daysLeft: daysLeft(c, now),
        serial: c.serial,
        from: shown(c.from),
      })),
      expiring: expiring.map((c) => c.name),
    },
    shuttingDown: state.shuttingDownSince !== undefined,
  };
}
