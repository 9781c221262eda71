import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpGet } from './haproxy-process.js';

/** A real HTTP backend on 127.0.0.1: answers every request (and HAProxy's HEAD checks) with its name. */
export class Backend {
  private server?: http.Server;
  port = 0;
  hits = 0;
  /** Requests being answered right now (a slow backend holds them for `delayMs`). */
  pending = 0;

  constructor(
    readonly name: string,
    private readonly delayMs = 0,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const answer = () => {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': this.name, connection: 'close' });
        res.end(req.method === 'HEAD' ? undefined : this.name);
      };
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
