import { runtimeChannel } from '../../src/haproxy/runtime-channel.js';

/** `show servers state BACKEND` over an admin socket: each server's operational state, admin state, weight and health-check state. */
export async function serverStates(socket: string, backend: string): Promise<Map<string, { op: number; admin: number; weight: number; check: number }>> {
  const out = new Map<string, { op: number; admin: number; weight: number; check: number }>();
  for (const line of (await runtimeChannel('admin', socket).send(`show servers state ${backend}`)).split('\n')) {
    const f = line.split(' ');
    if (f.length > 18 && f[1] === backend) out.set(f[3]!, { op: Number(f[5]), admin: Number(f[6]), weight: Number(f[7]), check: Number(f[13]) });
  }
  return out;
}
