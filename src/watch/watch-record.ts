import { readFile, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { usageError } from '../errors.js';
import { processIdentity, stillRunning, type ProcessIdentity } from '../haproxy/process.js';
import type { Logger } from '../log.js';
import { installError } from '../pipeline/install-error.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { pollUntil } from '../util/poll.js';

interface RecordFile {
  /** The watch that owns the config. */
  watch: ProcessIdentity;
  /** The HAProxy masters it started, and any an earlier watch left that are not stopped yet. */
  haproxy: ProcessIdentity[];
}

/** `.haproxy.cfg.occs-lb.json` beside the config HAProxy runs. */
export function recordPath(config: string): string {
  return join(dirname(config), `.${basename(config)}.occs-lb.json`);
}

/**
 * Which watch looks after a config, and which HAProxy processes it started: a small file beside
 * the config. A watch killed with SIGKILL cannot stop its HAProxy; the next one reads this file
 * and stops what was left (the process's start time guards against a reused pid). It also keeps
 * two watches from driving the same config.
 */
export class WatchRecord {
  private readonly me: ProcessIdentity;
  private haproxy: ProcessIdentity[] = [];

  private constructor(
    readonly path: string,
    /** HAProxy masters an earlier watch left running. */
    private leftovers: ProcessIdentity[],
    private readonly log: Logger,
  ) {
    this.me = processIdentity(process.pid) ?? { pid: process.pid, start: 0 };
  }

  /**
   * Reads the record of `config`. Another watch that still runs is a usage error (exit 2); what
   * a dead one left is remembered, to be stopped once this watch's HAProxy serves.
   */
  static async claim(config: string, log: Logger): Promise<WatchRecord> {
    const path = recordPath(config);
    const previous = await readRecord(path);
    if (previous && previous.watch.pid !== process.pid && stillRunning(previous.watch)) {
      throw usageError(`another occs-lb watch (pid ${previous.watch.pid}) already looks after ${config}`, {
        hint: `stop it first, or give this watch another config to install (--out); ${path} records it`,
      });
    }
    return new WatchRecord(path, (previous?.haproxy ?? []).filter(stillRunning), log);
  }

  /** HAProxy processes an earlier watch left running (alive now). */
  get left(): ProcessIdentity[] {
    return this.leftovers.filter(stillRunning);
  }

  /**
   * Writes that this watch looks after the config (and which HAProxy it runs, once it does).
   * Never fails: without the record, watch still works, only a later one could not clean up
   * after it (a warning says so).
   */
  async save(haproxyPid?: number): Promise<void> {
    const ours = haproxyPid === undefined ? undefined : processIdentity(haproxyPid);
    if (ours) this.haproxy = [ours];
    const record: RecordFile = { watch: this.me, haproxy: [...this.left, ...this.haproxy] };
    try {
      await writeFileAtomic(this.path, `${JSON.stringify(record)}\n`);
    } catch (error) {
      const why = installError([this.path], error);
      this.log.warn(`${why.message}: if this watch is killed, the next one cannot stop the HAProxy it left`, { code: why.code });
    }
  }

  /**
   * Stops the HAProxy processes an earlier watch left: SIGUSR1 (soft stop: listeners close,
   * requests in flight finish), SIGTERM after `timeoutMs`, SIGKILL 2 s later. Resolves when they
   * are gone; the record then no longer names them.
   */
  async stopLeftovers(timeoutMs: number, log: Logger): Promise<void> {
    const left = this.left;
    if (left.length === 0) return;
    for (const id of left) log.warn(`stopping haproxy (pid ${id.pid}), left running by an earlier watch that did not stop it`, { pid: id.pid });
    for (const [signal, wait] of [['SIGUSR1', timeoutMs], ['SIGTERM', 2000], ['SIGKILL', 2000]] as const) {
      const running = left.filter(stillRunning);
      for (const id of running) signalProcess(id.pid, signal);
      if (await pollUntil(() => (left.some(stillRunning) ? undefined : true), Date.now() + wait)) break;
    }
    this.leftovers = this.left;
    await this.save();
  }

  /** A clean stop: the record goes (nothing is left to stop). */
  async remove(): Promise<void> {
    await unlink(this.path).catch(() => {});
  }
}

async function readRecord(path: string): Promise<RecordFile | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<RecordFile>;
    const valid = (id: unknown): id is ProcessIdentity =>
      typeof id === 'object' && id !== null && Number.isInteger((id as ProcessIdentity).pid) && (id as ProcessIdentity).pid >= 1 && Number.isFinite((id as ProcessIdentity).start);
    if (!valid(parsed.watch)) return undefined;
    // Never pid 1 or ourselves, whatever the file says.
    const haproxy = Array.isArray(parsed.haproxy) ? parsed.haproxy.filter((id) => valid(id) && id.pid > 1 && id.pid !== process.pid) : [];
    return { watch: parsed.watch, haproxy };
  } catch {
    return undefined; // none, or unreadable: nothing to take over
  }
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone meanwhile
  }
}
