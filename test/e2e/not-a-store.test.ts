import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

/** An answer as a plain web server gives it: a status, an HTML page (or the body given), no store's headers. */
type Answer = { status: number; body?: string; type?: string };

const page = (status: number, text: string): string =>
  `<!DOCTYPE HTML>\n<html lang="en">\n    <head>\n        <meta charset="utf-8">\n        <title>Error response</title>\n    </head>\n` +
  `    <body>\n        <h1>Error response</h1>\n        <p>Error code: ${status}</p>\n        <p>Message: ${text}.</p>\n    </body>\n</html>\n`;

/** python3 -m http.server: 404 to a GET of a file it does not have, 501 to any POST. */
const PYTHON = { GET: { status: 404, body: page(404, 'File not found') }, POST: { status: 501, body: page(501, 'Unsupported method (POST)') } };

let server: http.Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

/** A web server on a free port of 127.0.0.1 that is no key/value store; its address. */
async function webServer(answers: { GET: Answer; POST: Answer }): Promise<string> {
  server = http.createServer((req, res) => {
    req.resume();
    const answer = req.method === 'POST' ? answers.POST : answers.GET;
    res.writeHead(answer.status, { server: 'SimpleHTTP/0.6 Python/3.11.2', 'content-type': answer.type ?? 'text/html;charset=utf-8' });
    res.end(answer.body ?? '');
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const COMMANDS = [['render'], ['validate', '--no-haproxy'], ['validate', '--no-haproxy', '--format', 'json']];

async function expectNotAStore(kv: string, said: string, hint: string): Promise<void> {
  for (const command of COMMANDS) {
    const result = await runCli([...command, '--kv', kv, '--prefix', 'x']);
    const output = result.stdout + result.stderr;
    expect(result.code, `${command.join(' ')}: ${output}`).toBe(3);
    expect(output, command.join(' ')).toContain(said);
    expect(output, command.join(' ')).toContain(hint);
    expect(output, command.join(' ')).not.toMatch(/<!DOCTYPE|<html|<meta|<title|Error response|holds no keys/i);
  }
}

const ETCD = "does not look like etcd's v3 JSON gateway";
const ETCD_HINT = "etcd's client port is usually 2379";
const CONSUL = "does not look like Consul's (or OCCS's) key/value API";
const CONSUL_HINT = "Consul's HTTP port is usually 8500";

describe('an etcd:// URL pointed at a web server that is not etcd: exit 3, says so, shows no HTML', () => {
  it('python -m http.server (501 and an HTML page to a POST)', async () => {
    const address = await webServer(PYTHON);
    await expectNotAStore(`etcd://${address}`, `${ETCD} (it answered 501 to /v3/kv/range)`, ETCD_HINT);
  });

  it('a server that answers every request 200 with an HTML page', async () => {
    const address = await webServer({ GET: { status: 200, body: page(200, 'hello') }, POST: { status: 200, body: page(200, 'hello') } });
    await expectNotAStore(`etcd://${address}`, `${ETCD} (it answered 200 with an HTML page to /v3/kv/range)`, ETCD_HINT);
  });

  it("a JSON API that answers 200 without etcd's header", async () => {
    const json = { status: 200, body: '{"ok": true}', type: 'application/json' };
    const address = await webServer({ GET: json, POST: json });
    await expectNotAStore(`etcd://${address}`, `${ETCD} (it answered 200 without etcd's header to /v3/kv/range)`, ETCD_HINT);
  });

  it('a proxy that answers 500 with an HTML page', async () => {
    const address = await webServer({ GET: { status: 500, body: page(500, 'oops') }, POST: { status: 500, body: page(500, 'oops') } });
    await expectNotAStore(`etcd://${address}`, `${ETCD} (it answered 500 with an HTML page to /v3/kv/range)`, ETCD_HINT);
  });
});

describe('a consul:// URL pointed at a web server that is not Consul: exit 3 (never "no keys"), says so, shows no HTML', () => {
  it('python -m http.server (404 and an HTML page, no X-Consul-Index)', async () => {
    const address = await webServer(PYTHON);
    await expectNotAStore(`consul://${address}`, `${CONSUL}: it answered HTTP 404 without X-Consul-Index`, CONSUL_HINT);
  });

  it('a proxy that answers 404 with an empty body and no Consul headers', async () => {
    const address = await webServer({ GET: { status: 404 }, POST: { status: 404 } });
    await expectNotAStore(`http://${address}`, `${CONSUL}: it answered HTTP 404 without X-Consul-Index`, CONSUL_HINT);
  });

  it('a server that answers every request 200 with an HTML page', async () => {
    const address = await webServer({ GET: { status: 200, body: page(200, 'hello') }, POST: { status: 200, body: page(200, 'hello') } });
    await expectNotAStore(`consul://${address}`, `${CONSUL}: it answered an HTML page`, CONSUL_HINT);
  });
});
