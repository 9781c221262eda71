import { describe, expect, it } from 'vitest';
import type { BackendChanges } from '../../src/haproxy/config-diff.js';
import type { RuntimeChannel } from '../../src/haproxy/runtime-channel.js';
import { applyAtRuntime } from '../../src/haproxy/runtime.js';
import { ServerIds } from '../../src/haproxy/server-ids.js';
import type { ServerLine } from '../../src/haproxy/server-line.js';
import { failure } from '../support/failure.js';
import { FakeRuntime } from '../support/fake-runtime.js';

/** `name host:port options…` as a server line. */
function line(text: string): ServerLine {
  const [name, address, ...options] = text.split(' ') as [string, string, ...string[]];
  const [host, port] = address.split(':') as [string, string];
  return { name, host, port: Number(port), options };
}

const change = (c: Partial<BackendChanges>): BackendChanges[] => [{ backend: 'web', added: [], removed: [], moved: [], ...c }];

/** A fake HAProxy with servers one to three, whose ids are known (the backend was read once). */
async function rig() {
  const fake = new FakeRuntime();
  fake.load({ web: ['one 10.0.0.1:80', 'two 10.0.0.2:80', 'three 10.0.0.3:80'] });
  const ids = new ServerIds();
  ids.learn('web', await fake.send('show servers state web'));
  fake.sent.length = 0;
  /**
   * The fake as a channel that runs `before` just ahead of the read-back (its first `show stat` or
   * `get weight`), also where the read-back goes in the same request as the change.
   */
  const tampered = (before: () => void): RuntimeChannel => ({
    description: fake.description,
    send: (c) => fake.send(c),
    sendPayload: (c) => fake.sendPayload(c),
    sendAll: async (commands) => {
      const at = commands.findIndex((c) => /^(show stat|get weight) /.test(c));
      if (at < 0) return fake.sendAll(commands);
      const change = at > 0 ? await fake.sendAll(commands.slice(0, at)) : '';
      before();
      return change + (await fake.sendAll(commands.slice(at)));
    },
  });
  const reads = () => fake.sent.filter((c) => /^(show|get) /.test(c));
  return { fake, ids, tampered, reads };
}

describe('the read-back after runtime changes costs what the change is', () => {
  it('reads back one added server by its id, not the whole backend', async () => {
    const { fake, ids, reads } = await rig();
    await applyAtRuntime(fake, change({ added: [line('four 10.0.0.4:80 weight 3')] }), 1000, ids);
    expect(fake.sent[0]).toBe('add server web/four 10.0.0.4:80 weight 3 pool-purge-delay 5s pool-max-conn -1 id 4');
    expect(reads()).toEqual(['show stat web 4 4']);
  });

  it('sends an add, a new weight or a removal of a server with no session with its read-back in one request (one round trip)', async () => {
    const { fake, ids } = await rig();
    const requests: string[][] = [];
    const counted: RuntimeChannel = {
      description: fake.description,
      send: (c) => (requests.push([c]), fake.send(c)),
      sendPayload: (c) => fake.sendPayload(c),
      sendAll: (commands) => (requests.push([...commands]), fake.sendAll(commands)),
    };
    await applyAtRuntime(counted, change({ added: [line('four 10.0.0.4:80')] }), 1000, ids);
    expect(requests).toEqual([['add server web/four 10.0.0.4:80 pool-purge-delay 5s pool-max-conn -1 id 4', 'enable server web/four', 'show stat web 4 4']]);
    await applyAtRuntime(counted, change({ shaped: [line('two 10.0.0.2:80 weight 7')] }), 1000, ids);
    expect(requests.slice(1)).toEqual([['set server web/two weight 7', 'set server web/two state ready', 'show stat web 4 2']]);
    await applyAtRuntime(counted, change({ removed: [line('four 10.0.0.4:80')] }), 1000, ids);
    expect(requests.slice(2)).toEqual([['set server web/four state maint', 'del server web/four', 'get weight web/four']]);
    // A refused add is refused as before: with what HAProxy said.
    // Servers removed, one HAProxy does not have: refused for what maintenance said, as step by step.
    const gone = await failure(applyAtRuntime(counted, change({ removed: [line('nope 10.0.0.9:80'), line('two 10.0.0.2:80')] }), 1000, ids));
    expect(gone.message).toBe('HAProxy refused to put the servers removed in maintenance: No such server.');
    fake.refuse = /^add server/;
    const error = await failure(applyAtRuntime(counted, change({ added: [line('five 10.0.0.5:80')] }), 1000, ids));
    expect(error.code).toBe('RUNTIME_REFUSED');
    expect(error.message).toMatch(/^HAProxy refused to add 1 servers: Refused by the test\./);
  });

  it('reads back a removed server by name, a moved or reshaped one by id', async () => {
    const { fake, ids, reads } = await rig();
    const changes = change({
      removed: [line('one 10.0.0.1:80')],
      moved: [{ from: line('two 10.0.0.2:80'), to: line('two 10.0.0.9:81') }],
      shaped: [line('three 10.0.0.3:80 weight 5 disabled')],
    });
    await applyAtRuntime(fake, changes, 1000, ids);
    expect(reads()).toEqual(['show stat web 4 2', 'show stat web 4 3', 'get weight web/one']);
  });

  it('reads the whole backend for a large batch, and the first time (ids not known)', async () => {
    const { fake, ids, reads } = await rig();
    const many = Array.from({ length: 65 }, (_, i) => line(`n${i} 10.1.0.${i}:80`));
    await applyAtRuntime(fake, change({ added: many }), 1000, ids);
    expect(reads()).toEqual(['show servers state web']);
    fake.sent.length = 0;
    await applyAtRuntime(fake, change({ added: [line('four 10.0.0.4:80')] }), 1000, new ServerIds());
    expect(reads()).toEqual(['show servers state web']);
  });

  const wrong: Array<[string, ServerLine, (s: { addr: string; port: number; admin: number; weight: number }) => void, RegExp]> = [
    ['a wrong address', line('four 10.0.0.4:80'), (s) => (s.addr = '10.0.0.44'), /four is at 10\.0\.0\.44:80, not 10\.0\.0\.4:80/],
    ['a wrong port', line('four 10.0.0.4:80'), (s) => (s.port = 8080), /four is at 10\.0\.0\.4:8080/],
    ['a wrong weight', line('four 10.0.0.4:80 weight 3'), (s) => (s.weight = 1), /four has weight 1, not 3/],
    ['maintenance not asked', line('four 10.0.0.4:80'), (s) => (s.admin = 1), /four is in maintenance/],
    ['no maintenance where asked', line('four 10.0.0.4:80 disabled'), (s) => (s.admin = 0), /four is not in maintenance/],
  ];
  for (const [what, server, tamper, message] of wrong) {
    it(`finds ${what} in the narrow read (RUNTIME_REFUSED)`, async () => {
      const { fake, ids, tampered, reads } = await rig();
      const error = await failure(
        applyAtRuntime(
          tampered(() => tamper(fake.server('web', 'four')!)),
          change({ added: [server] }),
          1000,
          ids,
        ),
      );
      expect(error.code).toBe('RUNTIME_REFUSED');
      expect(error.message).toMatch(message);
      expect(reads()).toEqual(['show stat web 4 4']);
    });
  }

  it('finds a removed server that is still there, and an added one missing (through the whole read)', async () => {
    const { fake, ids, tampered } = await rig();
    const back = tampered(() => void fake.send('add server web/one 10.0.0.1:80 id 1'));
    expect((await failure(applyAtRuntime(back, change({ removed: [line('one 10.0.0.1:80')] }), 1000, ids))).message).toMatch(/one should be gone/);
    const gone = tampered(() => void fake.send('del server web/four'));
    const error = await failure(applyAtRuntime(gone, change({ added: [line('four 10.0.0.4:80')] }), 1000, ids));
    expect(error.code).toBe('RUNTIME_REFUSED');
    expect(error.message).toMatch(/four is missing/);
    expect(fake.sent.at(-1)).toBe('show servers state web');
  });

  it('falls back to the whole read on a stale id (another server, or none, under it), and learns the ids again', async () => {
    const { fake, ids, tampered, reads } = await rig();
    // `two` renumbered by hand: no server under its id.
    await applyAtRuntime(
      tampered(() => (fake.server('web', 'two')!.id = 9)),
      change({ shaped: [line('two 10.0.0.2:80 weight 2')] }),
      1000,
      ids,
    );
    expect(reads()).toEqual(['show stat web 4 2', 'show servers state web']);
    expect(ids.idOf('web', 'two')).toBe(9);
    fake.sent.length = 0;
    // `three` renumbered, `one` under its id.
    fake.server('web', 'three')!.id = 12;
    fake.server('web', 'one')!.id = 3;
    await applyAtRuntime(fake, change({ shaped: [line('three 10.0.0.3:80 weight 2')] }), 1000, ids);
    expect(reads()).toEqual(['show stat web 4 3', 'show servers state web']);
    fake.sent.length = 0;
    await applyAtRuntime(fake, change({ shaped: [line('three 10.0.0.3:80 weight 4')] }), 1000, ids);
    expect(reads()).toEqual(['show stat web 4 12']);
  });
});
