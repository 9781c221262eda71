import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendChanges } from '../../src/haproxy/config-diff.js';
import { runtimeChannel, type RuntimeChannel } from '../../src/haproxy/runtime-channel.js';
import { warmUp } from '../../src/haproxy/readback.js';
import { applyAtRuntime } from '../../src/haproxy/runtime.js';
import { ServerIds } from '../../src/haproxy/server-ids.js';
import type { ServerLine } from '../../src/haproxy/server-line.js';
import { failure } from '../support/failure.js';
import type { HaproxyProcess } from '../support/haproxy-process.js';
import { haproxyWithSockets } from '../support/haproxy-sockets.js';

function line(text: string): ServerLine {
  const [name, address, ...options] = text.split(' ') as [string, string, ...string[]];
  const at = address.lastIndexOf(':');
  return { name, host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)), options };
}

const change = (c: Partial<BackendChanges>): BackendChanges[] => [{ backend: 'pool', added: [], removed: [], moved: [], ...c }];

/**
 * The read-back after runtime changes, against a real HAProxy: a few servers are read back each
 * on its own (`show stat pool 4 ID`, `get weight pool/NAME`), not the whole backend, and what
 * that read finds wrong is still refused; a stale id falls back to the whole backend.
 */
describe('reading back a few servers from a real HAProxy', () => {
  let haproxy: HaproxyProcess;
  let adminSocket = '';

  beforeAll(async () => {
    const servers = ['a 127.0.0.1:9001', 'b [::1]:9002 weight 5', 'c 127.0.0.1:9003 disabled'];
    ({ haproxy, adminSocket } = await haproxyWithSockets(['    default_backend pool', 'backend pool', ...servers.map((s) => `    server ${s}`)]));
  });
  afterAll(() => haproxy.stop());

  /** A channel that notes the reads it sends, and runs `before` (once) just ahead of the first narrow read, also where it goes in the same request as the change. */
  function recording(kind: 'master' | 'admin') {
    const channel = runtimeChannel(kind, kind === 'master' ? haproxy.socket : adminSocket);
    const reads: string[] = [];
    let before: (() => Promise<unknown>) | undefined;
    const note = (commands: readonly string[]) => reads.push(...commands.filter((c) => /^(show|get) /.test(c)));
    const recorded: RuntimeChannel = {
      description: channel.description,
      send: async (c) => (note([c]), channel.send(c)),
      sendPayload: (c, p) => channel.sendPayload(c, p),
      sendAll: async (commands) => {
        const run = before;
        const at = commands.findIndex((c) => /^(show stat|get weight) /.test(c));
        note(commands);
        if (!run || at < 0) return channel.sendAll(commands);
        before = undefined;
        const change = at > 0 ? await channel.sendAll(commands.slice(0, at)) : '';
        await run();
        return change + (await channel.sendAll(commands.slice(at)));
      },
    };
    const next = (run?: () => Promise<unknown>) => ((before = run), reads.splice(0));
    return { channel: recorded, next, hand: (command: string) => channel.sendAll(command.split('\n')) };
  }

  it('warmed up once HAProxy runs: the ids are learned from every backend, and the first change reads back only what it touched', async () => {
    const { channel, next } = recording('admin');
    const ids = new ServerIds();
    await warmUp(channel, ids);
    // Its show stat asks for an id no server has: HAProxy's first show stat, slow at 10,000 servers, is done.
    expect(next()).toEqual(['show servers state', `show stat pool 4 ${ids.peek('pool')}`]);
    expect([ids.idOf('pool', 'a'), ids.idOf('pool', 'c')]).toEqual([1, 3]);
    await applyAtRuntime(channel, change({ added: [line('warm 127.0.0.1:9150')] }), 1000, ids);
    expect(next()).toEqual([`show stat pool 4 ${ids.idOf('pool', 'warm')}`]);
    await applyAtRuntime(channel, change({ removed: [line('warm 127.0.0.1:9150')] }), 1000, ids);
  });

  for (const [n, kind] of (['master', 'admin'] as const).entries()) {
    const x = `${kind}x`;
    it(`over the ${kind === 'master' ? 'master CLI' : 'admin socket'}: an add, a move, a reshape and a remove, each read back alone`, async () => {
      const { channel, next, hand } = recording(kind);
      const ids = new ServerIds();
      await applyAtRuntime(channel, change({ added: [line(`${kind}0 127.0.0.1:9100`)] }), 1000, ids);
      expect(next()).toEqual(['show servers state pool']); // the first read learns the ids
      await applyAtRuntime(channel, change({ added: [line(`${x} 127.0.0.1:9101 weight 3`)] }), 1000, ids);
      const id = ids.idOf('pool', x)!;
      expect(next()).toEqual([`show stat pool 4 ${id}`]);
      expect((await hand(`get weight pool/${x}`)).trim()).toBe('3 (initial 3)');
      const moved = { from: line('b [::1]:9002 weight 5'), to: line(`b [::1]:${9200 + n} weight 5`) };
      await applyAtRuntime(channel, change({ moved: [moved], shaped: [line('c 127.0.0.1:9003 weight 2')] }), 1000, ids);
      expect(next()).toEqual([`show stat pool 4 2`, `show stat pool 4 3`]);
      await applyAtRuntime(channel, change({ shaped: [line('c 127.0.0.1:9003 weight 2 disabled')] }), 1000, ids);
      await applyAtRuntime(channel, change({ removed: [line(`${kind}0 127.0.0.1:9100`)] }), 1000, ids);
      expect(next()).toEqual([`show stat pool 4 3`, `get weight pool/${kind}0`]);
      expect((await hand(`get weight pool/${kind}0`)).trim()).toBe('No such server.');
    });

    it(`over the ${kind === 'master' ? 'master CLI' : 'admin socket'}: a server changed by hand just before the read-back is refused; a stale id falls back`, async () => {
      const { channel, next, hand } = recording(kind);
      const ids = new ServerIds();
      ids.learn('pool', await channel.send('show servers state pool'));
      const server = line(`${kind}y 127.0.0.1:9300 weight 4`);
      const cases: Array<[string, RegExp]> = [
        [`set server pool/${kind}y state maint`, /is in maintenance/],
        [`set weight pool/${kind}y 9`, /has weight 9, not 4/],
        [`set server pool/${kind}y addr 127.0.0.2 port 9300`, /is at 127\.0\.0\.2:9300/],
      ];
      for (const [command, message] of cases) {
        next(() => hand(command));
        const error = await failure(applyAtRuntime(channel, change({ added: [server] }), 1000, ids));
        expect(error.code).toBe('RUNTIME_REFUSED');
        expect(error.message).toMatch(message);
        expect(next()).toEqual([`show stat pool 4 ${ids.idOf('pool', server.name)}`]);
        await hand(`set server pool/${server.name} state maint\ndel server pool/${server.name}`);
      }
      // Deleted and added again by hand under another id (below the ids given, which count up from the highest): the narrow read finds nothing under the old one.
      next(() =>
        hand(
          `set server pool/${server.name} state maint\ndel server pool/${server.name}\nadd server pool/${server.name} 127.0.0.1:9300 weight 4 id ${100 - n}\nenable server pool/${server.name}`,
        ),
      );
      await applyAtRuntime(channel, change({ added: [server] }), 1000, ids);
      expect(next()).toEqual([expect.stringMatching(/^show stat pool 4 \d+$/), 'show servers state pool']);
      expect(ids.idOf('pool', server.name)).toBe(100 - n);
    });
  }
});
