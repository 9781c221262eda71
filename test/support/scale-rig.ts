import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { masterCommand } from '../../src/haproxy/master-cli.js';
import { Backend } from './backends.js';
import { ROOT } from './cli.js';
import { ConsulKvServer } from './consul-kv-server.js';
import { freePort, httpGet, waitFor } from './haproxy-process.js';
import { makeTempDir } from './temp.js';
import { localHaproxyArgs } from './watch-args.js';
import { WatchProcess, type LogLine } from './watch-process.js';

export const SCALE_PREFIX = 'apps/scale';

/** A store the rig fills and changes: the Consul/OCCS test server (writes at once) or a real etcd (writes awaited). */
export interface ScaleStore {
  readonly url: string;
  start(): Promise<unknown>;
  put(key: string, value: string): void | Promise<void>;
  delete(key: string): void | Promise<void>;
  stop(): Promise<void>;
}

/**
 * `occs-lb watch --exec haproxy` over many servers, checked every 30 s so the checks cost
 * little. One backend of N servers (`apps/scale/containers/sNNNNN`), or a stack of B apps of N
 * each (`--stack apps/scale`: `apps/scale/appBBB/containers/sNNNNN`, routed by
 * `lb/routes/appBBB`); every server at one live backend that passes the checks: HAProxy marks a
 * server DOWN at its failed checks, and each of those lines goes through watch, so at a closed
 * port they would run through the trials.
 */
export class ScaleRig<S extends ScaleStore = ConsulKvServer> {
  readonly store: S;
  readonly dir = makeTempDir();
  readonly config = join(this.dir, 'haproxy.cfg');
  ports = { frontend: 0, stats: 0, status: 0 };
  /** Every server's address: one backend answering every check. */
  private live?: Backend;
  watch?: WatchProcess;

  constructor(
    readonly layout: { backends: number; servers: number },
    private readonly extra: string[] = [],
    /** Runs watch through another command (a profiler, say). */
    private readonly wrap?: ConstructorParameters<typeof WatchProcess>[2],
    /** Another store than the Consul/OCCS test server, and another --wait than 0. */
    private readonly options: { store?: S; wait?: string } = {},
  ) {
    this.store = options.store ?? (new ConsulKvServer() as unknown as S);
  }

  /** The key of server `i` of backend `b` (b is ignored with one backend). */
  key(i: number, b = 0): string {
    const name = `s${String(i).padStart(5, '0')}`;
    return this.layout.backends === 1 ? `${SCALE_PREFIX}/containers/${name}` : `${SCALE_PREFIX}/app${String(b).padStart(3, '0')}/containers/${name}`;
  }

  /** The backend HAProxy has for backend `b`. */
  backend(b = 0): string {
    return this.layout.backends === 1 ? 'nginx_80' : `app${String(b).padStart(3, '0')}`;
  }

  get address(): string {
    return this.live!.address;
  }

  /** The port every server is at. */
  get port(): number {
    return Number(this.address.split(':')[1]);
  }

  async start(): Promise<this> {
    await this.store.start();
    this.ports = { frontend: await freePort(), stats: await freePort(), status: await freePort() };
    this.live = await new Backend('scale').start();
    await this.fill();
    const source = this.layout.backends === 1 ? ['--prefix', `${SCALE_PREFIX}/containers`] : ['--stack', SCALE_PREFIX];
    this.watch = new WatchProcess(
      [
        ...['--kv', this.store.url, ...source, '--out', this.config, '--exec', `haproxy -W -db -f ${this.config}`],
        ...['--template', this.template(), '--listen', `127.0.0.1:${this.ports.status}`, '--wait', this.options.wait ?? '0'],
        ...localHaproxyArgs(this.ports, this.dir),
        ...this.extra,
      ],
      {},
      this.wrap,
    );
    await this.watch.waitForLog(/^started haproxy/, 0, 120_000);
    await waitFor('/healthz to be ok', async () => (await httpGet(this.ports.status, '/healthz')).status === 200, 30_000);
    return this;
  }

  /** Every server of every backend (and each app's route), 64 writes in flight at most (a real store is written over the network). */
  private async fill(): Promise<void> {
    const keys = Array.from({ length: this.layout.backends * this.layout.servers }, (_, n) =>
      this.key(n % this.layout.servers, Math.floor(n / this.layout.servers)),
    );
    const pairs = keys.map((key): [string, string] => [key, this.address]);
    if (this.layout.backends > 1) for (let b = 0; b < this.layout.backends; b++) pairs.push([`lb/routes/${this.backend(b)}`, `${this.backend(b)}.example.com`]);
    for (let i = 0; i < pairs.length; i += 64) await Promise.all(pairs.slice(i, i + 64).map(async ([key, value]) => this.store.put(key, value)));
  }

  /**
   * Start-up done: watch's first look for drift (30 s after it started; with the runtime API),
   * then 5 s. The first look reads the whole config, as it has read none before (at 10,000
   * servers, 25 ms and a collection): start-up's work, not that of changes timed after.
   */
  async settled(): Promise<void> {
    if (!this.extra.includes('--no-runtime-api'))
      await waitFor('the first look for drift', async () => (await this.metric('drift_verifications_total')) >= 1, 60_000);
    await new Promise((r) => setTimeout(r, 5000));
  }

  /** The shipped template (a stack: the stack template) with checks every 30 s. */
  private template(): string {
    const path = join(this.dir, 'scale.cfg.ejs');
    const [file, check] = this.layout.backends === 1 ? ['haproxy.cfg.ejs', '<%= s.address %> check'] : ['stack.cfg.ejs', ' check<% } %>'];
    writeFileSync(path, readFileSync(join(ROOT, 'templates', file), 'utf8').replace(check, check.replace('check', 'check inter 30s')));
    return path;
  }

  /** The supervised HAProxy's master socket. */
  async socket(): Promise<string> {
    return /-S (\S+)/.exec((await this.watch!.waitForLog(/^started haproxy/)).msg)![1]!;
  }

  /** Servers HAProxy runs in a backend, and how many of them are ready (not in maintenance). */
  async servers(backend = this.backend()): Promise<Map<string, { addr: string; port: number; ready: boolean }>> {
    const answer = await masterCommand(await this.socket(), `@1 show servers state ${backend}`, 10_000);
    const servers = new Map<string, { addr: string; port: number; ready: boolean }>();
    for (const line of answer.split('\n')) {
      const f = line.trim().split(' ');
      if (f.length < 19 || f[1] !== backend) continue;
      servers.set(f[3]!, { addr: f[4]!, port: Number(f[18]), ready: (Number(f[6]) & 0x27) === 0 });
    }
    return servers;
  }

  /**
   * How many servers of a backend are up, from its one row of `show stat` (`act`, column 20).
   * Cheap to poll: `show servers state` prints every server (17 ms of HAProxy's time at 10,000),
   * which polled every 20 ms takes HAProxy's CPU from the changes being timed.
   */
  async upCount(backend = this.backend()): Promise<number> {
    const answer = await masterCommand(await this.socket(), `@1 show stat ${backend} 2 -1`, 10_000);
    const header = answer.split('\n', 1)[0]!.replace(/^# /, '').split(',');
    const row = answer.split('\n').find((l) => l.startsWith(`${backend},BACKEND,`));
    if (!row) throw new Error(`no BACKEND row for ${backend} in show stat`);
    return Number(row.split(',')[header.indexOf('act')]);
  }

  /** The next log line after `from` that says a change reached HAProxy (runtime API or verified reload). */
  applied(from: number, timeoutMs = 60_000): Promise<LogLine> {
    return this.watch!.waitForLog(/^applied through the runtime API|^reloaded: /, from, timeoutMs);
  }

  async metric(name: string): Promise<number> {
    return Number(new RegExp(`^occs_lb_${name} (\\S+)$`, 'm').exec((await httpGet(this.ports.status, '/metrics')).body)?.[1]);
  }

  async stop(): Promise<void> {
    await this.watch?.stop();
    await this.store.stop();
    await this.live?.stop();
  }
}
