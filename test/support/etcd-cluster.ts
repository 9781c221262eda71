import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort, waitFor } from './haproxy-process.js';
import { endChild } from './etcd-server.js';
import { makeTempDir } from './temp.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

interface Member {
  name: string;
  client: number;
  peer: number;
  child?: ChildProcess;
  log: string;
}

/**
 * A real etcd cluster of three members (Debian's etcd-server, v3.4) on 127.0.0.1 free ports,
 * each with a temp data dir, started together with `--initial-cluster`. Members are killed by pid
 * (kill -9, as a crash) and written to through any live member's JSON gateway.
 */
export class EtcdCluster {
  readonly dir = makeTempDir();
  private members: Member[] = [];

  /** `--kv` for the whole cluster: every member's client URL, the first one first. */
  get url(): string {
    return `etcd://${this.members.map((m) => `127.0.0.1:${m.client}`).join(',')}`;
  }

  /** Each member's client URL (http://127.0.0.1:PORT), as /healthz and the metrics name them. */
  get clientUrls(): string[] {
    return this.members.map((m) => `http://127.0.0.1:${m.client}`);
  }

  async start(size = 3): Promise<this> {
    for (let i = 0; i < size; i++) this.members.push({ name: `m${i}`, client: await freePort(), peer: await freePort(), log: '' });
    const initial = this.members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
    const token = `occs-lb-test-${process.pid}-${Date.now()}`;
    for (const m of this.members) {
      const client = `http://127.0.0.1:${m.client}`;
      const peer = `http://127.0.0.1:${m.peer}`;
      m.child = spawn(
        'etcd',
        [
          ...['--name', m.name, '--data-dir', join(this.dir, m.name)],
          ...['--listen-client-urls', client, '--advertise-client-urls', client],
          ...['--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer],
          ...['--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', token, '--log-level', 'error'],
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      m.child.stdout!.on('data', (d: Buffer) => (m.log += d.toString()));
      m.child.stderr!.on('data', (d: Buffer) => (m.log += d.toString()));
    }
    for (const m of this.members) {
      await waitFor(
        `etcd member ${m.name} to be healthy`,
        async () => (await fetch(`http://127.0.0.1:${m.client}/health`).catch(() => undefined))?.ok,
        30_000,
      ).catch((error) => {
        throw new Error(`${(error as Error).message}\n${m.log.slice(-2000)}`);
      });
    }
    return this;
  }

  /** Writes a key through the first live member that takes it. */
  async put(key: string, value: string): Promise<void> {
    let last: unknown;
    for (const m of this.members.filter((x) => x.child && x.child.exitCode === null && x.child.signalCode === null)) {
      try {
        const answer = await fetch(`http://127.0.0.1:${m.client}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: b64(key), value: b64(value) }) });
        if (answer.ok) return;
        last = new Error(`${m.name} answered ${answer.status}: ${await answer.text()}`);
      } catch (error) {
        last = error;
      }
    }
    throw last instanceof Error ? last : new Error('no live member took the write');
  }

  /** Waits until the live members have a leader again (a write goes through). */
  async settled(): Promise<void> {
    await waitFor(
      'the cluster to take writes',
      async () =>
        this.put('/occs-lb-test/settled', String(Date.now())).then(
          () => true,
          () => undefined,
        ),
      20_000,
    );
  }

  /** Kills member `i` at once (kill -9). */
  kill(i: number): Promise<void> {
    return this.end(this.members[i]!, 'SIGKILL');
  }

  /** Stops every member by pid. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => this.end(m, 'SIGTERM')));
  }

  private end(m: Member, signal: NodeJS.Signals): Promise<void> {
    return endChild(m.child, signal);
  }
}
