import { spawnSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import net from 'node:net';
import { basename, dirname, join } from 'node:path';
import { systemErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { childEnv } from '../util/run.js';

/** A lock this process holds until `release`, or until it dies, however it dies. */
export interface ConfigLock {
  release(): void;
}

/** `.haproxy.cfg.occs-lb.lock` beside the config. It stays there: it is empty and never goes stale. */
export function lockPath(config: string): string {
  return join(dirname(config), `.${basename(config)}.occs-lb.lock`);
}

/**
 * Takes the lock of a config (`real`: its resolved path) for as long as this process lives:
 * 'taken' when another process holds it; undefined when no lock can be had here at all.
 *
 * The lock is flock(2) on the lock file beside the config. It belongs to the file (its inode), so
 * it holds wherever that file system is shared: across network, mount and pid namespaces, bind
 * mounts, containers sharing a volume. Node has no flock, so util-linux's `flock` takes it on our
 * open file as its fd 3 and exits; the lock stays with our descriptor, which the kernel closes
 * when watch dies (SIGKILL included). Node opens files close-on-exec, so HAProxy does not
 * inherit it. Without `flock`, an abstract socket does the job within one network namespace.
 */
export async function lockConfig(real: string, log: Logger): Promise<ConfigLock | 'taken' | undefined> {
  const locked = flockFile(lockPath(real));
  if (locked === 'taken' || !('failed' in locked)) return locked;
  log.warn(`${locked.failed}: the lock that keeps a second watch off ${real} holds only within this network namespace`);
  return lockAbstractSocket(real).catch(() => undefined); // no abstract sockets either: go without
}

/** flock on `path`, or why it could not be had. */
function flockFile(path: string): ConfigLock | 'taken' | { failed: string } {
  let fd: number;
  try {
    // Read-only is enough for flock; O_NOFOLLOW: a symlink planted beside the config is not followed.
    fd = openSync(path, constants.O_RDONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
  } catch (error) {
    return { failed: `${path} cannot be opened (${systemErrorCode(error) ?? String(error)})` };
  }
  const run = spawnSync('flock', ['-n', '3'], { stdio: ['ignore', 'ignore', 'pipe', fd], encoding: 'utf8', timeout: 5000, env: childEnv(process.env) });
  if (run.status === 0) return heldBy(fd);
  closeSync(fd);
  // A conflict is a silent exit 1 (util-linux and busybox alike, hence -n, which both know); anything else says why on stderr.
  if (run.status === 1 && !run.stderr.trim()) return 'taken';
  const code = systemErrorCode(run.error);
  if (code === 'ENOENT') return { failed: 'flock (util-linux) is not on PATH' };
  return { failed: `flock could not lock ${path} (${code ?? (run.stderr.trim() || `exit code ${run.status}`)})` };
}

function heldBy(fd: number): ConfigLock {
  let open = true;
  return {
    release: () => {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** FNV-1a, 32 bits twice: a short, stable name for a path (node:crypto costs start-up time). */
function pathHash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    a = Math.imul(a ^ text.charCodeAt(i), 0x01000193) >>> 0;
    b = Math.imul(b ^ text.charCodeAt(text.length - 1 - i), 0x01000193) >>> 0;
  }
  return `${a.toString(16)}${b.toString(16)}`;
}

/**
 * A listening socket in Linux's abstract namespace, named by the config's path, which the kernel
 * releases when the process dies. It is seen only within one network namespace and one path.
 */
function lockAbstractSocket(real: string): Promise<ConfigLock | 'taken'> {
  return new Promise((resolvePromise, reject) => {
    const server = net.createServer((socket) => socket.destroy());
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolvePromise('taken') : reject(error)));
    server.listen(`\0occs-lb-watch/${pathHash(real)}`, () => {
      server.unref();
      resolvePromise({ release: () => server.close() });
    });
  });
}
