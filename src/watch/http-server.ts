import http from 'node:http';
import { usageError, systemErrorCode } from '../errors.js';
import type { WatchState } from './state.js';

/** `--listen HOST:PORT`: /healthz (200 or 503 with the reason) and /metrics (Prometheus text). */
export async function serveStatus(state: WatchState, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/healthz') {
      const { ok, reason } = state.health();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' }).end(`${reason}\n`);
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(state.metrics());
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('try /healthz or /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(usageError(`cannot listen on ${host}:${port} (${systemErrorCode(error) ?? String(error)})`, { hint: 'choose another --listen address' })),
    );
    server.listen(port, host, () => resolve());
  });
  return server;
}
