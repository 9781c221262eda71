import type { StoreEndpoints } from '../kv/endpoints.js';
import type { SkippedEntry } from '../values/servers.js';
import type { CertInfo } from '../tls/certs.js';

/**
 * What `watch` has done and how it is doing: plain data the loop updates and the status
 * listener reads (health.ts judges it for the probes, metrics.ts renders it for Prometheus).
 */
export class WatchState {
  readonly counters = {
    renders: 0,
    patchedRenders: 0,
    renderFailures: 0,
    installs: 0,
    installFailures: 0,
    checkFailures: 0,
    reloads: 0,
    reloadFailures: 0,
    runtimeUpdates: 0,
    runtimeFallbacks: 0,
    storeErrors: 0,
    storeFailovers: 0,
    refused: 0,
    unexpectedFailures: 0,
    signals: 0,
    driftVerifications: 0,
    driftRuntime: 0,
    driftReload: 0,
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
  /** HAProxy serves a config that passed `haproxy -c`: set by the first sync that installed one and started or reloaded HAProxy. */
  serving = false;
  /** When the sync under way started (undefined: none is). */
  syncSince?: number;
  /** The store followed as /healthz and the metrics show it: its endpoints (a cluster), and how far behind its leader the server in use is (Consul). */
  followed?: { readonly endpoints?: StoreEndpoints; readonly lastContactMs?: number };
  /** When the store's watch last reported anything: a change, a read with nothing new, or an error. */
  storeHeardAt = Date.now();
  /** When SIGTERM started the shutdown delay (undefined: not shutting down). */
  shuttingDownSince?: number;
  /** The entries the latest rendering skipped as invalid, and the kind of each (its metric label). */
  skipped: ReadonlyArray<SkippedEntry & { kind: string }> = [];
  /** HTTPS: the certificates the installed config serves (never their keys), and how early their expiry is warned of. */
  certs: readonly CertInfo[] = [];
  certWarnMs = 14 * 86_400_000;

  /** The certificates served that expire within the warning window (or have expired), soonest first. */
  expiringCerts(now: number): CertInfo[] {
    return this.certs.filter((c) => c.notAfter - now < this.certWarnMs).sort((a, b) => a.notAfter - b.notAfter);
  }

  /** The last drift found in HAProxy and how it was set right (undefined: none yet): the first differences, and how many there were. */
  drift?: { at: number; found: readonly string[]; differences: number; how: 'runtime' | 'reload' };

  driftCorrected(found: readonly string[], differences: number, how: 'runtime' | 'reload'): void {
    this.drift = { at: Date.now(), found, differences, how };
    this.counters[how === 'runtime' ? 'driftRuntime' : 'driftReload'] += 1;
  }

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
}
