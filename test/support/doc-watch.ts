import { join } from 'node:path';
import { runtimeChannel } from '../../src/haproxy/runtime-channel.js';
import { docEnv, ShellProcess } from './doc-blocks.js';
import { freePort, waitFor } from './haproxy-process.js';
import { serverStates } from './server-states.js';
import { makeTempDir } from './temp.js';

/**
 * What the doc watch tests share: a temp dir standing for /etc/haproxy, free ports, and the
 * environment a watch of the docs runs in. The docs' watch lines give no ports, so HAProxy would
 * bind the defaults (5000, 1936) on every address: the environment sets them through watch's
 * own variables (OCCS_LB_BIND, _FRONTEND_PORT, _STATS_PORT), and OCCS_LB_ADMIN_SOCKET puts an
 * admin socket in the config for the test to read HAProxy's state through. The doc text is unchanged.
 */
export async function docWatchRig(extraEnv: Record<string, string> = {}) {
  const dir = makeTempDir();
  const ports = { frontend: await freePort(), stats: await freePort(), status: await freePort() };
  const adminSocket = join(dir, 'admin.sock');
  const env = docEnv({
    OCCS_LB_BIND: '127.0.0.1',
    OCCS_LB_FRONTEND_PORT: String(ports.frontend),
    OCCS_LB_STATS_PORT: String(ports.stats),
    OCCS_LB_ADMIN_SOCKET: adminSocket,
    ...extraEnv,
  });
  const started: ShellProcess[] = [];
  return {
    dir,
    ports,
    env,
    adminSocket,
    /** /etc/haproxy/ of the docs is this temp dir. */
    etcHaproxy: ['/etc/haproxy/', `${dir}/`] as const,
    start(command: string): ShellProcess {
      const process = new ShellProcess(command, env);
      started.push(process);
      return process;
    },
    async stop(): Promise<void> {
      for (const p of started.splice(0)) await p.stop();
    },
    /** Waits until HAProxy's backend has servers meeting `ok` (from `show servers state`). */
    servers(backend: string, ok: (s: Awaited<ReturnType<typeof serverStates>>) => boolean, what: string, timeoutMs = 15_000) {
      return waitFor(
        what,
        async () => {
          const states = await serverStates(adminSocket, backend);
          return ok(states) ? states : undefined;
        },
        timeoutMs,
      );
    },
    /** HAProxy's own copy of a map file (`show map`), as it serves it. */
    map: (file: string) => runtimeChannel('admin', adminSocket).send(`show map ${join(dir, file)}`),
  };
}
