import { join } from 'node:path';
import { Backend } from '../support/backends.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { freePort, httpGet, waitFor, type HttpAnswer } from '../support/haproxy-process.js';
import { serverStates } from '../support/server-states.js';
import { makeTempDir } from '../support/temp.js';
import { localHaproxyArgs } from '../support/watch-args.js';
import { WatchProcess } from '../support/watch-process.js';

// The stack benchmark's rig: a stack under watch, what it asks of HAProxy, and requests with a Host header.

export const key = (app: string, server: number) => `apps/${app}/containers/s${server}`;

/** `occs-lb watch --stack apps --exec haproxy` on the Consul/OCCS test store, with backends answering their names. */
export interface StackRig {
  store: ConsulKvServer;
  frontend: number;
  status: number;
  socket: string;
  watch: WatchProcess;
  backend(app: string, server: number): Backend;
  stop(): Promise<void>;
}

/**
 * Starts a stack: three backends for each app of `apps` (`<app>-s0`..`<app>-s2`), its first
 * `apps[app]` servers in the store, with `control` (routes, weights, states), before watch starts.
 */
export async function startStack(apps: Record<string, number>, control: Array<[string, string]>, extra: string[] = []): Promise<StackRig> {
  const store = await new ConsulKvServer().start();
  const backends = new Map<string, Backend>();
  const backend = (app: string, server: number) => backends.get(`${app}/${server}`)!;
  let watch: WatchProcess | undefined;
  const stop = async () => {
    await watch?.stop();
    await store.stop();
    await Promise.all([...backends.values()].map((b) => b.stop()));
  };
  try {
    for (const app of Object.keys(apps)) for (let i = 0; i < 3; i++) backends.set(`${app}/${i}`, await new Backend(`${app}-s${i}`).start());
    const [frontend, stats, status] = [await freePort(), await freePort(), await freePort()];
    const dir = makeTempDir();
    const config = join(dir, 'haproxy.cfg');
    const servers = Object.entries(apps).flatMap(([app, n]) => Array.from({ length: n }, (_, i): [string, string] => [key(app, i), backend(app, i).address]));
    store.putMany([...servers, ...control]);
    watch = new WatchProcess([
      ...['--kv', store.url, '--stack', 'apps', '--out', config, '--exec', `haproxy -W -db -f ${config}`, '--wait', '0'],
      ...localHaproxyArgs({ frontend, stats }, dir),
      ...['--listen', `127.0.0.1:${status}`, ...extra],
    ]);
    await watch.waitForLog(/^started haproxy/, 0, 30_000);
    return { store, frontend, status, socket: join(dir, 'admin.sock'), watch, backend, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export async function metric(rig: StackRig, name: string): Promise<number> {
  return Number(new RegExp(`^occs_lb_${name} (\\S+)$`, 'm').exec((await httpGet(rig.status, '/metrics')).body)?.[1]);
}

/** Changes HAProxy took: reloads and runtime updates. */
export const applied = async (rig: StackRig) => (await metric(rig, 'reloads_total')) + (await metric(rig, 'runtime_updates_total'));

/** One request with a Host header, on a new connection (no keep-alive), as a fresh client would. */
export const hostGet = (port: number, host: string, path = '/', timeoutMs = 3000): Promise<HttpAnswer> => httpGet(port, path, timeoutMs, { host });

/**
 * continuousLoad with Host headers: `concurrency` clients, each going round `targets` (host and
 * path), a new connection per request, until stopped. Anything but a 200 fails; the reasons are
 * counted, each with the host and path it happened on.
 */
export function hostLoad(port: number, targets: ReadonlyArray<{ host: string; path: string }>, concurrency = 4) {
  let running = true;
  const stats = { ok: 0, failed: 0, reasons: new Map<string, number>() };
  const failed = (why: string) => {
    stats.failed += 1;
    stats.reasons.set(why, (stats.reasons.get(why) ?? 0) + 1);
  };
  const loops = Array.from({ length: concurrency }, async (_, client) => {
    for (let i = client; running; i++) {
      const { host, path } = targets[i % targets.length]!;
      try {
        const answer = await hostGet(port, host, path, 5000);
        if (answer.status === 200) stats.ok += 1;
        else failed(`HTTP ${answer.status} for ${host}${path}: ${answer.body.slice(0, 60)}`);
      } catch (error) {
        failed(`${(error as Error).message} for ${host}${path}`);
      }
    }
  });
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

type State = 'ready' | 'drain' | 'maint';
/** Each app's own route; two more routes move from app to app. */
const ROUTES: Record<string, string> = { web: 'web.example.com', api: 'api.example.com', admin: '/admin', new1: 'new1.example.com', new2: 'new2.example.com' };
const MOVING = ['shared.example.com', 'web.example.com/v2'];
/**
 * The mixed changes, over a model of the store: each one a real change (HAProxy has something to
 * do), none that could leave a routed app with no ready server (a server goes out of service or
 * away only once another of its app is up in HAProxy). Seeded, so every run makes the same changes.
 */
export class Mix {
  readonly apps = ['web', 'api', 'admin'];
  readonly present = new Map(this.apps.map((a) => [a, new Set([0, 1])]));
  readonly state = new Map<string, State>();
  readonly weight = new Map<string, number>();
  readonly owner = new Map([
    [MOVING[0]!, 'web'],
    [MOVING[1]!, 'api'],
  ]);
  rig!: StackRig;
  private seed = 42;

  pick<T>(items: readonly T[]): T | undefined {
    this.seed = (this.seed * 48271) % 2147483647;
    return items[this.seed % items.length];
  }

  routes(app: string): [string, string] {
    return [`lb/routes/${app}`, [ROUTES[app], ...MOVING.filter((r) => this.owner.get(r) === app)].join(' ')];
  }

  /** The routes at start (the servers are the rig's). */
  initial(): Array<[string, string]> {
    return this.apps.map((a) => this.routes(a));
  }

  /** Makes change `i` (two of them new apps) and names its kind. */
  async next(i: number): Promise<string> {
    const fresh = i === 66 ? 'new1' : i === 133 ? 'new2' : undefined;
    if (fresh) {
      // Its server alone (routes may move to it later): the apps and control prefixes are watched apart.
      this.apps.push(fresh);
      this.present.set(fresh, new Set([0]));
      this.rig.store.put(key(fresh, 0), this.rig.backend(fresh, 0).address);
      return 'new app';
    }
    for (;;) {
      const kinds = { route: () => this.moveRoute(), weight: () => this.setWeight(), state: () => this.setState(), server: () => this.addOrRemove() };
      const made = await kinds[this.pick(['route', 'weight', 'state', 'server'] as const)!]();
      if (made) return made;
    }
  }

  private servers(filter: (app: string, s: number) => boolean): Array<[string, number]> {
    return this.apps.flatMap((a) => [...this.present.get(a)!].filter((s) => filter(a, s)).map((s): [string, number] => [a, s]));
  }

  private stateOf = (app: string, s: number): State => this.state.get(`${app}/${s}`) ?? 'ready';

  /** Whether another ready server of `app` is there; if so, waits until HAProxy has one up. */
  private async othersUp(app: string, s: number): Promise<boolean> {
    const others = [...this.present.get(app)!].filter((o) => o !== s && this.stateOf(app, o) === 'ready');
    if (others.length === 0) return false;
    await waitFor(`another server of ${app} to be up`, async () => {
      const states = await serverStates(this.rig.socket, app);
      return others.some((o) => ((x) => x && x.op === 2 && x.admin === 0 && x.weight > 0)(states.get(`s${o}`)));
    });
    return true;
  }

  private async moveRoute(): Promise<string> {
    const route = this.pick(MOVING)!;
    const from = this.owner.get(route)!;
    const to = this.pick(this.apps.filter((a) => a !== from))!;
    this.owner.set(route, to);
    this.rig.store.putMany([this.routes(from), this.routes(to)]);
    return 'route move';
  }

  private async setWeight(): Promise<string | undefined> {
    const [app, s] = this.pick(this.servers((a, x) => this.stateOf(a, x) === 'ready')) ?? [];
    if (app === undefined || s === undefined) return undefined;
    const weight = this.pick([10, 50, 100, 200, 256].filter((w) => w !== (this.weight.get(`${app}/${s}`) ?? 100)))!;
    this.weight.set(`${app}/${s}`, weight);
    this.rig.store.put(`lb/weights/${app}/s${s}`, String(weight));
    return 'weight';
  }

  private async setState(): Promise<string | undefined> {
    const [app, s] = this.pick(this.servers(() => true))!;
    const state = this.pick((['ready', 'drain', 'maint'] as const).filter((x) => x !== this.stateOf(app, s)))!;
    if (state !== 'ready' && !(await this.othersUp(app, s))) return undefined;
    this.state.set(`${app}/${s}`, state);
    this.rig.store.put(`lb/state/${app}/s${s}`, state);
    return `state ${state}`;
  }

  private async addOrRemove(): Promise<string | undefined> {
    const app = this.pick(this.apps)!;
    const present = this.present.get(app)!;
    const absent = [0, 1, 2].filter((s) => !present.has(s));
    if (present.size >= 2 && (absent.length === 0 || this.pick([true, false]))) {
      const s = this.pick([...present])!;
      if (!(await this.othersUp(app, s))) return undefined;
      present.delete(s);
      this.rig.store.delete(key(app, s));
      return 'server removed';
    }
    const s = this.pick(absent)!;
    present.add(s);
    this.rig.store.put(key(app, s), this.rig.backend(app, s).address);
    return this.stateOf(app, s) === 'maint' ? 'server added in maint' : 'server added';
  }
}
