import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort, waitFor } from './haproxy-process.js';
import { makeTempDir } from './temp.js';
import { prefixEnd as rangeEnd } from '../../src/kv/etcd-keys.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** The first key after every key starting with `prefix` (etcd's range_end), base64. */
const prefixEnd = (prefix: string): string => rangeEnd(Buffer.from(prefix, 'utf8')).toString('base64');

/**
 * A real etcd (Debian's etcd-server, v3.4) on 127.0.0.1 free ports with a temp data dir, driven
 * through its JSON gateway. Stopped by pid; restarted on the same ports and data.
 */
export class EtcdServer {
  readonly dir = makeTempDir();

  /** `tls`: serve https with these files and demand client certificates signed by `ca`. */
  constructor(private readonly options: { tls?: { cert: string; key: string; ca: string } } = {}) {}
  private child?: ChildProcess;
  clientPort = 0;
  private peerPort = 0;
  private auth?: { user: string; password: string; token?: string };
  log = '';

  get url(): string {
    return `${this.options.tls ? 'etcds' : 'etcd'}://127.0.0.1:${this.clientPort}`;
  }

  private get endpoint(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.clientPort}`;
  }

  async start(): Promise<this> {
    if (!this.clientPort) [this.clientPort, this.peerPort] = [await freePort(), await freePort()];
    const peer = `http://127.0.0.1:${this.peerPort}`;
    this.child = spawn(
      'etcd',
      [
        '--name',
        'test',
        '--data-dir',
        join(this.dir, 'data'),
        '--listen-client-urls',
        this.endpoint,
        '--advertise-client-urls',
        this.endpoint,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `test=${peer}`,
        '--log-level',
        'error',
        ...(this.options.tls
          ? ['--cert-file', this.options.tls.cert, '--key-file', this.options.tls.key, '--trusted-ca-file', this.options.tls.ca, '--client-cert-auth']
          : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    await waitFor('etcd to answer', () => this.child!.exitCode === null && new Promise((r) => setTimeout(r, 50)).then(() => this.healthy()), 20_000).catch(
      (error) => {
        throw new Error(`${(error as Error).message}\n${this.log.slice(-2000)}`);
      },
    );
    return this;
  }

  /** etcd's /health (over TLS with the test client certificate when etcd demands one). */
  private async healthy(): Promise<boolean> {
    if (!this.options.tls) return (await fetch(`${this.endpoint}/health`)).ok;
    const { request } = await import('node:https');
    const { readFileSync } = await import('node:fs');
    const tls = this.options.tls;
    const dir = tls.ca.slice(0, tls.ca.lastIndexOf('/'));
    return new Promise((resolve) => {
      request(
        `${this.endpoint}/health`,
        { ca: readFileSync(tls.ca), cert: readFileSync(`${dir}/client.pem`), key: readFileSync(`${dir}/client.key`) },
        (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        },
      )
        .on('error', () => resolve(false))
        .end();
    });
  }

  /** Invalidates every token etcd has handed out (auth off and on again), as their expiry would. */
  async revokeTokens(): Promise<void> {
    await this.call('/v3/auth/disable', {});
    const saved = this.auth;
    this.auth = undefined;
    await this.call('/v3/auth/enable', {});
    this.auth = saved && { ...saved, token: undefined };
  }

  /** A token etcd gives `user` now. */
  async tokenFor(user: string, password: string): Promise<string> {
    const answer = await fetch(`${this.endpoint}/v3/auth/authenticate`, { method: 'POST', body: JSON.stringify({ name: user, password }) });
    return ((await answer.json()) as { token: string }).token;
  }

  /** Whether etcd still accepts a token. */
  async accepts(token: string): Promise<boolean> {
    const answer = await fetch(`${this.endpoint}/v3/kv/range`, { method: 'POST', headers: { authorization: token }, body: JSON.stringify({ key: b64('x') }) });
    return answer.status !== 401;
  }

  /** Stops etcd by pid (SIGTERM, then SIGKILL); the data dir stays for a restart. */
  stop(): Promise<void> {
    return this.end('SIGTERM');
  }

  /** Kills etcd by pid at once (kill -9), as a crash would; the data dir stays for a restart. */
  kill(): Promise<void> {
    return this.end('SIGKILL');
  }

  private end(signal: NodeJS.Signals): Promise<void> {
    return endChild(this.child, signal);
  }

  private async call(path: string, body: object, retry = true): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.auth) {
      this.auth.token ??= (
        (await (
          await fetch(`${this.endpoint}/v3/auth/authenticate`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ name: 'root', password: this.auth.password }),
          })
        ).json()) as { token: string }
      ).token;
      headers.authorization = this.auth.token;
    }
    const response = await fetch(`${this.endpoint}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    const answer = (await response.json()) as Record<string, unknown>;
    if (response.status === 401 && this.auth && retry) {
      this.auth.token = undefined; // tokens do not survive a restart of etcd
      return this.call(path, body, false);
    }
    if (!response.ok) throw new Error(`etcd ${path}: ${JSON.stringify(answer)}`);
    return answer;
  }

  async put(key: string, value: string): Promise<void> {
    await this.call('/v3/kv/put', { key: b64(key), value: b64(value) });
  }

  /** Deletes a key, or (recurse) every key under it, with or without a leading slash. */
  async delete(key: string, recurse = false): Promise<void> {
    for (const k of recurse ? [key, `/${key.replace(/^\/+/, '')}`] : [key]) {
      await this.call('/v3/kv/deleterange', recurse ? { key: b64(k), range_end: prefixEnd(k) } : { key: b64(k) });
    }
  }

  /** Compacts history up to the current revision (watchers from older revisions get cancelled). */
  async compact(): Promise<void> {
    const answer = await this.call('/v3/kv/range', { key: b64('\0'), count_only: true });
    const revision = (answer.header as { revision: string }).revision;
    await this.call('/v3/kv/compaction', { revision, physical: true });
  }

  /** Turns authentication on: root/rootpw, plus `user` who may read everything under `readable`. */
  async enableAuth(user: string, password: string, readable?: string): Promise<void> {
    await this.call('/v3/auth/user/add', { name: 'root', password: 'rootpw' });
    await this.call('/v3/auth/role/add', { name: 'root' });
    await this.call('/v3/auth/user/grant', { user: 'root', role: 'root' });
    await this.call('/v3/auth/user/add', { name: user, password });
    await this.call('/v3/auth/role/add', { name: 'reader' });
    const perm = readable ? { key: b64(readable), range_end: prefixEnd(readable) } : { key: b64('\0'), range_end: b64('\0') };
    await this.call('/v3/auth/role/grant', { name: 'reader', perm: { permType: 'READ', ...perm } });
    await this.call('/v3/auth/user/grant', { user, role: 'reader' });
    await this.call('/v3/auth/enable', {});
    this.auth = { user, password: 'rootpw' };
  }
}

/** Stops a child by pid with `signal`, and SIGKILL if it has not exited 5 s later; nothing if it is gone. */
export async function endChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
