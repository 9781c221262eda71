import { join } from 'node:path';
import { masterCommand } from '../../src/haproxy/master-cli.js';
import { adminConfigHead, freePort, HaproxyProcess, waitFor } from './haproxy-process.js';

/**
 * A master-worker HAProxy reachable both ways the runtime path takes (its master CLI, and an admin
 * `stats socket`), whose frontend answers by itself, with `backend` (the lines after the frontend)
 * and `global` (more lines of the global section). Ready when the master CLI answers.
 */
export async function haproxyWithSockets(backend: string[], global: string[] = []): Promise<{ haproxy: HaproxyProcess; adminSocket: string }> {
  const port = await freePort();
  const haproxy = new HaproxyProcess(port, 'master-worker');
  const adminSocket = join(haproxy.dir, 'admin.sock');
  haproxy.writeConfig(
    [...adminConfigHead(adminSocket, port, global), '    http-request return status 200 content-type text/plain string up', ...backend, ''].join('\n'),
  );
  await haproxy.start();
  await waitFor('the master CLI', () =>
    masterCommand(haproxy.socket, 'show proc', 2000).then(
      () => true,
      () => undefined,
    ),
  );
  return { haproxy, adminSocket };
}
