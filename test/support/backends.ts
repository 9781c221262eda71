import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpGet } from './haproxy-process.js';

export interface BackendOptions {
  /**
   * Keep connections open between requests (no `connection: close`), for 60 s of idleness, so
   * HAProxy can reuse its connections to this backend. Off by default: each answer closes.
   */
  keepAlive?: boolean;
}

/** A real HTTP backend on 127.0.0.1: answers every request (and HAProxy's HEAD checks) with its name. */
export class Backend {
  private server?: http.Server;
  port = 0;
  hits = 0;
  /** Requests being answered right now (a slow backend holds them for `delayMs`). */
  pending = 0;
  /** TCP connections accepted, health checks included. */
  connections = 0;
  /** TCP connections that carried at least one request counted in `hits` (health checks left out). */
  servingConnections = 0;
  private readonly served = new WeakSet<object>();

  constructor(
    readonly name: string,
    private readonly delayMs = 0,
    private readonly options: BackendOptions = {},
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const answer = () => {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': this.name, ...(this.options.keepAlive ? {} : { connection: 'close' }) });
        res.end(req.method === 'HEAD' ? undefined : this.name);
      };
      if (req.method !== 'HEAD' && !this.served.has(req.socket)) {
        this.served.add(req.socket);
        this.servingConnections += 1;
      }
      if (req.method === 'HEAD' || this.delayMs === 0) {
        if (req.method !== 'HEAD') this.hits += 1;
        return answer();
      }
      this.hits += 1;
      this.pending += 1;
      setTimeout(() => {
        this.pending -= 1;
        answer();
      }, this.delayMs);
    });
    this.server.on('connection', () => (this.connections += 1));
    if (this.options.keepAlive) this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Which backends answer `count` requests through HAProxy's frontend (names, in order). */
export async function namesServed(port: number, count: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) names.push((await httpGet(port)).body);
  return names;
}
