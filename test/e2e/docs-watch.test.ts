import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Backend, namesServed } from '../support/backends.js';
import { ROOT } from '../support/cli.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { commandsOf, localize, runShell } from '../support/doc-blocks.js';
import { RUN } from '../support/doc-table.js';
import { docWatchRig } from '../support/doc-watch.js';
import { EtcdServer } from '../support/etcd-server.js';
import { httpGet, waitFor } from '../support/haproxy-process.js';

/**
 * The watch commands of docs/observability.md, docs/stack.md and docs/watch.md, taken from the
 * pages and run by bash as written, with a real HAProxy and the Consul-KV test server or a real
 * etcd. Substitution table (text only): the store addresses (consul://127.0.0.1:8500,
 * consul:8500) become the test store's, /etc/haproxy/ a temp dir, 127.0.0.1:9180 a free port.
 * The stack page's etcdctl lines ("or etcdctl for etcd") run against the same watch line with its
 * store address, consul://consul:8500, mapped to a real etcd's; etcdctl's own default address
 * (127.0.0.1:2379) is mapped through its ETCDCTL_ENDPOINTS variable. Ports and the admin socket
 * HAProxy gets: see test/support/doc-watch.ts.
 */
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function rig(extraEnv: Record<string, string> = {}) {
  const r = await docWatchRig(extraEnv);
  stops.push(() => r.stop());
  return r;
}

async function consul(): Promise<ConsulKvServer> {
  const server = await new ConsulKvServer().start();
  stops.push(() => server.stop());
  return server;
}

async function backend(name: string): Promise<Backend> {
  const b = await new Backend(name).start();
  stops.push(() => b.stop());
  return b;
}

/** The pairs of examples/stack.properties, the stack the docs' examples use. */
const stackPairs = readFileSync(join(ROOT, 'examples/stack.properties'), 'utf8')
  .split('\n')
  .filter((l) => l.includes('=') && !l.startsWith('#'))
  .map((l) => l.split('=', 2) as [string, string]);

describe('docs/observability.md', () => {
  it('watch in the background, then readyz, healthz and metrics answer through curl', async () => {
    const [r, store, web] = [await rig(), await consul(), await backend('web')];
    store.put('apps/myapp/containers/one', web.address);
    const table = [['127.0.0.1:8500', store.address], r.etcHaproxy, ['127.0.0.1:9180', `127.0.0.1:${r.ports.status}`]] as const;
    const [watch, ...curls] = commandsOf(RUN.observability).map((c) => localize(c, table));
    expect(watch).toMatch(/ &$/);
    const w = r.start(watch!);
    await waitFor('readyz to answer 200', async () => (await httpGet(r.ports.status, '/readyz')).status === 200 || (w.running ? undefined : false), 20_000);
    expect(curls).toHaveLength(3);
    const answers = [];
    for (const curl of curls) answers.push(await runShell([curl], r.env));
    for (const a of answers) expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(answers[1]!.stdout)).toMatchObject({ status: 'ok' });
    expect(answers[2]!.stdout).toMatch(/^occs_lb_\w+/m);
    expect((await namesServed(r.ports.frontend, 2))[0]).toBe('web');
  });
});

describe('docs/stack.md', () => {
  it('watch --stack on Consul, then the curl -X PUT changes reach HAProxy', async () => {
    const [r, store] = [await rig(), await consul()];
    // The example stack but the canary's weight, which the block sets.
    for (const [k, v] of stackPairs) if (k !== 'lb/weights/web/web-canary') store.put(k, v);
    const table = [['consul:8500', store.address], r.etcHaproxy] as const;
    const [watch] = commandsOf(RUN.stackWatch).map((c) => localize(c, table));
    r.start(watch!);
    const seeded = await r.servers('web', (s) => s.has('web-1'), 'backend web to be served');
    expect(seeded.get('web-canary')?.weight).not.toBe(10);
    const changes = commandsOf(RUN.stackConsulChanges).map((c) => localize(c, table));
    expect(changes).toHaveLength(3);
    const result = await runShell(changes, r.env);
    expect(result.code, result.stderr).toBe(0);
    await r.servers('web', (s) => s.has('web-4') && s.get('web-canary')?.weight === 10, 'web-4 in backend web, web-canary at weight 10');
    await waitFor('shop.example.com to be routed to web', async () => /shop\.example\.com\/ web/.test(await r.map('haproxy.hosts.map')));
  });

  it('the same watch on etcd, then the etcdctl changes reach HAProxy', async () => {
    const etcd = await new EtcdServer().start();
    stops.push(() => etcd.stop());
    // The store as the curl lines left it (web-4 in), api-2 not drained yet.
    for (const [k, v] of stackPairs) if (k !== 'lb/state/api/api-2') await etcd.put(k, v);
    await etcd.put('apps/web/containers/web-4', '10.9.2.4:8080');
    // etcdctl's default endpoint, 127.0.0.1:2379, is the test etcd's: set as etcdctl's own variable.
    const r = await rig({ ETCDCTL_ENDPOINTS: `127.0.0.1:${etcd.clientPort}` });
    const [watch] = commandsOf(RUN.stackWatch).map((c) => localize(c, [['consul://consul:8500', etcd.url], r.etcHaproxy]));
    r.start(watch!);
    await r.servers('web', (s) => s.has('web-4'), 'backend web to serve web-4');
    const changes = commandsOf(RUN.stackEtcdChanges);
    expect(changes).toHaveLength(2);
    const result = await runShell(changes, r.env);
    expect(result.code, result.stderr).toBe(0);
    await r.servers('api', (s) => s.get('api-2')?.weight === 0 && s.get('api-1')?.weight !== 0, 'api-2 to be drained (weight 0)');
    await r.servers('web', (s) => !s.has('web-4') || (s.get('web-4')!.admin & 0x01) !== 0, 'web-4 to leave backend web');
  });
});

describe('docs/watch.md', () => {
  it("watch --exec haproxy --out (the old image's environment: KV_IP, KV_PORT, OCCS_BACKEND_KEY) serves the store's server", async () => {
    const [store, web] = [await consul(), await backend('web')];
    store.put('apps/myapp/containers/one', web.address);
    const r = await rig({ KV_IP: '127.0.0.1', KV_PORT: String(store.port), OCCS_BACKEND_KEY: 'apps/myapp/containers' });
    const [watch] = commandsOf(RUN.watch).map((c) => localize(c, [r.etcHaproxy]));
    const w = r.start(watch!);
    await waitFor('HAProxy to serve web', async () => (await namesServed(r.ports.frontend, 1))[0] === 'web' || (w.running ? undefined : false), 20_000);
    expect(readFileSync(join(r.dir, 'haproxy.cfg'), 'utf8')).toContain(`server one ${web.address} check`);
  });
});
