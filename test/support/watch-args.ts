import { join } from 'node:path';

/** The options that keep a test's HAProxy on 127.0.0.1, on its free ports, its admin socket in its temp dir. */
export function localHaproxyArgs(ports: { frontend: number; stats: number }, dir: string): string[] {
  return ['--bind', '127.0.0.1', '--frontend-port', String(ports.frontend), '--stats-port', String(ports.stats), '--admin-socket', join(dir, 'admin.sock')];
}
