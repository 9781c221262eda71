import { ConsulKvCluster } from '../support/consul-kv-cluster.js';
import type { ConsulKvServer } from '../support/consul-kv-server.js';
import { waitFor } from '../support/haproxy-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { PREFIX, PROBE_INTERVAL_MS, servedAfter, TRIALS, type Fault } from './failover-trials.js';
import { startRig } from './watch.js';

/**
 * Three Consul test servers on one store, each behind a TCP proxy, and watch given the proxies.
 * A server stopped is cut at its proxy too: open connections closed, new ones refused, as when a
 * process dies. A hung server is its proxy stalled: connections are taken, open and new, and
 * nothing passes either way, as with a stopped (SIGSTOP) process, whose kernel still accepts.
 * The test server's own injected hang will not do: a blocking query parked before it is still
 * answered when a change comes (consul-kv-query.ts settles a waiter when a failure is injected,
 * and a hang's answer is the normal one), so a "hung" server would serve the change.
 */
class ProxiedConsulCluster {
  readonly cluster = new ConsulKvCluster(3);
  private readonly proxies: TcpProxy[] = [];
  private readonly cut = new Set<number>();

  async start(): Promise<this> {
    await this.cluster.start();
    for (const server of this.cluster.servers) this.proxies.push(await new TcpProxy(() => server.port).start());
    return this;
  }

  get servers(): ConsulKvServer[] {
    return this.cluster.servers;
  }

  /** `--kv`: every server through its proxy, the first first. */
  get kv(): string {
    return `consul://${this.proxies.map((p) => p.url).join(',')}`;
  }

  async kill(i: number): Promise<void> {
    this.cut.add(i);
    await this.proxies[i]!.cut();
    await this.servers[i]!.stop();
  }

  hang(i: number): void {
    this.proxies[i]!.stall();
  }

  /** Every server running again and reachable through its proxy (on the same ports). */
  async restore(): Promise<void> {
    for (const [i, server] of this.servers.entries()) {
      if (!server.running) await server.start();
      if (this.cut.delete(i)) await this.proxies[i]!.start();
      this.proxies[i]!.unstall();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.proxies.map((p) => p.cut()));
    await this.cluster.stop();
  }
}

/** A write through one server's HTTP API, as a client of the cluster would make it. */
async function putThrough(server: ConsulKvServer, key: string, value: string): Promise<void> {
  const answer = await fetch(`${server.url}/v1/kv/${key}`, { method: 'PUT', body: value, signal: AbortSignal.timeout(3000) });
  if (answer.status !== 200) throw new Error(`PUT ${key} through ${server.url}: HTTP ${answer.status}`);
}

/**
 * One trial: a fresh watch (default reads: the first server, the first endpoint, in use), its
 * blocking query parked on server 0; then server 0 is stopped or hung, a server is written
 * through server 1 at once, and the time from the fault to HAProxy answering with it is taken. A
 * hang comes `phase` ms after the query parked, so the trials fall at different points of the
 * probe interval.
 */
async function trial(c: ProxiedConsulCluster, fault: Fault, phase: number): Promise<number> {
  const rig = await startRig({ wait: '0', store: { store: { put: (k, v) => c.cluster.put(k, v), delete: (k) => c.cluster.delete(k) }, kv: c.kv } });
  try {
    await waitFor('watch to wait on server 0', () => c.servers[0]!.blockedQueries > 0, 30_000);
    if (fault === 'hang') await new Promise((r) => setTimeout(r, phase));
    const target = rig.backends[1]!;
    const started = performance.now();
    if (fault === 'kill') await c.kill(0);
    else c.hang(0);
    await putThrough(c.servers[1]!, `${PREFIX}/moving`, target.address);
    return await servedAfter(rig, target.name, started);
  } finally {
    await rig.stop();
    await c.restore();
    c.cluster.delete(PREFIX, true);
  }
}

/** TRIALS trials of one fault on three Consul test servers: fault → served, each (Infinity: never). */
export async function consulFailoverTimes(fault: Fault): Promise<number[]> {
  const c = await new ProxiedConsulCluster().start();
  try {
    const times: number[] = [];
    for (let i = 0; i < TRIALS; i++) times.push(await trial(c, fault, (i * PROBE_INTERVAL_MS) / TRIALS));
    return times;
  } finally {
    await c.stop();
  }
}
