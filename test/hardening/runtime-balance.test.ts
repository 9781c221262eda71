import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { masterCommand } from '../../src/haproxy/master-cli.js';
import { Backend } from '../support/backends.js';
import { ROOT } from '../support/cli.js';
import { httpGet, waitFor } from '../support/haproxy-process.js';
import type { WatchProcess } from '../support/watch-process.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

/*
 * Servers added through the runtime API must serve like servers of the config file on the
 * HAProxy installed here (2.6): reuse their backend connections, and get their share of the
 * traffic. Where 2.6 cannot give that (random, consistent hashing, HTTP/2 servers), the change
 * must go by reload.
 */

const rig = useWatchRig();
const { metric } = rig;
const at = (i: number) => rig.address(i);
const put = (name: string, address: string) => rig.store.put(`${PREFIX}/${name}`, address);

/** Servers a test starts on top of the rig's four, stopped after it. */
const extra: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(extra.splice(0).map((s) => s.stop()));
});

async function startWatch(args: string[] = []): Promise<WatchProcess> {
  const w = rig.startWatch(rig.store.url, args);
  await w.waitForLog(/^started haproxy/);
  return w;
}

/** A copy of the default template with `from` replaced by `to`. */
function templateWith(from: string, to: string): string {
  const template = join(rig.dir, 'haproxy.cfg.ejs');
  const text = readFileSync(join(ROOT, 'templates/haproxy.cfg.ejs'), 'utf8');
  if (!text.includes(from)) throw new Error(`the default template has no ${JSON.stringify(from)}`);
  writeFileSync(template, text.replace(from, to));
  return template;
}

/** `count` GETs through HAProxy from `clients` concurrent clients; the bodies (backend names). */
async function spread(
  count: number,
  { clients = 3, path = (_: number) => '/', agent }: { clients?: number; path?: (i: number) => string; agent?: http.Agent } = {},
): Promise<string[]> {
  const names: string[] = [];
  let next = 0;
  const get = (p: string) =>
    agent
      ? new Promise<string>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port: rig.ports.frontend, path: p, agent }, (res) => {
              let body = '';
              res.setEncoding('utf8').on('data', (d: string) => (body += d));
              res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
            })
            .on('error', reject);
        })
      : httpGet(rig.ports.frontend, p).then((a) => (a.status === 200 ? a.body : Promise.reject(new Error(`HTTP ${a.status}`))));
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < count) names.push(await get(path(next++)));
    }),
  );
  return names;
}

const tally = (names: string[]) => names.reduce((m, n) => m.set(n, (m.get(n) ?? 0) + 1), new Map<string, number>());

/** Waits until requests over distinct paths reach exactly these backends. */
const servedBy = (names: string[], path = (i: number) => `/spread/${i}`) =>
  waitFor(`HAProxy to serve exactly ${names.join(', ')}`, async () => {
    const seen = tally(await spread(30, { path }));
    return seen.size === names.length && names.every((n) => seen.has(n));
  });

describe('servers added through the runtime API serve like config servers (HAProxy 2.6)', () => {
  it('a server added through the runtime API reuses backend connections like a config server', async () => {
    const backends = await Promise.all(['kept', 'added'].map((n) => new Backend(n, 0, { keepAlive: true }).start()));
    extra.push(...backends);
    const [config, added] = backends as [Backend, Backend];
    put('one', config.address);
    await startWatch();
    await servedBy(['kept']);
    put('two', added.address);
    await servedBy(['kept', 'added']);
    await waitFor('the runtime update to be counted', async () => (await metric('runtime_updates_total')) === 1);
    expect(await metric('reloads_total')).toBe(0);

    const before = backends.map((b) => ({ hits: b.hits, connections: b.servingConnections }));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    try {
      await spread(400, { clients: 4, agent });
    } finally {
      agent.destroy();
    }
    const used = backends.map((b, i) => {
      const hits = b.hits - before[i]!.hits;
      const connections = b.servingConnections - before[i]!.connections;
      return { hits, connections, perConnection: hits / Math.max(1, connections) };
    });
    const [c, a] = [used[0]!, used[1]!];
    console.log(
      `requests per backend connection: config server ${c.hits}/${c.connections} = ${c.perConnection.toFixed(1)}, runtime-added ${a.hits}/${a.connections} = ${a.perConnection.toFixed(1)}`,
    );
    expect(a.hits).toBeGreaterThan(100);
    expect(a.perConnection).toBeGreaterThan(10);
    expect(a.perConnection).toBeGreaterThanOrEqual(c.perConnection / 2);
    expect(await metric('reloads_total')).toBe(0);
  });

  it.each(['roundrobin', 'leastconn'])('balance %s: two servers added at runtime to one config server each get an even share', async (balance) => {
    put('one', at(0));
    await startWatch(['--balance', balance]);
    await servedBy(['a']);
    put('two', at(1));
    put('three', at(2));
    await servedBy(['a', 'b', 'c']);
    await waitFor('the runtime updates to be counted', async () => (await metric('runtime_updates_total')) >= 1);
    expect(await metric('reloads_total')).toBe(0);

    const shares = tally(await spread(300));
    console.log(`balance ${balance} after runtime adds: ${JSON.stringify(Object.fromEntries(shares))}`);
    for (const name of ['a', 'b', 'c']) {
      expect(shares.get(name) ?? 0).toBeGreaterThanOrEqual(75);
      expect(shares.get(name) ?? 0).toBeLessThanOrEqual(125);
    }
    expect(await metric('reloads_total')).toBe(0);
  });

  it.each([
    ['balance random', () => ['--balance', 'random'], 600, (n: number) => n >= 130 && n <= 270],
    [
      'a consistent uri hash',
      () => ['--template', templateWith('balance <%= settings.balance %>', 'balance uri\n    hash-type consistent')],
      600,
      (n: number) => n > 60,
    ],
  ])('%s: an added server goes by a verified reload, and every server gets a fair share', async (what, args, count, fair) => {
    put('one', at(0));
    const w = await startWatch(args());
    await servedBy(['a']);
    const from = w.logs.length;
    put('two', at(1));
    put('three', at(2));
    await w.waitForLog(/^reloaded: worker/, from);
    await servedBy(['a', 'b', 'c']);
    await waitFor('the file to hold both new servers', () => ['two', 'three'].every((n) => readFileSync(rig.config(), 'utf8').includes(`server ${n} `)));
    expect(await metric('reloads_total')).toBeGreaterThanOrEqual(1);
    expect(await metric('runtime_updates_total')).toBe(0);
    expect(await metric('runtime_fallbacks_total')).toBe(0);

    const shares = tally(await spread(count, { path: (i) => `/item/${i}` }));
    console.log(`${what} after a reload: ${JSON.stringify(Object.fromEntries(shares))}`);
    for (const name of ['a', 'b', 'c']) expect(fair(shares.get(name) ?? 0), `${name} got ${shares.get(name) ?? 0} of ${count}`).toBe(true);
  });

  it('a server line with proto h2 goes by a verified reload (servers added at runtime would carry one request per connection)', async () => {
    // HTTP/2 backends without TLS (prior knowledge), answering with their name.
    const h2 = await Promise.all(
      ['h2a', 'h2b'].map(
        (name) =>
          new Promise<{ address: string; stop(): Promise<void> }>((resolve) => {
            const server = http2.createServer();
            const sessions = new Set<http2.ServerHttp2Session>();
            server.on('session', (session) => {
              sessions.add(session);
              session.on('close', () => sessions.delete(session));
            });
            server.on('stream', (stream) => {
              stream.respond({ ':status': 200, 'content-type': 'text/plain' });
              stream.end(name);
            });
            server.listen(0, '127.0.0.1', () =>
              resolve({
                address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
                stop: () =>
                  new Promise<void>((done) => {
                    server.close(() => done());
                    for (const session of sessions) session.destroy();
                  }),
              }),
            );
          }),
      ),
    );
    extra.push(...h2);
    const template = templateWith('<%= s.address %> check', '<%= s.address %> proto h2');
    put('one', h2[0]!.address);
    const w = await startWatch(['--template', template]);
    await servedBy(['h2a']);
    const from = w.logs.length;
    put('two', h2[1]!.address);
    await w.waitForLog(/^reloaded: worker/, from);
    await servedBy(['h2a', 'h2b']);
    expect(readFileSync(rig.config(), 'utf8')).toContain(`server two ${h2[1]!.address} proto h2`);
    expect(await metric('runtime_updates_total')).toBe(0);
    expect(await metric('runtime_fallbacks_total')).toBe(0);
  });

  it('a server that went DOWN holding pooled idle connections is still removed at runtime, with no reload', async () => {
    // HAProxy 2.6 closes a server's idle connections when it goes from UP to maintenance, not
    // when it was DOWN already: then `del server` is refused until the pool purge (tens of seconds).
    const backends = await Promise.all(['kept', 'leaving'].map((n) => new Backend(n, 0, { keepAlive: true }).start()));
    extra.push(...backends);
    put('one', backends[0]!.address);
    const w = await startWatch();
    await servedBy(['kept']);
    put('two', backends[1]!.address);
    await servedBy(['kept', 'leaving']);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    try {
      await spread(200, { clients: 4, agent });
    } finally {
      agent.destroy();
    }
    const socket = join(rig.dir, 'admin.sock');
    const idle = async (server: string) => {
      const [header, ...rows] = (await masterCommand(socket, 'show servers conn nginx_80', 2000)).trim().split('\n');
      const column = header!.replace(/^# /, '').split(' ').indexOf('idle_cur');
      return Number(rows.map((r) => r.split(' ')).find((r) => r[0] === `nginx_80/${server}`)?.[column]);
    };
    expect(await idle('two')).toBeGreaterThan(0);
    expect(await masterCommand(socket, 'set server nginx_80/two health down', 2000)).toMatch(/^\s*$/);

    const from = w.logs.length;
    rig.store.delete(`${PREFIX}/two`);
    await w.waitForLog(/^applied through the runtime API, no reload: 0 added, 1 removed/, from);
    await servedBy(['kept']);
    await waitFor('the runtime update to be counted', async () => (await metric('runtime_updates_total')) === 2);
    expect(await metric('runtime_fallbacks_total')).toBe(0);
    expect(await metric('reloads_total')).toBe(0);
  });
});
