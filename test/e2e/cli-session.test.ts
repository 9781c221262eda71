import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { shownEntries, type MapEntry } from '../../src/haproxy/map-file.js';
import { masterCommand } from '../../src/haproxy/master-cli.js';
import { runtimeChannel, type RuntimeChannel } from '../../src/haproxy/runtime-channel.js';
import { applyMaps } from '../../src/haproxy/runtime-maps.js';
import { failure } from '../support/failure.js';
import { waitFor, type HaproxyProcess } from '../support/haproxy-process.js';
import { haproxyWithSockets } from '../support/haproxy-sockets.js';
import { makeTempDir } from '../support/temp.js';

/**
 * A map swap's commands through one connection to a real HAProxy's CLI in interactive mode
 * (src/haproxy/cli-session.ts), on the master CLI and on an admin socket: each answer as a
 * connection of its own gives it, and a session HAProxy closes fails what was under way.
 */
describe('commands one after another on one CLI connection of a real HAProxy', () => {
  let haproxy: HaproxyProcess;
  let adminSocket = '';
  const dir = makeTempDir();
  const hosts = join(dir, 'hosts.map');
  const socketOf = (kind: 'master' | 'admin') => (kind === 'master' ? haproxy.socket : adminSocket);

  beforeAll(async () => {
    writeFileSync(hosts, 'old.example.test/ pool\n');
    ({ haproxy, adminSocket } = await haproxyWithSockets(['backend pool', `    http-request set-header X-App %[req.hdr(host),lower,map_beg(${hosts})]`]));
  });
  afterAll(() => haproxy.stop());
  afterEach(() => vi.restoreAllMocks());

  it.each(['master', 'admin'] as const)('answers each command through the %s CLI as a connection of its own does, payloads and refusals too', async (kind) => {
    const alone = runtimeChannel(kind, socketOf(kind));
    const answers = await alone.session!(async (channel) => {
      const shown = await channel.send(`show map ${hosts}`);
      const unknown = await channel.send(`show map ${join(dir, 'none.map')}`);
      const prepared = await channel.send(`prepare map ${hosts}`);
      const version = /^New version created: (\d+)$/m.exec(prepared)?.[1];
      const filled = await channel.sendPayload(`add map @${version} ${hosts}`, 'a.example.test/ pool\nb.example.test/ pool', 'map');
      const listed = await channel.send(`show map @${version} ${hosts}`);
      return { shown, unknown, prepared, version, filled, listed };
    });
    expect(answers.shown).toBe(await alone.send(`show map ${hosts}`));
    expect(answers.unknown).toBe(await alone.send(`show map ${join(dir, 'none.map')}`));
    expect(answers.unknown).toMatch(/^Unknown map identifier/);
    expect(answers.version).toMatch(/^\d+$/);
    // The payload's own answer, without the `+ ` prompts HAProxy shows for its lines: an empty line, as on a connection of its own.
    expect(answers.filled).toBe('\n');
    expect(shownEntries(answers.listed)).toEqual([
      ['a.example.test/', 'pool'],
      ['b.example.test/', 'pool'],
    ]);
    // Not committed: requests still read the old version.
    expect(shownEntries(await alone.send(`show map ${hosts}`))).toEqual([['old.example.test/', 'pool']]);
  });

  it.each(['master', 'admin'] as const)('swaps a map through the %s CLI on one connection, where each command took one', async (kind) => {
    const connections = () => vi.mocked(net.createConnection).mock.calls.filter(([options]) => (options as { path?: string }).path === socketOf(kind)).length;
    vi.spyOn(net, 'createConnection');
    const entries: MapEntry[] = [
      [`${kind}.example.test/`, 'pool'],
      ['old.example.test/', 'pool'],
    ];
    await applyMaps(runtimeChannel(kind, socketOf(kind)), [{ path: hosts, entries }]);
    expect(connections()).toBe(1);
    // The same swap through a channel that has no session: prepare, add, show and commit, one connection each.
    const channel = runtimeChannel(kind, socketOf(kind));
    const single: RuntimeChannel = {
      description: channel.description,
      send: (c) => channel.send(c),
      sendPayload: (c, p, k) => channel.sendPayload(c, p, k),
      sendAll: (commands) => channel.sendAll(commands),
    };
    await applyMaps(single, [{ path: hosts, entries: entries.slice(0, 1) }]);
    expect(connections()).toBe(5);
    expect(shownEntries(await channel.send(`show map ${hosts}`))).toEqual(entries.slice(0, 1));
    await applyMaps(channel, [{ path: hosts, entries: [['old.example.test/', 'pool']] }]);
  });

  it('fails the command under way when a reload closes the master CLI session, as RUNTIME_REFUSED, and the next session works', async () => {
    const channel = runtimeChannel('master', haproxy.socket);
    const error = await failure(
      channel.session!(async (inSession) => {
        await inSession.send('show version');
        process.kill(haproxy.masterPid, 'SIGUSR2');
        // The master re-executes itself and closes every CLI connection: the session's next command cannot be answered.
        await waitFor(
          'the reload to close the session',
          () =>
            inSession.send('show version').then(
              () => undefined,
              (e: unknown) => e,
            ),
          10_000,
        );
        return inSession.send('show version');
      }),
    );
    expect(error).toMatchObject({ code: 'RUNTIME_REFUSED' });
    expect(String((error as Error).message)).toContain('the master CLI');
    await waitFor('the master CLI after the reload', () =>
      masterCommand(haproxy.socket, 'show proc', 2000).then(
        () => true,
        () => undefined,
      ),
    );
    expect(await channel.session!((inSession) => inSession.send('show version'))).toMatch(/^\d+\.\d+/);
  });

  it('gives up on a socket that never answers within the command timeout, as RUNTIME_REFUSED', async () => {
    const silent = join(dir, 'silent.sock');
    const held: net.Socket[] = [];
    const server = net.createServer((conn) => held.push(conn)).listen(silent);
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const error = await failure(runtimeChannel('admin', silent).session!((inSession) => inSession.send('show version')));
      expect(error).toMatchObject({ code: 'RUNTIME_REFUSED' });
      expect(String((error as Error).message)).toMatch(/no answer within 2000ms/);
    } finally {
      for (const conn of held) conn.destroy();
      server.close();
    }
  });
});
