import { readFileSync } from 'node:fs';
import { lstat, readFile, realpath, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { usageError } from '../errors.js';
import { processExecutable, processIdentity, processUid, runsSameExecutable, stillRunning, type ProcessIdentity } from '../haproxy/process.js';
import type { Logger } from '../log.js';
import { installError } from '../install/install-error.js';
import { removeStaleTemps, writeFileAtomic } from '../util/atomic-write.js';
import { pollUntil } from '../util/poll.js';
import { lockConfig, type ConfigLock } from './config-lock.js';

/** A process the record names. (Records of earlier versions also hold its `comm`: not believed.) */
type Recorded = ProcessIdentity;

interface RecordFile {
  /** The boot the pids and start times belong to (they mean nothing after a reboot). */
  boot: string;
  /** The watch that looks after the config. */
  watch: ProcessIdentity;
  /** The HAProxy masters it started, and any an earlier watch left that are not stopped yet. */
  haproxy: Recorded[];
}

/** `.haproxy.cfg.occs-lb.json` beside the config HAProxy runs. */
export function recordPath(config: string): string {
  return join(dirname(config), `.${basename(config)}.occs-lb.json`);
}

const bootId = (): string => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
};

/**
 * Which watch looks after a config, and which HAProxy processes it started: a small file beside
 * the config. A watch killed with SIGKILL cannot stop its HAProxy; the next one reads this file
 * and stops what was left. What it signals must be the very process recorded (same boot, same
 * start time, so a reused pid is never hit), running the HAProxy executable this watch runs, run
 * by the same user, from a record this user wrote, whose watch is dead. A lock (config-lock.ts)
 * keeps two watches from driving the same config.
 */
export class WatchRecord {
  private readonly me: ProcessIdentity;
  private readonly boot = bootId();
  private haproxy: Recorded[] = [];

  private constructor(
    readonly path: string,
    /** HAProxy masters an earlier watch left running. */
    private leftovers: Recorded[],
    private readonly lock: ConfigLock | undefined,
    private readonly log: Logger,
  ) {
    this.me = processIdentity(process.pid) ?? { pid: process.pid, start: 0 };
  }

  /**
   * Takes the lock of `config` and reads its record. Another watch that holds the lock, or that
   * the record names and still runs, is a usage error (exit 2); what a dead one left is
   * remembered, to be stopped once this watch's HAProxy serves. With `check`, only checks
   * (watch --once): no lock is kept.
   */
  static async claim(config: string, log: Logger, { check = false } = {}): Promise<WatchRecord> {
    const real = join(await realpath(dirname(resolve(config))).catch(() => dirname(resolve(config))), basename(config));
    const path = recordPath(real);
    const lock = await lockConfig(real, log);
    const previous = await readRecord(path, log);
    const sameBoot = previous?.boot === bootId();
    // The lock may not reach the recorded watch (the socket lock of another network namespace, a
    // lock file someone removed); a recorded watch that still runs looks after the config all the
    // same, and the HAProxy it runs is not ours to stop.
    const me = processIdentity(process.pid);
    const recordedLives = sameBoot && stillRunning(previous.watch) && !(previous.watch.pid === me?.pid && previous.watch.start === me.start);
    if (lock === 'taken' || recordedLives) {
      if (lock !== 'taken') lock?.release();
      throw usageError(`another occs-lb watch${previous ? ` (pid ${previous.watch.pid})` : ''} already looks after ${config}`, {
        hint: `stop it first, or give this watch another config to install (--out)${lock === 'taken' ? '' : `; ${path} names it, and it still runs`}`,
      });
    }
    if (check) lock?.release();
    const left = sameBoot ? previous.haproxy.filter(stillRunning) : [];
    return new WatchRecord(path, left, check ? undefined : lock, log);
  }

  /** HAProxy processes an earlier watch left running (alive now). */
  get left(): Recorded[] {
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
    await this.write([...this.left, ...this.haproxy]);
  }

  private async write(haproxy: Recorded[]): Promise<void> {
    const record: RecordFile = { boot: this.boot, watch: this.me, haproxy };
    try {
      await removeStaleTemps(this.path);
      await writeFileAtomic(this.path, `${JSON.stringify(record)}\n`);
    } catch (error) {
      const why = installError(this.path, error);
      this.log.warn(`${why.message}: if this watch is killed, the next one cannot stop the HAProxy it left`, { code: why.code });
    }
  }

  /**
   * Stops the HAProxy processes an earlier watch left: SIGUSR1 (soft stop: listeners close,
   * requests in flight finish), SIGTERM after `timeoutMs`, SIGKILL 2 s later. `ours` is this
   * watch's own HAProxy: a process that does not run the same executable file (whatever the
   * record says it was), or is not run by this user, is left alone. Resolves when they are gone;
   * the record then no longer names them.
   */
  async stopLeftovers(timeoutMs: number, ours: number | undefined): Promise<void> {
    const left = this.left.filter((id) => {
      const why = notLeftHaproxy(id.pid, ours);
      if (why) this.log.warn(`not stopping pid ${id.pid}: it is no longer the HAProxy an earlier watch recorded (${why})`, { pid: id.pid });
      return !why;
    });
    this.leftovers = left;
    if (left.length === 0) return;
    for (const id of left) this.log.warn(`stopping haproxy (pid ${id.pid}), left running by an earlier watch that did not stop it`, { pid: id.pid });
    for (const [signal, wait] of [
      ['SIGUSR1', timeoutMs],
      ['SIGTERM', 2000],
      ['SIGKILL', 2000],
    ] as const) {
      for (const id of left.filter(stillRunning)) signalProcess(id.pid, signal);
      if (await pollUntil(() => (left.some(stillRunning) ? undefined : true), Date.now() + wait)) break;
    }
    await this.write([...this.left, ...this.haproxy]);
  }

  /**
   * A clean stop: the lock goes, and the record with it, unless it still names HAProxy processes
   * an earlier watch left (a watch without --exec does not stop them: one may be the HAProxy it
   * reloads); those stay recorded for the next watch.
   */
  async remove(): Promise<void> {
    const left = this.left;
    if (left.length > 0) await this.write(left);
    else await unlink(this.path).catch(() => {});
    this.lock?.release();
  }
}

async function readRecord(path: string, log: Logger): Promise<RecordFile | undefined> {
  try {
    const info = await lstat(path);
    // Only a record this user wrote is believed: it says which processes to signal.
    if (!info.isFile() || (process.getuid && info.uid !== process.getuid())) {
      log.warn(`ignoring ${path}: it is not a file written by this user`);
      return undefined;
    }
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<RecordFile>;
    const valid = (id: unknown): id is Recorded =>
      typeof id === 'object' && id !== null && Number.isInteger((id as Recorded).pid) && (id as Recorded).pid >= 1 && Number.isFinite((id as Recorded).start);
    if (!valid(parsed.watch) || typeof parsed.boot !== 'string') return undefined;
    // Never pid 1 or ourselves, whatever the file says; only identities are kept (no `comm`).
    const haproxy = Array.isArray(parsed.haproxy) ? parsed.haproxy.filter((id) => valid(id) && id.pid > 1 && id.pid !== process.pid) : [];
    return { boot: parsed.boot, watch: parsed.watch, haproxy: haproxy.map(({ pid, start }) => ({ pid, start })) };
  } catch {
    return undefined; // none, or unreadable: nothing to take over
  }
}

/** Why a recorded process is not an HAProxy to stop, or undefined when it is one. `ours`: this watch's HAProxy. */
function notLeftHaproxy(pid: number, ours: number | undefined): string | undefined {
  if (ours === undefined) return 'this watch runs no HAProxy to compare it with';
  if (pid === ours || pid === process.pid) return 'it is this watch or its own HAProxy';
  const uid = process.getuid?.();
  if (uid !== undefined && processUid(pid) !== uid) return 'it runs as another user';
  if (runsSameExecutable(pid, ours)) return undefined;
  return `it runs ${processExecutable(pid)?.path ?? 'a program that cannot be read'}, not ${processExecutable(ours)?.path ?? 'the HAProxy of this watch'}`;
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone meanwhile
  }
}
