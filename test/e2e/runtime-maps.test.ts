import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shownEntries, type MapEntry } from '../../src/haproxy/map-file.js';
import { payloadCommand } from '../../src/haproxy/master-cli.js';
import { runtimeChannel, type RuntimeChannel } from '../../src/haproxy/runtime-channel.js';
import { applyMaps } from '../../src/haproxy/runtime-maps.js';
import { failure } from '../support/failure.js';
import type { HaproxyProcess } from '../support/haproxy-process.js';
import { haproxyWithSockets } from '../support/haproxy-sockets.js';
import { makeTempDir } from '../support/temp.js';

/**
 * A map swapped through the runtime API of a real HAProxy: its entries go as `add map @V FILE <<`
 * payloads, not one forwarded command each (the master CLI forwards every command of a batch to
 * the worker on its own), cut to what HAProxy's CLI buffer holds.
 */
describe('swapping a map through the runtime API of a real HAProxy', () => {
  let haproxy: HaproxyProcess;
  let adminSocket = '';
  const dir = makeTempDir();
  const hosts = join(dir, 'hosts.map');
  const numbers = join(dir, 'numbers.map');

  beforeAll(async () => {
    writeFileSync(hosts, 'old.example.test/ pool\n');
    writeFileSync(numbers, '1 one\n');
    ({ haproxy, adminSocket } = await haproxyWithSockets([
      'backend pool',
      `    http-request set-header X-App %[req.hdr(host),lower,map_beg(${hosts})]`,
      `    http-request set-header X-N %[req.hdr(x-n),map_int(${numbers})]`,
    ]));
  });
  afterAll(() => haproxy.stop());

  /** A channel that counts the requests it makes, and says whether any `add map` went without a payload. */
  function counted(kind: 'master' | 'admin') {
    const channel = runtimeChannel(kind, kind === 'master' ? haproxy.socket : adminSocket);
    const seen = { payloads: 0, bareAdds: 0 };
    const recorded: RuntimeChannel = {
      description: channel.description,
      send: (c) => ((seen.bareAdds += /^add map/.test(c) ? 1 : 0), channel.send(c)),
      sendPayload: (c, p, k) => ((seen.payloads += 1), channel.sendPayload(c, p, k)),
      sendAll: (commands) => ((seen.bareAdds += commands.filter((c) => /^add map/.test(c)).length), channel.sendAll(commands)),
    };
    return { channel: recorded, seen };
  }

  it.each(['master', 'admin'] as const)(
    'fills 1,000 entries (40 KB) through the %s CLI in payloads of at most 15 KiB, and show map lists exactly them',
    async (kind) => {
      const entries: MapEntry[] = Array.from({ length: 1000 }, (_, i) => [`app${i}.${kind}.example.test/`, `pool${i % 7}`]);
      const { channel, seen } = counted(kind);
      await applyMaps(channel, [{ path: hosts, entries }]);
      const shown = shownEntries(await channel.send(`show map ${hosts}`));
      expect(shown.map(([k, v]) => `${k} ${v}`).sort()).toEqual(entries.map(([k, v]) => `${k} ${v}`).sort());
      expect(seen.bareAdds).toBe(0);
      expect(seen.payloads).toBe(Math.ceil(entries.map(([k, v]) => `${k} ${v}\n`).join('').length / (15 * 1024)));
    },
  );

  it('keeps the budget of a payload beside a long command: a map path of 1,200 characters', async () => {
    const deep = join(dir, ...Array.from({ length: 12 }, (_, i) => `${'d'.repeat(95)}${i}`));
    mkdirSync(deep, { recursive: true });
    const long = join(deep, 'long.map');
    writeFileSync(long, 'x.example.test/ pool\n');
    const other = await haproxyWithSockets(['backend pool', `    http-request set-header X-App %[req.hdr(host),lower,map_beg(${long})]`]);
    try {
      const entries: MapEntry[] = Array.from({ length: 600 }, (_, i) => [`app${i}.example.test/`, `pool${i % 7}`]);
      const channel = runtimeChannel('master', other.haproxy.socket);
      await applyMaps(channel, [{ path: long, entries }]);
      expect(shownEntries(await channel.send(`show map ${long}`))).toHaveLength(600);
    } finally {
      await other.haproxy.stop();
    }
  });

  it('refuses a payload HAProxy drops (its CLI buffer made smaller than a payload), and no request ever reads the map filled in part', async () => {
    const small = join(dir, 'small.map');
    writeFileSync(small, Array.from({ length: 50 }, (_, i) => `old${i}.example.test/ pool`).join('\n'));
    const other = await haproxyWithSockets(
      ['backend pool', `    http-request set-header X-App %[req.hdr(host),lower,map_beg(${small})]`],
      ['    tune.bufsize 8192'],
    );
    try {
      const channel = runtimeChannel('admin', other.adminSocket);
      const before = await channel.send(`show map ${small}`);
      const entries: MapEntry[] = Array.from({ length: 700 }, (_, i) => [`app${i}.example.test/`, `pool${i % 7}`]);
      const error = await failure(applyMaps(channel, [{ path: small, entries }]));
      expect(error.code).toBe('RUNTIME_REFUSED');
      expect(error.message).toContain(`HAProxy dropped a payload filling ${small} with no answer`);
      expect(await channel.send(`show map ${small}`)).toBe(before);
    } finally {
      await other.haproxy.stop();
    }
  });

  it('refuses entries a store could write to break out of a payload (a line break, a space, an empty key), before sending any; the map in use stays as it was', async () => {
    const channel = runtimeChannel('master', haproxy.socket);
    const before = await channel.send(`show map ${hosts}`);
    const hostile: MapEntry[][] = [[['evil.example.test/', 'pool\n\nshow info']], [['evil.example.test/ other', 'pool']], [['', 'pool']]];
    for (const entries of hostile) {
      const error = await failure(applyMaps(channel, [{ path: hosts, entries }]));
      expect(error.code, JSON.stringify(entries)).toBe('RUNTIME_REFUSED');
      expect(error.message).toMatch(/^refusing to send /);
    }
    expect(await channel.send(`show map ${hosts}`)).toBe(before);
    // And the payload itself is held to one key and one value a line, whatever built it: nothing is sent.
    for (const payload of ['a.example/ pool\n\nshow info', 'a.example/ pool extra', 'a.example/\tpool']) {
      expect(() => payloadCommand(join(dir, 'no-such.sock'), 'add map @1 /x.map', payload, 1000, 'map'), payload).toThrow(/not map entries/);
    }
    expect(() => payloadCommand(join(dir, 'no-such.sock'), 'set ssl cert /x.pem', 'a.example/ pool', 1000), 'a map line as PEM').toThrow(/not PEM/);
  });

  it('commits a new version only once show map lists exactly the entries asked for: listed in another order, it is committed; one missing, refused, and the map in use stays', async () => {
    const channel = runtimeChannel('master', haproxy.socket);
    // HAProxy's listing of the new version, edited on its way back (also in the session a swap goes through).
    const listed = (edit: (lines: string[]) => string[], base: RuntimeChannel = channel): RuntimeChannel => ({
      ...base,
      send: async (c) => (/^show map @/.test(c) ? `${edit((await base.send(c)).split('\n').filter(Boolean)).join('\n')}\n` : base.send(c)),
      ...(base.session && { session: <T>(work: (inSession: RuntimeChannel) => Promise<T>) => base.session!((inSession) => work(listed(edit, inSession))) }),
    });
    const line = ([k, v]: MapEntry) => `${k} ${v}`;
    const entries: MapEntry[] = Array.from({ length: 20 }, (_, i) => [`v${i}.example.test/`, `pool${i % 3}`]);
    await applyMaps(
      listed((lines) => lines.reverse()),
      [{ path: hosts, entries }],
    );
    expect(
      shownEntries(await channel.send(`show map ${hosts}`))
        .map(line)
        .sort(),
    ).toEqual(entries.map(line).sort());
    const before = await channel.send(`show map ${hosts}`);
    const others: MapEntry[] = entries.map(([k, v]) => [k.replace('v', 'w'), v]);
    const error = await failure(
      applyMaps(
        listed((lines) => lines.slice(1)),
        [{ path: hosts, entries: others }],
      ),
    );
    expect(error.code).toBe('RUNTIME_REFUSED');
    expect(error.message).toContain(`the new version of ${hosts} is not as asked: missing "w0.example.test/ pool0"`);
    expect(await channel.send(`show map ${hosts}`)).toBe(before);
  });

  it('refuses a payload HAProxy refuses, naming the map, and leaves the map in use as it was', async () => {
    const { channel } = counted('master');
    const before = await channel.send(`show map ${numbers}`);
    const error = await failure(
      applyMaps(channel, [
        {
          path: numbers,
          entries: [
            ['2', 'two'],
            ['three', 'three'],
          ],
        },
      ]),
    );
    expect(error.code).toBe('RUNTIME_REFUSED');
    expect(error.message).toContain(`fill a new version of ${numbers}`);
    expect(await channel.send(`show map ${numbers}`)).toBe(before);
  });
});
