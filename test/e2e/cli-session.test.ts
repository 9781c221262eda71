import net from 'node:net';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { shownEntries, type MapEntry } from '../../src/haproxy/map-file.js';
import { masterCommand, showProc } from '../../src/haproxy/master-cli.js';
import { runtimeChannel } from '../../src/haproxy/runtime-channel.js';
import { applyMaps } from '../../src/haproxy/runtime-maps.js';
import { failure } from '../support/failure.js';
import { waitFor, type HaproxyProcess } from '../support/haproxy-process.js';
import { haproxyWithSockets } from '../support/haproxy-sockets.js';
import { makeTempDir } from '../support/temp.js';

/**
 * A map swap's commands through one connection to a real HAProxy's master CLI in interactive mode
 * (src/haproxy/cli-session.ts): each answer as a connection of its own gives it, also after a
 * reload failed, and a session HAProxy closes fails what was under way. An admin socket's swap
 * keeps a connection per command.
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

  it('answers each command through the master CLI as a connection of its own does, payloads and refusals too', async () => {
    const alone = runtimeChannel('master', haproxy.socket);
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

  it('swaps a map through the master CLI on one connection, where each command took one; through an admin socket, one each still', async () => {
    const connections = (kind: 'master' | 'admin') =>
      vi.mocked(net.createConnection).mock.calls.filter(([options]) => (options as { path?: string }).path === socketOf(kind)).length;
    vi.spyOn(net, 'createConnection');
    const entries: MapEntry[] = [
      ['new.example.test/', 'pool'],
      ['old.example.test/', 'pool'],
    ];
    const master = runtimeChannel('master', haproxy.socket);
    await applyMaps(master, [{ path: hosts, entries }]);
    expect(connections('master')).toBe(1);
    expect(shownEntries(await master.send(`show map ${hosts}`))).toEqual(entries);
    // A stats socket's connection would stay with the old worker over a reload: prepare, add, show and commit go one connection each.
    const admin = runtimeChannel('admin', adminSocket);
    expect('session' in admin).toBe(false);
    await applyMaps(admin, [{ path: hosts, entries: entries.slice(1) }]);
    expect(connections('admin')).toBe(4);
    expect(shownEntries(await master.send(`show map ${hosts}`))).toEqual(entries.slice(1));
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
      const error = await failure(runtimeChannel('master', silent).session!((inSession) => inSession.send('show version')));
      expect(error).toMatchObject({ code: 'RUNTIME_REFUSED' });
      expect(String((error as Error).message)).toMatch(/no answer within 2000ms/);
    } finally {
      for (const conn of held) conn.destroy();
      server.close();
    }
  });

  // Last: it leaves HAProxy with a reload that failed.
  it('swaps a map through the master CLI after a reload failed, when its prompt says so (master[ReloadFailed]>)', async () => {
    appendFileSync(haproxy.config, '    no-such-keyword\n');
    process.kill(haproxy.masterPid, 'SIGUSR2');
    await waitFor('the reload to fail', async () => ((await showProc(haproxy.socket, 2000).catch(() => undefined))?.master.failed === 1 ? true : undefined));
    const channel = runtimeChannel('master', haproxy.socket);
    expect(await channel.session!((inSession) => inSession.send('show version'))).toMatch(/^\d+\.\d+/);
    const entries: MapEntry[] = [['after-failed-reload.example.test/', 'pool']];
    await applyMaps(channel, [{ path: hosts, entries }]);
    expect(shownEntries(await channel.send(`show map ${hosts}`))).toEqual(entries);
  });
});
