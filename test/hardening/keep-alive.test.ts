import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpClient } from '../../src/kv/http.js';

/**
 * A store closes an idle kept-alive connection just as watch sends its next request on it (the
 * two idle timeouts cross; on a busy machine timers fire late). That request never reached the
 * store: it is sent again on a new connection, not reported as the store being unreachable.
 */
describe('a kept-alive connection the store closes as it is reused', () => {
  const servers: net.Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  /** A raw HTTP server: every connection answers its first request, and resets (RST) on the second. */
  async function closingStore(): Promise<{ url: URL; connections: () => number; answered: () => number }> {
    let connections = 0;
    let answered = 0;
    const server = net.createServer((socket) => {
      connections += 1;
      let requests = 0;
      socket.on('data', (chunk) => {
        if (!chunk.toString('latin1').includes('\r\n\r\n')) return;
        requests += 1;
        if (requests > 1) return void socket.resetAndDestroy();
        answered += 1;
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
      });
      socket.on('error', () => {});
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as net.AddressInfo;
    return { url: new URL(`http://127.0.0.1:${port}/v1/kv/apps?recurse`), connections: () => connections, answered: () => answered };
  }

  it('the request is sent again on a new connection, once, and answered', async () => {
    const store = await closingStore();
    const client = new HttpClient({ insecure: false });
    try {
      for (let i = 0; i < 3; i++) {
        const answer = await client.request(store.url, { timeoutMs: 2000 });
        expect(answer.body.toString()).toBe('ok');
      }
      expect(store.answered()).toBe(3);
      expect(store.connections()).toBe(3);
    } finally {
      client.close();
    }
  });

  it('a reset on a new connection is an error at once: only a reused one is tried again', async () => {
    let connections = 0;
    const server = net.createServer((socket) => {
      connections += 1;
      socket.on('data', () => socket.resetAndDestroy());
      socket.on('error', () => {});
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const client = new HttpClient({ insecure: false });
    try {
      const url = new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`);
      await expect(client.request(url, { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'ECONNRESET' });
      expect(connections).toBe(1);
    } finally {
      client.close();
    }
  });
});
