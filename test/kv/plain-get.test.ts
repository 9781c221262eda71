import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AnswerTooLargeError, HttpClient, HttpTimeoutError } from '../../src/kv/http.js';
import { PlainGet } from '../../src/kv/plain-get.js';

/** A TCP server that answers each request with `answer(request, n)`, written `piece` bytes at a time; counts connections. */
async function rawServer(answer: (request: string, n: number) => Buffer | string | undefined, piece = Infinity) {
  const connections: net.Socket[] = [];
  let requests = 0;
  const server = net.createServer((socket) => {
    connections.push(socket);
    let text = '';
    socket.on('error', () => {});
    socket.on('data', (data) => void reply(data));
    const reply = async (data: Buffer) => {
      text += data.toString('latin1');
      while (text.includes('\r\n\r\n')) {
        const request = text.slice(0, text.indexOf('\r\n\r\n'));
        text = text.slice(request.length + 4);
        const answered = answer(request, requests++);
        if (answered === undefined) continue;
        const bytes = Buffer.from(answered);
        for (let at = 0; at < bytes.length; at += piece) {
          socket.write(bytes.subarray(at, at + piece));
          if (piece !== Infinity) await new Promise((r) => setImmediate(r));
        }
        if (/^Connection: close$/m.test(bytes.toString('latin1'))) socket.end();
      }
    };
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/v1/kv/apps?recurse`);
  const stop = () => new Promise<void>((r) => (connections.forEach((c) => c.destroy()), server.close(() => r())));
  return { url, connections, stop, requests: () => requests };
}

const chunked = (body: string, size: number) => {
  let out = '';
  for (let at = 0; at < body.length; at += size)
    out += `${Buffer.byteLength(body.slice(at, at + size)).toString(16)};ext=1\r\n${body.slice(at, at + size)}\r\n`;
  return `HTTP/1.1 200 OK\r\nX-Consul-Index: 7\r\nTransfer-Encoding: chunked\r\n\r\n${out}0\r\nX-Trailer: yes\r\n\r\n`;
};
const sized = (body: string, extra = '') => `HTTP/1.1 200 OK\r\nX-Consul-Index: 7\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

const kept = Buffer.alloc(16);
const into = (size: number) => (kept.length >= size ? kept : Buffer.alloc(size));
const options = (over: Partial<Parameters<PlainGet['get']>[1]> = {}) => ({
  headers: { 'x-consul-token': 't' },
  timeoutMs: 5000,
  into,
  maxBytes: 1 << 20,
  ...over,
});

describe('plain-HTTP GETs read into a kept buffer (plain-get.ts)', () => {
  const stops: Array<() => Promise<void>> = [];
  let client = new PlainGet();
  afterEach(async () => {
    client.close();
    client = new PlainGet();
    for (const stop of stops.splice(0)) await stop();
  });
  const serve = async (...args: Parameters<typeof rawServer>) => {
    const server = await rawServer(...args);
    stops.push(server.stop);
    return server;
  };

  const body = JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ Key: `apps/s${i}`, Value: 'dsOkIOKAnCI=' })));
  it.each([
    ['Content-Length', () => sized(body), Infinity],
    ['Content-Length, a byte per write', () => sized(body), 1],
    ['chunked, with extensions and trailers', () => chunked(body, 1000), Infinity],
    ['chunked, 7 bytes per write (every separator split)', () => chunked(body, 333), 7],
    ['up to the close (no length)', () => `HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n${body}`, 5],
    ['Content-Length, lines ending in a bare LF', () => sized(body).replaceAll('\r\n', '\n'), 3],
  ])('reads an answer framed by %s, whole, with its status and headers', async (_, reply, piece) => {
    const server = await serve(() => reply(), piece);
    const answer = await client.get(server.url, options());
    expect(answer.status).toBe(200);
    expect(answer.body.toString('utf8')).toBe(body);
    expect(answer.headers['x-consul-index']).toBe(reply().includes('X-Consul-Index') ? '7' : undefined);
  });

  it('sends the path, query and headers, and keeps one connection for answers that allow it', async () => {
    const seen: string[] = [];
    const server = await serve((request) => (seen.push(request), sized('[]')));
    for (let i = 0; i < 3; i++) expect((await client.get(server.url, options())).body.toString()).toBe('[]');
    expect(seen[0]).toMatch(/^GET \/v1\/kv\/apps\?recurse HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\nx-consul-token: t$/);
    expect(server.connections).toHaveLength(1);
  });

  it('does not reuse a connection the server said it closes, or one that sent bytes no request asked for', async () => {
    const server = await serve((_, n) => (n === 0 ? sized('[]', 'Connection: close\r\n') : sized('[1]') + (n === 1 ? 'HTTP/1.1 200 OK\r\n' : '')));
    for (let i = 0; i < 3; i++) await client.get(server.url, options());
    expect(server.connections).toHaveLength(3);
  });

  it('takes no connection again that the server closed its side of, or said it closes by now (Keep-Alive: timeout)', async () => {
    const halfClosed = await serve(() => sized('[]', 'Connection: close\r\n'));
    const kept = await serve(() => sized('[]', 'Keep-Alive: timeout=1\r\n'));
    for (let i = 0; i < 3; i++) {
      await client.get(halfClosed.url, options());
      await client.get(kept.url, options());
    }
    expect([halfClosed.requests(), halfClosed.connections.length]).toEqual([3, 3]);
    expect([kept.requests(), kept.connections.length]).toEqual([3, 3]);
  });

  it('fails a GET under way when it is closed, even one read up to the close, and sends it to no new connection', async () => {
    const server = await serve((_, n) => (n === 0 ? sized('[]') : 'HTTP/1.0 200 OK\r\n\r\n[{"Key":'));
    await client.get(server.url, options());
    const cut = client.get(server.url, options());
    await new Promise((r) => setTimeout(r, 50));
    client.close();
    await expect(cut).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(server.connections).toHaveLength(1);
  });

  it('sends a GET again, once, on a new connection when the kept-alive one was closed as it was reused', async () => {
    const server = await serve((_, n) => (n === 1 ? undefined : sized('[]')));
    await client.get(server.url, options());
    // The server drops the kept connection as the second request arrives, before answering.
    server.connections[0]!.on('data', () => server.connections[0]!.destroy());
    expect((await client.get(server.url, options())).body.toString()).toBe('[]');
    expect(server.connections).toHaveLength(2);
  });

  it('fails a too large answer, a silent server, an aborted GET, a garbled answer and a header with a line break, each with its own error', async () => {
    const big = await serve(() => sized('x'.repeat(5000)));
    await expect(client.get(big.url, options({ maxBytes: 4096 }))).rejects.toBeInstanceOf(AnswerTooLargeError);
    const bigChunked = await serve(() => chunked('x'.repeat(5000), 1000));
    await expect(client.get(bigChunked.url, options({ maxBytes: 4096 }))).rejects.toBeInstanceOf(AnswerTooLargeError);
    const silent = await serve(() => undefined);
    await expect(client.get(silent.url, options({ timeoutMs: 100 }))).rejects.toBeInstanceOf(HttpTimeoutError);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    await expect(client.get(silent.url, options({ signal: abort.signal }))).rejects.toMatchObject({ name: 'AbortError' });
    const garbled = await serve(() => 'SSH-2.0-OpenSSH\r\n\r\n');
    await expect(client.get(garbled.url, options())).rejects.toMatchObject({ code: 'HPE_INVALID_RESPONSE' });
    const badChunk = await serve(() => 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    await expect(client.get(badChunk.url, options())).rejects.toMatchObject({ code: 'HPE_INVALID_RESPONSE' });
    // A control character is refused before anything is sent, also one that would pass as CR LF once cut to Latin-1; the value is never shown.
    for (const token of ['a\r\nx-evil: 1', 'abc\u010d\u010aX-Injected: yes']) {
      const refused = client.get(silent.url, options({ headers: { 'x-consul-token': token } }));
      await expect(refused).rejects.toMatchObject({ code: 'ERR_INVALID_CHAR', message: 'invalid character in the x-consul-token header' });
    }
    const badLength = await serve(() => 'HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\n[]');
    await expect(client.get(badLength.url, options())).rejects.toMatchObject({ code: 'HPE_INVALID_RESPONSE' });
    const cut = await serve(() => sized(body).slice(0, 100));
    const hangUp = client.get(cut.url, options());
    await new Promise((r) => setTimeout(r, 50));
    cut.connections[0]!.end();
    await expect(hangUp).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('is what HttpClient uses for a plain-HTTP GET read into a kept buffer, and only that', async () => {
    const get = vi.spyOn(PlainGet.prototype, 'get');
    const server = await serve(() => sized('[]'));
    const http = new HttpClient({ insecure: false });
    try {
      await http.request(server.url, { timeoutMs: 5000, into });
      expect(get).toHaveBeenCalledTimes(1);
      await http.request(server.url, { timeoutMs: 5000 });
      expect(get).toHaveBeenCalledTimes(1);
    } finally {
      http.close();
      get.mockRestore();
    }
  });
});
