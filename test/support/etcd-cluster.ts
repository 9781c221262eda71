import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort, waitFor } from './haproxy-process.js';
import { EtcdClusterClient } from './etcd-cluster-client.js';
import { endChild } from './etcd-server.js';
import { MemberNetwork } from './etcd-netns.js';
import { makeTempDir } from './temp.js';

interface Member {
  name: string;
  host: string;
  client: number;
  peer: number;
  network?: MemberNetwork;
  child?: ChildProcess;
  paused?: boolean;
  cut?: boolean;
  log: string;
}

/**
 * A real etcd cluster of three members (Debian's etcd-server, v3.4), each with a temp data dir,
 * started together with `--initial-cluster`: on 127.0.0.1 free ports, or (`partitionable`) each
 * member in a network namespace of its own (test/support/etcd-netns.ts) so that one can be cut off
 * from its peers while its client port still answers. Members are killed by pid (kill -9, as a
 * crash), hung (SIGSTOP), restarted on their data, and written to through any member that can.
 */
export class EtcdCluster extends EtcdClusterClient {
  readonly dir = makeTempDir();
  private members: Member[] = [];
  private token = '';

  /** `--kv` for the whole cluster: every member's client URL, the first one first. */
  get url(): string {
    return `etcd://${this.members.map((m) => `${m.host}:${m.client}`).join(',')}`;
  }

  /** Each member's client URL (http://host:port), as /healthz and the metrics name them. */
  get clientUrls(): string[] {
    return this.members.map((_, i) => this.endpoint(i));
  }

  endpoint(i: number): string {
    const m = this.members[i]!;
    return `http://${m.host}:${m.client}`;
  }

  get size(): number {
    return this.members.length;
  }

  async start(size = 3, { partitionable = false } = {}): Promise<this> {
    try {
      for (let i = 0; i < size; i++) {
        const network = partitionable ? MemberNetwork.create() : undefined;
        const [client, peer] = network ? [2379, 2380] : [await freePort(), await freePort()];
        this.members.push({ name: `m${i}`, host: network?.host ?? '127.0.0.1', client, peer, network, log: '' });
      }
      this.token = `occs-lb-test-${process.pid}-${Date.now()}`;
      for (const m of this.members) this.spawn(m);
      for (let i = 0; i < size; i++) await this.healthy(i);
    } catch (error) {
      await this.stop();
      throw error;
    }
    return this;
  }

  private spawn(m: Member): void {
    const client = `http://${m.host}:${m.client}`;
    const peer = `http://${m.host}:${m.peer}`;
    const initial = this.members.map((x) => `${x.name}=http://${x.host}:${x.peer}`).join(',');
    const argv = [
      ...['etcd', '--name', m.name, '--data-dir', join(this.dir, m.name)],
      ...['--listen-client-urls', client, '--advertise-client-urls', client],
      ...['--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer],
      ...['--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', this.token, '--log-level', 'error'],
    ];
    const [file, args] = m.network ? m.network.wrap(argv) : [argv[0]!, argv.slice(1)];
    m.child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    m.paused = false;
    m.child.stdout!.on('data', (d: Buffer) => (m.log += d.toString()));
    m.child.stderr!.on('data', (d: Buffer) => (m.log += d.toString()));
  }

  /** Waits until member `i` says it is healthy (it has a leader and answers). */
  private async healthy(i: number, timeoutMs = 30_000): Promise<void> {
    const m = this.members[i]!;
    await waitFor(`etcd member ${m.name} to be healthy`, async () => (await this.call(i, '/health', undefined, 'GET'))?.health === 'true', timeoutMs).catch(
      (error) => {
        throw new Error(`${(error as Error).message}\n${m.log.slice(-2000)}`);
      },
    );
  }

  private running(m: Member): boolean {
    return !!m.child && m.child.exitCode === null && m.child.signalCode === null;
  }

  /** The members a test's request goes to: running, not hung, not cut off. */
  protected reachable(): number[] {
    return this.members.flatMap((m, i) => (this.running(m) && !m.paused && !m.cut ? [i] : []));
  }

  /** Kills member `i` at once (kill -9). */
  kill(i: number): Promise<void> {
    return endChild(this.members[i]!.child, 'SIGKILL');
  }

  /** Stops the members at once (kill -9 by default, as a crash), e.g. two of three: quorum is lost. */
  async stopMembers(indices: number[], signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await Promise.all(indices.map((i) => endChild(this.members[i]!.child, signal)));
  }

  /** Starts member `i` again on its data dir, address and ports; resolves once it runs (not: once it has a leader). */
  restart(i: number): void {
    const m = this.members[i]!;
    if (this.running(m)) throw new Error(`member ${m.name} still runs`);
    this.spawn(m);
  }

  /** Waits until member `i` answers /health (it is back and has a leader). */
  waitHealthy(i: number, timeoutMs = 30_000): Promise<void> {
    return this.healthy(i, timeoutMs);
  }

  /** Hangs member `i` (SIGSTOP): its connections stay open and nothing answers. */
  pause(i: number): void {
    const m = this.members[i]!;
    m.child!.kill('SIGSTOP');
    m.paused = true;
  }

  resume(i: number): void {
    const m = this.members[i]!;
    m.child!.kill('SIGCONT');
    m.paused = false;
  }

  /** Cuts member `i` off from every other member (packets dropped both ways); its client port still answers. */
  partition(i: number): void {
    const m = this.members[i]!;
    if (!m.network) throw new Error('partition needs a cluster started with { partitionable: true }');
    for (const other of this.members) if (other !== m) m.network.cutFrom(other.network!);
    m.cut = true;
  }

  heal(i: number): void {
    const m = this.members[i]!;
    for (const other of this.members) if (other !== m) m.network?.rejoin(other.network!);
    m.cut = false;
  }

  /** Puts the cluster back together after a fault: every member running, awake, joined, and healthy. */
  async restore(): Promise<void> {
    for (let i = 0; i < this.members.length; i++) {
      const m = this.members[i]!;
      if (m.cut) this.heal(i);
      if (!this.running(m)) this.restart(i);
      else if (m.paused) this.resume(i);
    }
    for (let i = 0; i < this.members.length; i++) await this.healthy(i);
  }

  /** Stops every member by pid (a hung one is woken first) and removes the member networks. */
  async stop(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        if (m.paused && this.running(m)) m.child!.kill('SIGCONT');
        await endChild(m.child, 'SIGTERM');
      }),
    );
    for (const m of this.members) m.network?.remove();
  }
}
