import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { showProc } from '../../src/haproxy/master-cli.js';
import { Backend, namesServed } from './backends.js';
import { ConsulKvServer } from './consul-kv-server.js';
import { freePort, httpGet, waitFor } from './haproxy-process.js';
import { makeTempDir } from './temp.js';
import { WatchProcess } from './watch-process.js';

export const PREFIX = 'apps/web/containers';

/**
 * What the watch end-to-end tests share: four real HTTP backends (a, b, c, d), a Consul-KV test
 * store, free ports and a temp dir, fresh for each test, and `occs-lb watch --exec haproxy` on
 * them. Registers its own beforeEach/afterEach.
 */
export function useWatchRig() {
  const rig = {
    backends: [] as Backend[],
    store: undefined as unknown as ConsulKvServer,
    ports: { frontend: 0, stats: 0, status: 0 },
    dir: '',
    watch: undefined as WatchProcess | undefined,
    config: () => join(rig.dir, 'haproxy.cfg'),
    address: (i: number) => rig.backends[i]!.address,

    /** The flags of a watch of the rig but what it renders: the store `kv`, HAProxy supervised on the rig's ports, the status listener. */
    watchFlags: (kv: string): string[] =>
      [
        ['--kv', kv],
        ['--exec', `haproxy -W -db -f ${rig.config()}`],
        ['--bind', '127.0.0.1'],
        ['--frontend-port', String(rig.ports.frontend)],
        ['--stats-port', String(rig.ports.stats)],
        ['--admin-socket', join(rig.dir, 'admin.sock')],
        ['--listen', `127.0.0.1:${rig.ports.status}`],
        ['--wait', '0'],
      ].flat(),

    /** `occs-lb watch` against `kv`, supervising HAProxy on the rig's ports (`env` adds to ours). */
    startWatch: (kv: string, extra: string[] = [], env: Record<string, string> = {}, wrap?: ConstructorParameters<typeof WatchProcess>[2]): WatchProcess => {
      rig.watch = new WatchProcess(['--prefix', PREFIX, '--out', rig.config(), ...rig.watchFlags(kv), ...extra], env, wrap);
      return rig.watch;
    },

    /** Waits until `count` requests through HAProxy reach exactly these backends. */
    servedBy: (names: string[], count = 8) =>
      waitFor(`HAProxy to serve exactly ${names.join(', ')}`, async () => {
        const seen = new Set(await namesServed(rig.ports.frontend, count));
        return names.length === seen.size && names.every((n) => seen.has(n));
      }),

    status: async (path: string): Promise<{ status: number; body: string }> => {
      const answer = await httpGet(rig.ports.status, path);
      return { status: answer.status, body: answer.body };
    },

    metric: async (name: string): Promise<number> => {
      return Number(new RegExp(`^occs_lb_${name} (\\S+)$`, 'm').exec((await rig.status('/metrics')).body)?.[1]);
    },

    /** The supervised HAProxy's current workers, from its master CLI (the -S that watch added). */
    workers: async (w: WatchProcess): Promise<number[]> => {
      const socket = /-S (\S+)/.exec(String((await w.waitForLog(/^started haproxy/)).msg))![1]!;
      return (await showProc(socket, 2000)).workers.filter((x) => x.current).map((x) => x.pid);
    },
  };

  beforeEach(async () => {
    rig.backends = await Promise.all(['a', 'b', 'c', 'd'].map((name) => new Backend(name).start()));
    rig.store = await new ConsulKvServer().start();
    rig.ports = { frontend: await freePort(), stats: await freePort(), status: await freePort() };
    rig.dir = makeTempDir();
  });

  afterEach(async () => {
    await rig.watch?.stop();
    rig.watch = undefined;
    await rig.store.stop();
    await Promise.all(rig.backends.map((b) => b.stop()));
  });

  return rig;
}
