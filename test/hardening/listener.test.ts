import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { routeOf } from '../../src/watch/http-server.js';
import { waitFor } from '../support/haproxy-process.js';
import { rawRequest, slowClient } from '../support/raw-http.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

const rig = useWatchRig();

/** Requests an attacker who reaches `--listen` could send, each on its own connection. */
const HOSTILE: Array<[string, string | Buffer]> = [
  ['an absolute URL that does not parse', 'GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['an absolute URL with a user', 'GET http://u@x/healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['an authority-form target', 'GET 127.0.0.1:80 HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['an asterisk target', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['CONNECT', 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n'],
  ['an unknown method', 'BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['a method the parser knows but we do not serve', 'DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['a bad percent-encoding', 'GET /%zz%%/../..%00 HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['a version that does not exist', 'GET /healthz HTTP/9.7\r\nHost: x\r\n\r\n'],
  ['binary garbage', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a])],
  ['a header line without a colon', 'GET /healthz HTTP/1.1\r\nHost x\r\n\r\n'],
  ['a header with a NUL byte', 'GET /healthz HTTP/1.1\r\nHost: a\u0000b\r\n\r\n'],
  ['64 KiB of headers', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`],
  ['10,000 small headers', `GET /healthz HTTP/1.1\r\nHost: x\r\n${'X-A: b\r\n'.repeat(10_000)}\r\n`],
  ['a bad chunked body', 'POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nboom\r\n'],
  ['both content-length and chunked', 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['a negative content-length', 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'],
];

describe('the --listen status server faces hostile clients', () => {
  it('answers every malformed, oversized or unknown request with a 4xx (or drops it), and watch and HAProxy keep serving', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const w = rig.startWatch(rig.store.url);
    await w.waitForLog(/^started haproxy/);
    await rig.servedBy(['a']);
    const port = rig.ports.status;

    for (const [what, bytes] of HOSTILE) {
      const outcome = await rawRequest(port, bytes);
      // A 4xx, or a connection closed without an answer: never a 2xx/5xx, never a hang.
      expect(
        outcome.statuses.every((s) => s >= 400 && s < 500),
        `${what}: ${outcome.text.slice(0, 200)}`,
      ).toBe(true);
      expect(outcome.statuses.length > 0 || outcome.closed, `${what}: neither answered nor closed`).toBe(true);
      expect(w.child.exitCode, `watch exited after ${what}`).toBe(null);
    }

    expect(await rig.status('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    await rig.servedBy(['a']);
  });

  it('serves pipelined requests in order, and absolute-form targets by their path', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const w = rig.startWatch(rig.store.url);
    await w.waitForLog(/^started haproxy/);
    await waitFor('/healthz to be ok', async () => (await rig.status('/healthz')).status === 200);

    const pipelined = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n';
    const outcome = await rawRequest(rig.ports.status, pipelined, { expectAnswers: 3 });
    expect(outcome.statuses).toEqual([200, 404, 200]);
    expect(outcome.text).toContain('occs_lb_renders_total');

    const absolute = await rawRequest(rig.ports.status, 'GET http://lb.example:9180/healthz?probe=1 HTTP/1.1\r\nHost: lb.example\r\n\r\n');
    expect(absolute.statuses).toEqual([200]);
  });

  it('cuts a client that sends its headers too slowly, and answers others meanwhile', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const w = rig.startWatch(rig.store.url);
    await w.waitForLog(/^started haproxy/);
    await waitFor('/healthz to be ok', async () => (await rig.status('/healthz')).status === 200);

    // From another loopback address, as another host would be (one address may hold 8 connections).
    const slow = Array.from({ length: 8 }, () => slowClient(rig.ports.status, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ', '127.0.0.2'));
    try {
      expect((await rig.status('/healthz')).status).toBe(200);
      // Node's header timeout is checked on a timer; the limit is 5 s.
      await waitFor('the slow clients to be cut', () => slow.every((s) => s.answer() !== undefined), 20_000);
      expect(slow.map((s) => s.answer()).filter((text) => text !== '' && !/^HTTP\/1\.1 408/.test(text!))).toEqual([]);
    } finally {
      for (const s of slow) s.destroy();
    }
    expect(w.child.exitCode).toBe(null);
    await rig.servedBy(['a']);
  });
});

describe('the --listen status server under a connection flood', () => {
  it('one client address holding many idle connections does not keep others from /healthz', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const w = rig.startWatch(rig.store.url);
    await w.waitForLog(/^started haproxy/);
    await waitFor('/healthz to be ok', async () => (await rig.status('/healthz')).status === 200);
    // Another loopback address, as another host would be.
    const idle = Array.from({ length: 100 }, () => net.connect({ port: rig.ports.status, host: '127.0.0.1', localAddress: '127.0.0.2' }).on('error', () => {}));
    try {
      await waitFor('the flood to be connected or refused', () => idle.every((s) => !s.connecting));
      expect(await rig.status('/healthz')).toEqual({ status: 200, body: 'ok\n' });
      expect(await rig.metric('renders_total')).toBeGreaterThan(0);
    } finally {
      for (const s of idle) s.destroy();
    }
  });
});

describe('routeOf: the path of a request target, without a URL parser that can throw', () => {
  it.each([
    ['/healthz', 'healthz'],
    ['/healthz?x=1', 'healthz'],
    ['/metrics#frag', 'metrics'],
    ['http://[', 'bad'],
    ['http://host', 'unknown'],
    ['http://x:99999999/healthz', 'healthz'],
    ['http://[::1]:9180/healthz', 'healthz'],
    ['http://[zz]/healthz', 'bad'],
    ['http://a b/healthz', 'bad'],
    ['HTTP://h:1/metrics', 'metrics'],
    ['*', 'bad'],
    ['host:80', 'bad'],
    ['', 'bad'],
    [undefined, 'bad'],
    ['/healthz/', 'unknown'],
    ['//healthz', 'unknown'],
  ] as const)('%s → %s', (target, route) => {
    expect(routeOf(target)).toBe(route);
  });
});
