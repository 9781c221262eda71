import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { commandsOf, docEnv, localize, runShell } from '../support/doc-blocks.js';
import { RUN } from '../support/doc-table.js';
import { EtcdCluster } from '../support/etcd-cluster.js';
import { EtcdServer } from '../support/etcd-server.js';
import { makeTempDir } from '../support/temp.js';

/**
 * The store commands of docs/getting-started.md and docs/stores.md, taken from the pages and run
 * as written by bash, against a real etcd (one member, and a cluster of three) and the Consul-KV
 * test server. Only fixed addresses and paths differ, through each test's substitution table:
 * the docs' store addresses become the test servers' free ports, /etc/haproxy/ and /run/secrets/
 * a temp dir. Everything else is the doc's text.
 */
const PREFIX = 'apps/myapp/containers';
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function consul(token?: string): Promise<ConsulKvServer> {
  const server = await new ConsulKvServer({ token }).start();
  stops.push(() => server.stop());
  server.put(`${PREFIX}/one`, '10.9.1.1:32001');
  return server;
}

describe('docs/getting-started.md: the old image environment and a Consul agent', () => {
  it('render > haproxy.cfg, render --out and render --template --strict run as written and hold the store servers', async () => {
    const server = await consul('s3cret-token');
    server.put('services/web/w1', '10.9.5.1:8080');
    const dir = makeTempDir();
    mkdirSync(join(dir, 'etc/haproxy'), { recursive: true });
    mkdirSync(join(dir, 'run/secrets'), { recursive: true });
    writeFileSync(join(dir, 'run/secrets/occs-token'), 's3cret-token\n');
    // The user's own template, in the directory the commands run in.
    copyFileSync(join(ROOT, 'templates/haproxy.cfg.ejs'), join(dir, 'my.cfg.ejs'));
    const table = [
      ['KV_IP=172.17.0.1 KV_PORT=9109', `KV_IP=127.0.0.1 KV_PORT=${server.port}`], // the OCCS/Consul address
      ['/run/secrets/', `${dir}/run/secrets/`],
      ['/etc/haproxy/', `${dir}/etc/haproxy/`],
      ['consul://127.0.0.1 ', `consul://127.0.0.1:${server.port} `], // the agent's default port, 8500
    ] as const;
    const commands = commandsOf(RUN.oldImageEnvironment).map((c) => localize(c, table));
    expect(commands).toHaveLength(5);
    const result = await runShell(commands, docEnv(), dir);
    expect(result.code, result.stderr).toBe(0);
    for (const file of ['haproxy.cfg', 'etc/haproxy/haproxy.cfg'])
      expect(readFileSync(join(dir, file), 'utf8')).toContain('    server one 10.9.1.1:32001 check');
    expect(result.stdout).toContain('    server w1 10.9.5.1:8080 check');
    expect(result.stdout).not.toContain('10.9.1.1');
  });
});

describe('docs/stores.md', () => {
  it('render from a Consul agent on 127.0.0.1:8500', async () => {
    const server = await consul();
    const commands = commandsOf(RUN.storesConsul).map((c) => localize(c, [['127.0.0.1:8500', `127.0.0.1:${server.port}`]]));
    const result = await runShell(commands, docEnv());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('    server one 10.9.1.1:32001 check');
  });

  it('render from a three-member etcd cluster (a real one, its three client addresses mapped)', async () => {
    const cluster = await new EtcdCluster().start(3);
    stops.push(() => cluster.stop());
    await cluster.put(`${PREFIX}/one`, '10.9.1.1:32001');
    const members = cluster.url.replace('etcd://', '').split(',');
    const table = ['10.0.0.1:2379', '10.0.0.2:2379', '10.0.0.3:2379'].map((from, i) => [from, members[i]!] as const);
    const commands = commandsOf(RUN.storesEtcdCluster).map((c) => localize(c, table));
    expect(commands[0]).toContain(cluster.url);
    const result = await runShell(commands, docEnv());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('    server one 10.9.1.1:32001 check');
  }, 60_000);

  it('render from etcd on 127.0.0.1:2379', async () => {
    const etcd = await new EtcdServer().start();
    stops.push(() => etcd.stop());
    await etcd.put(`${PREFIX}/one`, '10.9.1.1:32001');
    const commands = commandsOf(RUN.storesEtcd).map((c) => localize(c, [['127.0.0.1:2379', `127.0.0.1:${etcd.clientPort}`]]));
    const result = await runShell(commands, docEnv());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('    server one 10.9.1.1:32001 check');
  });
});
