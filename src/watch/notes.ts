import type { Logger } from '../log.js';
import type { Rendering } from '../plan/plan.js';
import { certExpiryLine } from '../tls/certs.js';
import type { WatchState } from './state.js';
import { emptyPrefixLine, entryFields, missingDefaultLine, renamedLine, skippedLine } from '../plan/rules.js';

/**
 * What watch tells about the renderings it installs, each only when it changes (not on every
 * render of an unchanged store): entries skipped or renamed, prefixes that hold no keys, and
 * backends left with no servers (the default, --min-servers 0, installs such an answer and
 * HAProxy then answers 503 there).
 */
export class RenderingNotes {
  private entries = '';
  /** The certificates warned of, by name and expiry: each once (a renewed one has another expiry). */
  private readonly warned = new Set<string>();
  private empty?: { backends: string[]; prefixes: string };

  constructor(
    private readonly log: Logger,
    /** The store as logs name it (SIGHUP may name another). */
    public store: string,
  ) {}

  /** Skipped and renamed entries, told once per change of their set. */
  entriesOf(rendering: Rendering): void {
    const missing = missingDefaultLine(rendering.resources);
    const tls = rendering.resources.flatMap((r) => r.tls?.notes ?? []);
    const note = JSON.stringify([rendering.notices, rendering.skipped, rendering.renamed, missing, tls]);
    if (note === this.entries) return;
    this.entries = note;
    if (missing) this.log.warn(missing);
    for (const line of tls) this.log.warn(line);
    for (const n of rendering.notices) this.log.warn(n.message, { key: n.key });
    for (const s of rendering.skipped) this.log.warn(skippedLine(s), entryFields(s));
    for (const r of rendering.renamed) this.log.warn(renamedLine(r), { key: r.key, name: r.to });
  }

  /** Certificates served that expire within the warning window (--cert-warn), each told once, and once more when it has expired. */
  expiryOf(state: WatchState, now = Date.now()): void {
    for (const cert of state.expiringCerts(now)) {
      const key = `${cert.name} ${cert.notAfter} ${cert.notAfter <= now}`;
      if (this.warned.has(key)) continue;
      this.warned.add(key);
      this.log.warn(certExpiryLine(cert, now), { certificate: cert.name, notAfter: new Date(cert.notAfter).toISOString() });
    }
  }

  /** Prefixes that hold no keys and backends with no servers, told when that changes. */
  emptinessOf(rendering: Rendering): void {
    const backends = Object.entries(rendering.backends)
      .filter(([, n]) => n === 0)
      .map(([name]) => name);
    const prefixes = JSON.stringify(rendering.emptyPrefixes);
    const before = this.empty;
    if (before && before.prefixes === prefixes && before.backends.join() === backends.join()) return;
    this.empty = { backends, prefixes };
    for (const empty of rendering.emptyPrefixes) this.log.warn(emptyPrefixLine(this.store, empty), { prefix: empty.prefix });
    if (backends.length > 0) {
      this.log.warn(
        `no servers in backend ${backends.join(', ')}: HAProxy answers 503 to its requests until the store holds some (--min-servers refuses such answers)`,
        { backends },
      );
    } else if (before && before.backends.length > 0) this.log.info('every backend has servers again');
  }
}
