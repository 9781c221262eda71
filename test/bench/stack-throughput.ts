import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Backend } from '../support/backends.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { freePort, httpGet, waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { localHaproxyArgs } from '../support/watch-args.js';
import { WatchProcess } from '../support/watch-process.js';

export const WRK = ['-t2', '-c16', '-d2s'];
const ROUNDS = 4;
/** Routes in the maps beside the one the load takes: a stack of some size. */
const OTHER_ROUTES = 200;
const HOST = 'web.example.com';

interface Balancer {
  frontend: number;
  requests: number;
  seconds: number;
  watch: WatchProcess;
}

/** `occs-lb watch` with `args` (the mode) on `store`, supervising HAProxy, serving `backend` for Host web.example.com. */
async function balancer(store: ConsulKvServer, backend: Backend, args: string[]): Promise<Balancer> {
  const [frontend, stats] = [await freePort(), await freePort()];
  const dir = makeTempDir();
  const config = join(dir, 'haproxy.cfg');
  const watch = new WatchProcess([
    ...['--kv', store.url, ...args, '--out', config, '--exec', `haproxy -W -db -f ${config}`, '--wait', '0'],
    ...localHaproxyArgs({ frontend, stats }, dir),
  ]);
  try {
    await watch.waitForLog(/^started haproxy/, 0, 30_000);
    await waitFor('HAProxy to serve', async () => (await httpGet(frontend, '/x', 3000, { host: HOST })).body === backend.name);
  } catch (error) {
    await watch.stop();
    throw error;
  }
  return { frontend, requests: 0, seconds: 0, watch };
}

async function load(b: Balancer): Promise<void> {
  const { stdout } = await promisify(execFile)('wrk', [...WRK, '-H', `Host: ${HOST}`, `http://127.0.0.1:${b.frontend}/x`]);
  const run = /(\d+) requests in ([\d.]+)(m?s)/.exec(stdout);
  if (!run || /Non-2xx|Socket errors/.test(stdout)) throw new Error(`wrk: ${stdout}`);
  b.requests += Number(run[1]);
  b.seconds += Number(run[2]) / (run[3] === 'ms' ? 1000 : 1);
}

/**
 * What routing by host and path costs a request: wrk through stack mode (the request looked up
 * in both maps, among OTHER_ROUTES more routes) and through the single-service config, the same
 * keep-alive backend behind both, in turn, ROUNDS times, so the machine's load hits both alike.
 */
export async function routingThroughput(): Promise<Array<[string, string]>> {
  const store = await new ConsulKvServer().start();
  const backend = await new Backend('web', 0, { keepAlive: true }).start();
  const routes = [HOST, ...Array.from({ length: OTHER_ROUTES }, (_, i) => (i % 2 ? `h${i}.example.com/p${i}` : `/p${i}`))];
  store.putMany([
    ['apps/web/containers/s0', backend.address],
    ['lb/routes/web', routes.join(' ')],
  ]);
  const started: Balancer[] = [];
  try {
    started.push(await balancer(store, backend, ['--stack', 'apps']), await balancer(store, backend, ['--prefix', 'apps/web/containers']));
    for (let i = 0; i < ROUNDS; i++) for (const b of started) await load(b);
  } finally {
    await Promise.all(started.map((b) => b.watch.stop()));
    await store.stop();
    await backend.stop();
  }
  const [stack, single] = started.map((b) => b.requests / b.seconds) as [number, number];
  return [
    [`stack mode (Host and path looked up in the maps, ${OTHER_ROUTES + 1} routes)`, `${Math.round(stack)} req/s`],
    ['one service (the default config, no maps)', `${Math.round(single)} req/s`],
    ['stack / one service', `${((100 * stack) / single).toFixed(1)} %`],
  ];
}
