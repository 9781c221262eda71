import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { showProc } from '../../src/haproxy/master-cli.js';
import { Backend, namesServed } from '../support/backends.js';
import { ROOT } from '../support/cli.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { continuousLoad, freePort, httpGet, waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { WatchProcess } from '../support/watch-process.js';

const PREFIX = 'apps/web/containers';

let backends: Backend[];
let store: ConsulKvServer;
let watch: WatchProcess | undefined;
let ports: { frontend: number; stats: number; status: number };
let dir: string;

beforeEach(async () => {
  backends = await Promise.all(['a', 'b', 'c', 'd'].map((name) => new Backend(name).start()));
  store = await new ConsulKvServer().start();
  ports = { frontend: await freePort(), stats: await freePort(), status: await freePort() };
  dir = makeTempDir();
});

afterEach(async () => {
  await watch?.stop();
  watch = undefined;
  await store.stop();
  await Promise.all(backends.map((b) => b.stop()));
});

const at = (i: number) => backends[i]!.address;
const config = () => join(dir, 'haproxy.cfg');

async function startWatch(extra: string[] = []): Promise<WatchProcess> {
  watch = new WatchProcess([
    '--kv', store.url, '--prefix', PREFIX, '--out', config(), '--exec', `haproxy -W -db -f ${config()}`,
    '--bind', '127.0.0.1', '--frontend-port', String(ports.frontend), '--stats-port', String(ports.stats),
    '--admin-socket', join(dir, 'admin.sock'), '--listen', `127.0.0.1:${ports.status}`, '--wait', '0', ...extra,
  ]);
  await watch.waitForLog(/^started haproxy/);
  return watch;
}

const servedBy = (names: string[], count = 8) =>
  waitFor(`HAProxy to serve exactly ${names.join(', ')}`, async () => {
    const seen = new Set(await namesServed(ports.frontend, count));
    return names.length === seen.size && names.every((n) => seen.has(n));
  });

const metric = async (name: string) =>
  Number(new RegExp(`^occs_lb_${name} (\\S+)$`, 'm').exec((await httpGet(ports.status, '/metrics')).body)?.[1]);

/** The current workers of the supervised HAProxy, from the master socket watch gave it. */
async function workers(w: WatchProcess): Promise<number[]> {
  const socket = /-S (\S+)/.exec(String((await w.waitForLog(/^started haproxy/)).msg))![1]!;
  return (await showProc(socket, 2000)).workers.filter((x) => x.current).map((x) => x.pid);
}

/** A copy of the default template with one more line, driven by the store. */
function templateWith(line: string, after: RegExp): string {
  const template = join(dir, 'haproxy.cfg.ejs');
  const text = readFileSync(join(ROOT, 'templates/haproxy.cfg.ejs'), 'utf8');
  writeFileSync(template, text.replace(after, (m) => `${m}\n${line}`));
  return template;
}

describe('server changes through the runtime API', () => {
  it('adds, removes and re-addresses servers with no reload: the same worker serves throughout', async () => {
    store.put(`${PREFIX}/one`, at(0));
    const w = await startWatch();
    await servedBy(['a']);
    const before = await workers(w);

    store.put(`${PREFIX}/two`, at(1));
    await servedBy(['a', 'b']);
    store.put(`${PREFIX}/one`, at(2)); // re-addressed: set server addr
    await servedBy(['c', 'b']);
    store.delete(`${PREFIX}/two`);
    await servedBy(['c']);

    expect(await workers(w)).toEqual(before);
    await waitFor('three runtime updates', async () => (await metric('runtime_updates_total')) === 3);
    expect(await metric('reloads_total')).toBe(0);
    expect(w.count(/^applied through the runtime API, no reload/)).toBe(3);
    await waitFor('the file to follow', () => readFileSync(config(), 'utf8').includes(`server one ${at(2)} check`) && !readFileSync(config(), 'utf8').includes('server two'));
  });

  it('skips the quiescence window: served long before a 20 s --wait would have allowed', async () => {
    store.put(`${PREFIX}/one`, at(0));
    await startWatch(['--wait', '20s:20s']);
    await servedBy(['a']);
    store.put(`${PREFIX}/two`, at(1));
    await waitFor('the new server, within 10 s', async () => new Set(await namesServed(ports.frontend, 8)).has('b'), 10_000);
    await waitFor('the runtime update to be counted', async () => (await metric('runtime_updates_total')) === 1);
    expect(await metric('reloads_total')).toBe(0);
  });

  it('a change to anything else still goes by a verified reload', async () => {
    const template = templateWith('    timeout server <%= getv("/apps/web/timeout", "30s") %>', /timeout server 30s/);
    store.put(`${PREFIX}/one`, at(0));
    const w = await startWatch(['--template', template, '--prefix', 'apps/web/timeout']);
    await servedBy(['a']);
    const before = await workers(w);
    const from = w.logs.length;
    store.put('apps/web/timeout', '45s');
    await w.waitForLog(/^reloaded: worker/, from);
    expect(await workers(w)).not.toEqual(before);
    expect(readFileSync(config(), 'utf8')).toContain('timeout server 45s');
    await servedBy(['a']);
  });

  it('a runtime command HAProxy refuses: the change is applied by reload, nothing lost', async () => {
    // `cookie` is fine in a config file, but HAProxy 2.6 refuses it for servers added at runtime.
    const template = templateWith('    cookie SRV insert indirect nocache', /balance <%= settings.balance %>/);
    writeFileSync(template, readFileSync(template, 'utf8').replace('<%= s.address %> check', '<%= s.address %> check cookie <%= s.name %>'));
    store.put(`${PREFIX}/one`, at(0));
    const w = await startWatch(['--template', template]);
    await servedBy(['a']);
    const from = w.logs.length;
    store.put(`${PREFIX}/two`, at(1));
    await w.waitForLog(/the runtime API did not take the change .*cookie.*; reloading instead/, from);
    await w.waitForLog(/^reloaded: worker/, from);
    await servedBy(['a', 'b']);
    expect(await metric('runtime_fallbacks_total')).toBe(1);
    expect(readFileSync(config(), 'utf8')).toContain(`server two ${at(1)} check cookie two`);
  });

  it('100 server changes under continuous load: 0 failed requests, 0 reloads', async () => {
    store.put(`${PREFIX}/one`, at(0));
    const w = await startWatch();
    await servedBy(['a']);
    const before = await workers(w);
    const load = continuousLoad(ports.frontend, 4);
    for (let i = 0; i < 100; i++) {
      // Alternately add a second server and take it away, moving it between backends.
      if (i % 2 === 0) store.put(`${PREFIX}/moving`, at(1 + ((i / 2) % 3)));
      else store.delete(`${PREFIX}/moving`);
      await waitFor('the change to be applied', async () => (await metric('runtime_updates_total')) === i + 1);
    }
    const stats = await load.stop();
    console.log(`runtime API under load: ${stats.ok} requests answered, ${stats.failed} failed during 100 server changes`);
    expect(stats.errors).toEqual([]);
    expect(stats.ok).toBeGreaterThan(100);
    expect(await metric('reloads_total')).toBe(0);
    expect(await workers(w)).toEqual(before);
  });
});
