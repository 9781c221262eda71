import { readFile, readlink } from 'node:fs/promises';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { reloadError, systemErrorCode } from '../errors.js';

/** Linux process facts, read from /proc: what reload verification needs without a socket. */

function stat(pid: number): { state: string; ppid: number; start: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so cut at the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // Field 22 of the line (the 20th after comm) is the start time, in clock ticks since boot.
    return { state: fields[0]!, ppid: Number(fields[1]), start: Number(fields[19]) };
  } catch {
    return undefined;
  }
}

/** A running process, told apart from a later one that got the same pid. */
export interface ProcessIdentity {
  pid: number;
  /** When it started, in clock ticks since boot (/proc/PID/stat). */
  start: number;
}

/** The identity of a running process (undefined when it is gone or a zombie). */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  const s = stat(pid);
  return s && s.state !== 'Z' && s.state !== 'X' ? { pid, start: s.start } : undefined;
}

/** Whether the very process `id` names still runs (not a later one with its pid). */
export function stillRunning(id: ProcessIdentity): boolean {
  return processIdentity(id.pid)?.start === id.start;
}

/** Running (a zombie counts as gone). */
export function processAlive(pid: number): boolean {
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
}

/** The real user id a process runs as (undefined when it cannot be read). */
export function processUid(pid: number): number | undefined {
  try {
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return uid === undefined ? undefined : Number(uid);
  } catch {
    return undefined;
  }
}

export function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The file a process runs (/proc/PID/exe): its device and inode, and its path. */
export function processExecutable(pid: number): { dev: number; ino: number; path: string } | undefined {
  try {
    const { dev, ino } = statSync(`/proc/${pid}/exe`);
    return { dev, ino, path: readlinkSync(`/proc/${pid}/exe`) };
  } catch {
    return undefined; // gone, or not ours to inspect
  }
}

/**
 * Whether process `pid` runs the same executable file as process `reference`: the same inode,
 * whatever path or mount it was started through, or (a package upgrade replaced the file since
 * it started) a deleted file that had the very path the reference runs.
 */
export function runsSameExecutable(pid: number, reference: number): boolean {
  const [it, ours] = [processExecutable(pid), processExecutable(reference)];
  if (!it || !ours) return false;
  return (it.dev === ours.dev && it.ino === ours.ino) || it.path === `${ours.path} (deleted)`;
}

export async function processArgs(pid: number): Promise<string[]> {
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return raw.split('\0').filter(Boolean);
}

/** A process's working directory (ours when it cannot be read). */
export async function processCwd(pid: number): Promise<string> {
  return readlink(`/proc/${pid}/cwd`).catch(() => process.cwd());
}

/** A path as the process sees it (relative paths are relative to its working directory). */
export async function processPath(pid: number, path: string): Promise<string> {
  const bare = path.replace(/^unix@/, '');
  return isAbsolute(bare) ? bare : resolve(await processCwd(pid), bare);
}

/** A process's environment (empty when it cannot be read). */
export async function processEnv(pid: number): Promise<Record<string, string>> {
  const raw = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
  const env: Record<string, string> = {};
  for (const entry of raw.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/**
 * Live children of a process, from the kernel's own list (/proc/PID/task/TID/children) when it
 * keeps one: a probe asks this every few seconds, and a walk of all of /proc grows with the host.
 */
export function childrenOf(pid: number): number[] {
  try {
    const listed = readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number),
    );
    return listed.filter(processAlive).sort((a, b) => a - b);
  } catch {
    return childPids(pid);
  }
}

/** Live children of a process. */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s?.ppid === pid && s.state !== 'Z' && s.state !== 'X') children.push(Number(entry));
  }
  return children.sort((a, b) => a - b);
}

/** The pids in a pid file; a missing or empty file is a reload error that says so. */
export async function readPidFile(path: string): Promise<number[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = systemErrorCode(error);
    throw reloadError('HAPROXY_NOT_RUNNING', `pid file ${path} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}`, {
      hint: 'is HAProxy running, started with -p that file?',
    });
  }
  const pids = text.split(/\s+/).filter(Boolean).map(Number);
  if (pids.length === 0 || pids.some((p) => !Number.isInteger(p) || p <= 0)) {
    throw reloadError('STALE_PID_FILE', `pid file ${path} holds no process id`, { hint: 'is HAProxy running, started with -p that file?' });
  }
  return pids;
}
