import { writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { correctDrift, driftOf, type Drift } from '../../src/haproxy/drift.js';
import { expectedState } from '../../src/haproxy/expected-state.js';
import { readLiveState } from '../../src/haproxy/live-state.js';
import { masterCommand, showProc } from '../../src/haproxy/master-cli.js';
import { reloadViaMasterSocket } from '../../src/haproxy/reload-master.js';
import { runtimeChannel, type RuntimeChannel } from '../../src/haproxy/runtime-channel.js';
import { Backend } from '../support/backends.js';
import { adminConfigHead, freePort, HaproxyProcess, httpGet, waitFor } from '../support/haproxy-process.js';
import { serverStates } from '../support/server-states.js';

/*
 * HAProxy changed behind watch's back, by hand on its CLI, as an operator would: each kind of
 * drift is found and named, set right through the runtime API, found no more on a second look,
 * and the worker serving is the same one throughout (no reload).
 */

const names = ['a', 'b', 'c', 'd'] as const;
const backends = names.map((name) => new Backend(name));
const at = (name: (typeof names)[number]) => backends[names.indexOf(name)]!.address;
let closedPort = 0;

beforeAll(async () => {
  await Promise.all(backends.map((b) => b.start()));
  closedPort = await freePort();
});
afterAll(() => Promise.all(backends.map((b) => b.stop())));

let haproxy: HaproxyProcess;
let channel: RuntimeChannel;
let adminSocket = '';
let mapPath = '';
const MAP_TEXT = '# routes\napi.example api\nweb.example web\n';

/** Backend web: three servers that answer, one whose checks fail (DOWN), one `disabled`; backend api: one server; a map routes by Host. */
function config(port: number, { web = webServers(), api = true } = {}): string {
  return [
    ...adminConfigHead(adminSocket, port),
    `    use_backend %[req.hdr(host),lower,map_str(${mapPath},web)]`,
    'backend web',
    '    balance roundrobin',
    ...web.map((s) => `    server ${s}`),
    ...(api ? ['backend api', `    server api1 ${at('d')} check`] : []),
    '',
  ].join('\n');
}
const webServers = () => [
  `s1 ${at('a')} check inter 1s weight 10`,
  `s2 ${at('b')} check inter 1s weight 10`,
  `s3 ${at('c')} check inter 1s weight 10`,
  `down 127.0.0.1:${closedPort} check inter 100ms fall 1`,
  `off ${at('d')} check disabled`,
];

let installed = '';
beforeEach(async () => {
  haproxy = new HaproxyProcess(await freePort(), 'master-worker');
  adminSocket = join(haproxy.dir, 'admin.sock');
  mapPath = join(haproxy.dir, 'hosts.map');
  writeFileSync(mapPath, MAP_TEXT);
  installed = config(haproxy.port);
  haproxy.writeConfig(installed);
  await haproxy.start();
  channel = runtimeChannel('master', haproxy.socket);
  await waitFor('the server whose checks fail to be DOWN', async () => (await serverStates(adminSocket, 'web')).get('down')?.op === 0);
});
afterEach(() => haproxy.stop());

/** One verification, as watch would make it: what the installed files say against what HAProxy runs. */
async function verify(over = channel): Promise<Drift> {
  const expected = expectedState(installed, new Map([[mapPath, MAP_TEXT]]));
  return driftOf(expected, await readLiveState(over, expected));
}

/** The operator's commands, each answered as HAProxy answers a command it took. */
async function byHand(...commands: string[]): Promise<void> {
  for (const command of commands) {
    const answer = (await masterCommand(adminSocket, command, 2000)).trim();
    expect(answer, command).toMatch(/^$|^New server registered\.$|^Server deleted\.$|changed from/);
  }
}

const workers = async () => (await showProc(haproxy.socket, 2000)).workers.filter((w) => w.current).map((w) => w.pid);

/** The names of the servers that answer requests with this Host, over enough requests to see each. */
async function served(host = 'web.example'): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) seen.add((await httpGet(haproxy.port, '/', 3000, { host })).body);
  return [...seen].sort();
}
const servedBy = (list: string[], host?: string) =>
  waitFor(`HAProxy to serve exactly ${list.join(', ')}`, async () => (await served(host)).join() === list.join() || undefined);

/** Sets right the drift found, then looks again: none, and the same worker. */
async function correctAndCheck(drift: Drift, pids: number[]): Promise<void> {
  if (drift.kind !== 'runtime') throw new Error(`expected runtime corrections, got ${JSON.stringify(drift)}`);
  await correctDrift(channel, drift, 2000);
  expect(await verify()).toEqual({ kind: 'none' });
  expect(await workers()).toEqual(pids);
}

describe('drift found and set right against a real HAProxy, with no reload', () => {
  it('finds none on a HAProxy just started from the config (a server DOWN by its checks, a disabled one), over both ways in', async () => {
    expect((await serverStates(adminSocket, 'web')).get('off')).toMatchObject({ admin: 5 });
    expect(await verify()).toEqual({ kind: 'none' });
    expect(await verify(runtimeChannel('admin', adminSocket))).toEqual({ kind: 'none' });
    await servedBy(['a', 'b', 'c']);
  });

  // Commands and findings are built when the test runs: the backends' ports are known only then.
  const kinds: Array<[string, () => string[], () => string[], string[]]> = [
    ['forced maintenance', () => ['set server web/s1 state maint'], () => ['web/s1 is in maintenance'], ['b', 'c']],
    ['forced drain', () => ['set server web/s1 state drain'], () => ['web/s1 is draining'], ['b', 'c']],
    ['a weight (set weight)', () => ['set weight web/s2 0'], () => ['web/s2 has weight 0, not 10'], ['a', 'c']],
    ['a weight (set server … weight)', () => ['set server web/s3 weight 3'], () => ['web/s3 has weight 3, not 10'], ['a', 'b', 'c']],
    ['a disabled server set ready', () => ['set server web/off state ready'], () => ['web/off is not in maintenance'], ['a', 'b', 'c', 'd']],
    [
      'an address',
      () => [`set server web/s1 addr 127.0.0.1 port ${at('d').split(':')[1]}`],
      () => [`web/s1 is at ${at('d')}, not ${at('a')}`],
      ['b', 'c', 'd'],
    ],
    ['a server deleted', () => ['set server web/s2 state maint', 'del server web/s2'], () => ['web/s2 is missing'], ['a', 'c']],
    ['a server added', () => [`add server web/x ${at('d')}`, 'enable server web/x'], () => ['web/x is not in the config'], ['a', 'b', 'c', 'd']],
  ];
  it.each(kinds)('%s', async (_, commands, found, servedMeanwhile) => {
    const pids = await workers();
    await byHand(...commands());
    await servedBy(servedMeanwhile);
    const drift = await verify();
    expect(drift).toMatchObject({ kind: 'runtime', found: found() });
    await correctAndCheck(drift, pids);
    await servedBy(['a', 'b', 'c']);
  });

  it('a server deleted by hand comes back with its own options: its health check runs again', async () => {
    await byHand('set server web/down state maint', 'del server web/down');
    const drift = await verify();
    expect(drift).toMatchObject({ kind: 'runtime', found: ['web/down is missing'], backends: [{ added: [{ name: 'down' }] }] });
    await correctDrift(channel, drift as Extract<Drift, { kind: 'runtime' }>, 2000);
    // srv_check_state: configured (0x02) and enabled (0x04), as the file's `check` makes it.
    expect((await serverStates(adminSocket, 'web')).get('down')?.check).toBe(0x06);
    await waitFor('its check to mark it DOWN', async () => (await serverStates(adminSocket, 'web')).get('down')?.op === 0);
    expect(await verify()).toEqual({ kind: 'none' });
  });

  it.each([
    ['set map', (p: string) => `set map ${p} web.example api`, '1 entry differs (web.example)', ['d']],
    ['del map', (p: string) => `del map ${p} web.example`, '1 entry differs (web.example)', ['a', 'b', 'c']],
    ['add map', (p: string) => `add map ${p} other.example api`, '1 entry differs (other.example)', ['a', 'b', 'c']],
  ])('a map entry changed by hand (%s): the map is swapped whole', async (_, command, found, servedMeanwhile) => {
    const pids = await workers();
    await byHand(command(mapPath));
    await servedBy(servedMeanwhile);
    const drift = await verify();
    expect(drift).toMatchObject({ kind: 'runtime', found: [`${mapPath}: ${found}`], backends: [] });
    await correctAndCheck(drift, pids);
    await servedBy(['a', 'b', 'c']);
    await servedBy(['d'], 'api.example');
  });

  it('several at once: all named, all set right in one correction', async () => {
    const pids = await workers();
    await byHand('set server web/s1 state maint', 'set weight web/s2 4', `set map ${mapPath} api.example web`, `add server web/y ${at('d')}`);
    const drift = await verify();
    expect(drift).toMatchObject({
      kind: 'runtime',
      found: ['web/s1 is in maintenance', 'web/s2 has weight 4, not 10', 'web/y is not in the config', `${mapPath}: 1 entry differs (api.example)`],
    });
    await correctAndCheck(drift, pids);
    await servedBy(['d'], 'api.example');
  });

  /** Another tool reloads HAProxy on an older file: a new worker, running what that file says. */
  async function reloadWith(text: string): Promise<number[]> {
    haproxy.writeConfig(text);
    const { after } = await reloadViaMasterSocket(haproxy.socket, async () => void (await masterCommand(haproxy.socket, 'reload', 5000)), 10_000);
    return after;
  }

  it('a worker reloaded by another tool on an older config (fewer servers, other weights): the servers are added, the weights set', async () => {
    const older = webServers()
      .filter((s) => !s.startsWith('s3 '))
      .map((s) => s.replace('weight 10', 'weight 1'));
    const pids = await reloadWith(config(haproxy.port, { web: older }));
    const drift = await verify();
    expect(drift).toMatchObject({ kind: 'runtime', found: ['web/s1 has weight 1, not 10', 'web/s2 has weight 1, not 10', 'web/s3 is missing'] });
    await correctAndCheck(drift, pids);
    await servedBy(['a', 'b', 'c']);
  });

  it('a server at an IPv4-mapped IPv6 address, which HAProxy prints dotted (::ffff:127.0.0.1): no drift; moved by hand, named as HAProxy prints it and set right', async () => {
    const port = at('d').split(':')[1]!;
    installed = config(haproxy.port, { web: [...webServers(), `v4 [::ffff:127.0.0.1]:${port} weight 10`] });
    const pids = await reloadWith(installed);
    expect(await verify()).toEqual({ kind: 'none' });
    await byHand(`set server web/v4 addr ::ffff:127.0.0.2 port ${port}`);
    const drift = await verify();
    expect(drift).toMatchObject({ kind: 'runtime', found: [`web/v4 is at [::ffff:127.0.0.2]:${port}, not [::ffff:127.0.0.1]:${port}`] });
    await correctAndCheck(drift, pids);
  });

  it('a server whose agent check drains it or puts it in maintenance is as its agent says: no drift (a reload would not last)', async () => {
    let word = 'drain';
    // HAProxy may reset an agent's connection: no error of ours.
    const agent = net.createServer((c) => c.on('error', () => {}).end(`${word}\n`));
    await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
    const admin = async () => (await serverStates(adminSocket, 'web')).get('agent')?.admin ?? 0;
    try {
      const line = `agent ${at('d')} weight 10 agent-check agent-port ${(agent.address() as AddressInfo).port} agent-inter 100ms`;
      installed = config(haproxy.port, { web: [...webServers(), line] });
      await reloadWith(installed);
      await waitFor('the agent to drain it', async () => ((await admin()) & 0x08) !== 0 || undefined);
      expect(await verify()).toEqual({ kind: 'none' });
      word = 'maint';
      await waitFor('the agent to put it in maintenance', async () => ((await admin()) & 0x01) !== 0 || undefined);
      expect(await verify()).toEqual({ kind: 'none' });
    } finally {
      agent.close();
    }
  });

  it('a worker reloaded on an older config without a backend: only a reload sets it right', async () => {
    await reloadWith(config(haproxy.port, { api: false }));
    expect(await verify()).toEqual({ kind: 'reload', found: ['backend api is missing'], reason: 'backend api is missing' });
  });
});
