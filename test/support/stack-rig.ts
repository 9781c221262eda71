import { join } from 'node:path';
import { httpGet, waitFor, type HttpAnswer } from './haproxy-process.js';
import { mapEntries, serverStates } from './server-states.js';
import { useWatchRig } from './watch-rig.js';
import { WatchProcess } from './watch-process.js';

/** A store the stack tests write to: the Consul/OCCS test server or a real etcd. */
export interface StackStore {
  kv: string;
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

/**
 * The watch rig (four real backends a–d, a Consul-KV test store, free ports, a temp dir) with
 * `occs-lb watch --stack apps` on it, and requests by Host and path.
 */
export function useStackRig() {
  const rig = useWatchRig();
  const admin = () => join(rig.dir, 'admin.sock');
  const stack = {
    rig,
    /** `occs-lb watch --stack apps` against `kv`, supervising HAProxy; resolves once HAProxy runs. */
    async start(kv: string, extra: string[] = []): Promise<WatchProcess> {
      const args = [
        ['--kv', kv],
        ['--stack', 'apps'],
        ['--out', rig.config()],
        ['--exec', `haproxy -W -db -f ${rig.config()}`],
        ['--bind', '127.0.0.1'],
        ['--frontend-port', String(rig.ports.frontend)],
        ['--stats-port', String(rig.ports.stats)],
        ['--admin-socket', admin()],
        ['--listen', `127.0.0.1:${rig.ports.status}`],
        ['--wait', '0'],
      ].flat();
      rig.watch = new WatchProcess([...args, ...extra]);
      await rig.watch.waitForLog(/^started haproxy/);
      return rig.watch;
    },
    /** One request through HAProxy with this Host header and path. */
    get: (host: string, path = '/'): Promise<HttpAnswer> => httpGet(rig.ports.frontend, path, 3000, { host }),
    /** Waits until `count` requests for host and path are all answered by exactly these backends (404: `[]`). */
    servedAs: (host: string, path: string, names: string[], count = 6) =>
      waitFor(`${host}${path} to be served by ${names.join(', ') || 'nothing (404)'}`, async () => {
        const seen = new Set<string>();
        for (let i = 0; i < count; i++) {
          const answer = await stack.get(host, path);
          seen.add(answer.status === 404 ? '404' : answer.body);
        }
        const want = names.length === 0 ? ['404'] : names;
        return seen.size === want.length && want.every((n) => seen.has(n));
      }),
    /** `show servers state BACKEND` through the admin socket: per server, its weight and whether it is in maintenance. */
    async servers(backend: string): Promise<Record<string, { weight: number; maint: boolean }>> {
      const out: Record<string, { weight: number; maint: boolean }> = {};
      for (const [name, s] of await serverStates(admin(), backend)) out[name] = { weight: s.weight, maint: (s.admin & 0x63) !== 0 };
      return out;
    },
    /** `show map FILE`: the entries HAProxy routes by now. */
    map: (kind: 'hosts' | 'paths'): Promise<string[]> => mapEntries(admin(), join(rig.dir, `haproxy.${kind}.map`)),
  };
  return stack;
}
