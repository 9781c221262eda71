import type { Logger } from '../log.js';
import type { Rendering } from '../plan/plan.js';
import { emptyPrefixLine, entryFields, missingDefaultLine, renamedLine, skippedLine } from '../plan/rules.js';

/**
 * What watch tells about the renderings it installs, each only when it changes (not on every
 * render of an unchanged store): entries skipped or renamed, prefixes that hold no keys, and
 * backends left with no servers (the default, --min-servers 0, installs such an answer and
 * HAProxy then answers 503 there).
 */
export class RenderingNotes {
  private entries = '';
  private empty?: { backends: string[]; prefixes: string };

  constructor(
    private readonly log: Logger,
    /** The store as logs name it (SIGHUP may name another). */
    public store: string,
  ) {}

  /** Skipped and renamed entries, told once per change of their set. */
  entriesOf(rendering: Rendering): void {
    const missing = missingDefaultLine(rendering.resources);
    const note = JSON.stringify([rendering.skipped, rendering.renamed, missing]);
    if (note === this.entries) return;
    this.entries = note;
    if (missing) this.log.warn(missing);
    for (const s of rendering.skipped) this.log.warn(skippedLine(s), entryFields(s));
    for (const r of rendering.renamed) this.log.warn(renamedLine(r), { key: r.key, name: r.to });
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
