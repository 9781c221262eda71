import { readFileSync } from 'node:fs';
import { reloadError } from '../errors.js';
import { pollUntil } from '../util/poll.js';
import { runCommand } from '../util/run.js';
import { exposedListenersSocket, parseSections } from './config-sections.js';
import { childPids, processAlive, processArgs, processName, processPath, readPidFile } from './process.js';
import { reloadViaMasterSocket } from './reload-master.js';

export interface PidFileReload {
  mode: 'master-worker' | 'classic';
  before: number[];
  after: number[];
}

/** The live HAProxy processes a pid file names, or exit 6 for a stale file. */
async function runningFromPidFile(pidFile: string): Promise<number[]> {
  const pids = await readPidFile(pidFile);
  const live = pids.filter((pid) => processAlive(pid) && processName(pid) === 'haproxy');
  if (live.length === 0) {
    throw reloadError('STALE_PID_FILE', `pid file ${pidFile} names ${pids.join(', ')}, but no such HAProxy process is running (stale pid file)`, {
      hint: 'start HAProxy, or fix --pid-file',
    });
  }
  return live;
}

/**
 * Reloads the HAProxy a pid file names. Master-worker (started with -W/-Ws, or `master-worker` in
 * the config): SIGUSR2 to the master, verified over its master socket when it has one (-S),
 * else by a new child process. Classic daemon: a new `haproxy -D … -sf OLD` (with `-x` when the
 * config hands listeners over a stats socket), which exits non-zero when it refuses the config.
 */
export async function reloadViaPidFile(
  pidFile: string,
  options: { binary?: string; config: string; timeoutMs: number },
): Promise<PidFileReload> {
  const running = await runningFromPidFile(pidFile);
  const master = running[0]!;
  const args = await processArgs(master);
  const configText = readConfig(options.config);
  const masterWorker = args.includes('-W') || args.includes('-Ws') || /^\s*master-worker\b/m.test(configText);
  if (!masterWorker) return reloadClassic(pidFile, running, configText, options);

  const signal = async () => {
    process.kill(master, 'SIGUSR2');
  };
  const socketArg = args[args.indexOf('-S') + 1];
  if (args.includes('-S') && socketArg) {
    const socket = await processPath(master, socketArg.split(',')[0]!);
    return { mode: 'master-worker', ...(await reloadViaMasterSocket(socket, signal, options.timeoutMs)) };
  }
  const before = childPids(master);
  await signal();
  const after = await pollUntil(() => {
    const fresh = childPids(master).filter((pid) => !before.includes(pid));
    return fresh.length > 0 ? fresh : undefined;
  }, Date.now() + options.timeoutMs);
  if (!after) {
    throw reloadError('RELOAD_TIMEOUT', `HAProxy's master ${master} started no new worker within ${options.timeoutMs}ms; worker ${before.join(', ') || '(none)'} still serves`, {
      hint: 'the new config was probably refused: see HAProxy\'s log, or start it with -S SOCKET so occs-lb can read the reason',
    });
  }
  return { mode: 'master-worker', before, after };
}

async function reloadClassic(
  pidFile: string,
  running: number[],
  configText: string,
  options: { binary?: string; config: string; timeoutMs: number },
): Promise<PidFileReload> {
  if (!options.binary) throw new Error('a classic reload needs the haproxy binary');
  const socket = exposedListenersSocket(parseSections(configText));
  const args = ['-D', '-f', options.config, '-p', pidFile, '-sf', ...running.map(String), ...(socket ? ['-x', socket] : [])];
  const result = await runCommand(options.binary, args, { timeoutMs: options.timeoutMs });
  if (result.exitCode !== 0) {
    const alerts = result.output.split('\n').filter((l) => l.includes('[ALERT]')).slice(0, 3).join(' | ');
    throw reloadError('RELOAD_REJECTED', `HAProxy refused to start the new process (exit ${result.exitCode ?? 'timeout'}${alerts ? `: ${alerts}` : ''}); ${running.join(', ')} still serve${running.length === 1 ? 's' : ''}`, {
      hint: `check ${options.config} with occs-lb validate`,
    });
  }
  const after = (await readPidFile(pidFile)).filter((pid) => !running.includes(pid) && processAlive(pid));
  if (after.length === 0) {
    throw reloadError('RELOAD_FAILED', `HAProxy started but wrote no new process to ${pidFile}`, { hint: 'check HAProxy\'s log' });
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
