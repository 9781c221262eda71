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

/** `show map FILE` over an admin socket: the entries HAProxy routes by now (`key value`), sorted. */
export async function mapEntries(socket: string, file: string): Promise<string[]> {
  const answer = await runtimeChannel('admin', socket).send(`show map ${file}`);
  return answer
    .split('\n')
    .map((l) => l.trim().split(' ').slice(1).join(' '))
    .filter(Boolean)
    .sort();
}
