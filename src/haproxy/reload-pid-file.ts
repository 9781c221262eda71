import { readFileSync, realpathSync } from 'node:fs';
import { OccsError, reloadError } from '../errors.js';
import { maskEcho } from '../util/redact.js';
import { runCommand } from '../util/run.js';
import { exposedListenersSocket, parseSections } from './config-sections.js';
import { processAlive, processArgs, processCwd, processEnv, processName, processPath, readPidFile } from './process.js';
import { masterSocketArgument } from './master-cli.js';
import { reloadMasterWorker } from './reload-master.js';

export interface PidFileReload {
  mode: 'master-worker' | 'classic';
  before: number[];
  after: number[];
}

interface PidFileOptions {
  binary?: string;
  config: string;
  timeoutMs: number;
}

/** Whether a live process is an HAProxy: its name, or the same executable as --haproxy. */
function isHaproxy(pid: number, binary: string | undefined): boolean {
  if (processName(pid)?.startsWith('haproxy')) return true;
  try {
    return binary !== undefined && realpathSync(`/proc/${pid}/exe`) === realpathSync(binary);
  } catch {
    return false;
  }
}

/** The live HAProxy processes a pid file names, or exit 6 for a stale file. */
export async function runningFromPidFile(pidFile: string, binary: string | undefined): Promise<number[]> {
  const pids = await readPidFile(pidFile);
  const live = pids.filter((pid) => processAlive(pid) && isHaproxy(pid, binary));
  if (live.length === 0) {
    throw reloadError('STALE_PID_FILE', `pid file ${pidFile} names ${pids.join(', ')}, but no such HAProxy process is running (stale pid file)`, {
      hint: 'start HAProxy, or fix --pid-file',
    });
  }
  return live;
}

/**
 * Reloads the HAProxy a pid file names. A master-worker master (started with -W/-Ws, which
 * leaves HAPROXY_MWORKER in its environment) gets SIGUSR2, verified over its master socket when
 * it has one (-S), else by a new child process. A classic daemon is replaced by a new
 * `haproxy -D … -sf OLD` in the old one's working directory (with `-x` when the config hands
 * listeners over a stats socket); that exits non-zero when it refuses the config.
 */
export async function reloadViaPidFile(pidFile: string, options: PidFileOptions): Promise<PidFileReload> {
  const running = await runningFromPidFile(pidFile, options.binary);
  const master = running[0]!;
  const args = await processArgs(master);
  const masterWorker = args.includes('-W') || args.includes('-Ws') || (await processEnv(master)).HAPROXY_MWORKER !== undefined;
  if (!masterWorker) return reloadClassic(pidFile, running, options);

  const spec = masterSocketArgument(args);
  const socket = spec ? await processPath(master, spec) : undefined;
  return { mode: 'master-worker', ...(await reloadMasterWorker(master, socket, options.timeoutMs)) };
}

async function reloadClassic(pidFile: string, running: number[], options: PidFileOptions): Promise<PidFileReload> {
  if (!options.binary)
    throw new OccsError('HAPROXY_UNRUNNABLE', 'a classic HAProxy is reloaded by starting a new one, and no haproxy executable was given', {
      hint: 'pass --haproxy PATH',
    });
  const oldest = running[0]!;
  const cwd = await processCwd(oldest);
  const exposed = exposedListenersSocket(parseSections(readConfig(options.config)));
  const socket = exposed && (await processPath(oldest, exposed));
  const args = ['-D', '-f', options.config, '-p', pidFile, '-sf', ...running.map(String), ...(socket ? ['-x', socket] : [])];
  const result = await runCommand(options.binary, args, { timeoutMs: options.timeoutMs, cwd });
  if (result.exitCode !== 0) {
    // HAProxy may quote its config, secrets and all.
    const alerts = maskEcho(
      result.output
        .split('\n')
        .filter((l) => l.includes('[ALERT]'))
        .slice(0, 3)
        .join(' | '),
    );
    throw reloadError(
      'RELOAD_REJECTED',
      `HAProxy refused to start the new process (exit ${result.exitCode ?? 'timeout'}${alerts ? `: ${alerts}` : ''}); ${running.join(', ')} still serve${running.length === 1 ? 's' : ''}`,
      {
        hint: `check ${options.config} with occs-lb validate`,
      },
    );
  }
  const after = (await readPidFile(pidFile)).filter((pid) => !running.includes(pid) && processAlive(pid));
  if (after.length === 0) {
    throw reloadError('RELOAD_FAILED', `HAProxy started but wrote no new process to ${pidFile}`, { hint: "check HAProxy's log" });
  }
  return { mode: 'classic', before: running, after };
}

function readConfig(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
