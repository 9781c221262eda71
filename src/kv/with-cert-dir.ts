import { watch } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { UNREADABLE } from '../tls/certs.js';
import { readCertDir } from '../tls/cert-dir.js';
import { Backoff, sleep } from '../util/backoff.js';
import { reporter, toSnapshot } from './keys.js';
import type { KvPair, KvSnapshot, KvSource, KvWatchListener } from './source.js';

/** Events of one change (a Secret's symlink swap, a copy) come together: read once they have been quiet this long. */
const SETTLE_MS = 50;
/** A safety net under file-system events, and how a directory that appears later is found. */
const REREAD_MS = 30_000;

/**
 * The bundles of --cert-dir as pairs beside the store's: `<dir>/<name>` holds a bundle's text, and
 * a file that could not be read holds UNREADABLE and why (src/tls/certs.ts reports it, named).
 * A directory that cannot be listed (gone, say, or being replaced) is one such entry, and the
 * bundles it gave `before` keep serving, as a store that cannot be read keeps its last answer.
 */
export async function certDirPairs(dir: string, before: readonly KvPair[] = []): Promise<KvPair[]> {
  try {
    const { bundles, problems } = await readCertDir(dir);
    return [
      ...bundles.map((b) => ({ key: `${dir}/${b.name}`, value: b.text.startsWith(UNREADABLE) ? `${UNREADABLE}${b.from} is not a PEM bundle` : b.text })),
      ...problems.map((p) => ({ key: p.from.startsWith(`${dir}/`) ? p.from : `${dir}/`, value: `${UNREADABLE}${p.reason}` })),
    ];
  } catch (error) {
    const kept = before.filter((p) => !p.value.startsWith(UNREADABLE));
    const more = kept.length > 0 ? '; the certificates read from it before keep serving' : '';
    return [...kept, { key: `${dir}/`, value: `${UNREADABLE}${(error as Error).message}${more}` }];
  }
}

/**
 * A store with --cert-dir beside it: every read and every snapshot holds both, so a certificate
 * mounted or rotated in the directory (a Kubernetes Secret, cert-manager) goes through the same
 * pipeline as a store change. The store's health, endpoints and description are its own.
 */
export class WithCertDir implements KvSource {
  constructor(
    private readonly store: KvSource,
    private readonly dir: string,
  ) {}

  get description(): string {
    return this.store.description;
  }

  get endpoints(): KvSource['endpoints'] {
    return this.store.endpoints;
  }

  get lastContactMs(): number | undefined {
    return this.store.lastContactMs;
  }

  async read(prefixes: readonly string[], signal?: AbortSignal): Promise<KvSnapshot> {
    const [store, dir] = await Promise.all([this.store.read(prefixes, signal), certDirPairs(this.dir)]);
    return { ...toSnapshot([...store.pairs, ...dir]), ...(store.notices && { notices: store.notices }), ...(store.siblings && { siblings: store.siblings }) };
  }

  async watch(prefixes: readonly string[], listener: KvWatchListener, signal: AbortSignal): Promise<void> {
    let store: KvSnapshot | undefined;
    let dir = await certDirPairs(this.dir);
    const report = reporter(
      listener,
      () => store && [...store.pairs, ...dir],
      () => store,
    );
    let timer: NodeJS.Timeout | undefined;
    let reading = Promise.resolve();
    const reread = () => {
      // One read at a time, in order: an older read never lands after a newer one.
      reading = reading.then(async () => {
        dir = await certDirPairs(this.dir, dir);
        if (!signal.aborted) report();
      });
    };
    const settle = () => {
      clearTimeout(timer);
      timer = setTimeout(reread, SETTLE_MS);
    };
    const safety = setInterval(reread, REREAD_MS);
    const inner = { ...listener, snapshot: (s: KvSnapshot) => ((store = s), report()) };
    try {
      await Promise.all([this.store.watch(prefixes, inner, signal), this.follow(settle, signal)]);
    } finally {
      clearTimeout(timer);
      clearInterval(safety);
    }
  }

  /**
   * Calls `changed` on every event in the directory (and its subdirectories); a directory that
   * cannot be watched is tried again, less and less often. A watch follows the directory it began
   * on, so one renamed away, removed, or made again is seen in its parent's events, and watched anew.
   */
  private async follow(changed: () => void, signal: AbortSignal): Promise<void> {
    let current = new AbortController();
    const replaced = this.followParent(() => {
      changed();
      current.abort();
    }, signal);
    const backoff = new Backoff(1000, REREAD_MS);
    while (!signal.aborted) {
      current = new AbortController();
      const either = AbortSignal.any([signal, current.signal]);
      try {
        for await (const _event of watch(this.dir, { signal: either, recursive: true })) {
          backoff.reset();
          changed();
        }
      } catch {
        // The directory is missing, cannot be watched, or was replaced: looked for again below.
      }
      if (signal.aborted) break;
      if (current.signal.aborted) continue;
      await sleep(backoff.next(), either).catch(() => {});
      changed();
    }
    await replaced;
  }

  /** Calls `replaced` whenever the parent directory's events name the directory (best effort: a parent that cannot be watched is tried again). */
  private async followParent(replaced: () => void, signal: AbortSignal): Promise<void> {
    const name = basename(this.dir);
    while (!signal.aborted) {
      try {
        for await (const event of watch(dirname(this.dir), { signal })) if (event.filename === name) replaced();
      } catch {
        // The parent is gone too, or cannot be watched.
      }
      await sleep(REREAD_MS, signal).catch(() => {});
    }
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
