import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { masterCommand } from '../../src/haproxy/master-cli.js';
import { runtimeChannel, runtimeCommand } from '../../src/haproxy/runtime-channel.js';
import { failure, thrown } from '../support/failure.js';
import type { HaproxyProcess } from '../support/haproxy-process.js';
import { haproxyWithSockets } from '../support/haproxy-sockets.js';

/**
 * Many runtime commands go in few requests, joined by our own `;`. Against a real HAProxy, over
 * both ways in (the master CLI with `@1`, an admin stats socket): every command gets its answer,
 * in order, however many there are; a command that would chain another never leaves.
 */
describe('runtime commands in batches', () => {
  let haproxy: HaproxyProcess;
  let adminSocket = '';

  beforeAll(async () => {
    ({ haproxy, adminSocket } = await haproxyWithSockets(['    default_backend pool', 'backend pool']));
  });
  afterAll(() => haproxy.stop());

  /** Servers of backend `pool` as HAProxy runs them: name → port. */
  async function pool(): Promise<Map<string, number>> {
    const answer = await masterCommand(haproxy.socket, '@1 show servers state pool', 5000);
    const servers = new Map<string, number>();
    for (const f of answer.split('\n').map((l) => l.split(' '))) if (f[1] === 'pool' && f.length >= 19) servers.set(f[3]!, Number(f[18]));
    return servers;
  }

  for (const kind of ['master', 'admin'] as const) {
    it(`over the ${kind === 'master' ? 'master CLI' : 'admin socket'}: a thousand commands at a time, one answer each, in order`, async () => {
      const channel = runtimeChannel(kind, kind === 'master' ? haproxy.socket : adminSocket);
      const names = Array.from({ length: 500 }, (_, i) => `${kind}${i}`);
      const adds = names.map((name, i) => runtimeCommand('add', 'server', `pool/${name}`, '127.0.0.1', 'id', String((kind === 'master' ? 1000 : 5000) + i)));
      const moves = names.map((name, i) => runtimeCommand('set', 'server', `pool/${name}`, 'addr', '127.0.0.1', 'port', String(10_000 + i)));
      const answers = (await channel.sendAll([...adds, ...moves, runtimeCommand('show', 'servers', 'state', 'nosuchbackend')])).split('\n').filter(Boolean);
      expect(answers.slice(0, 500).every((a) => a === 'New server registered.')).toBe(true);
      expect(answers.slice(500, 1000).every((a) => /changed from/.test(a))).toBe(true);
      expect(answers.at(-1)).toMatch(/Can't find backend/);
      const running = await pool();
      for (const [i, name] of names.entries()) expect(running.get(name), name).toBe(10_000 + i);
      const dels = names.flatMap((name) => [
        runtimeCommand('set', 'server', `pool/${name}`, 'state', 'maint'),
        runtimeCommand('del', 'server', `pool/${name}`),
      ]);
      const deleted = (await channel.sendAll(dels)).split('\n').filter(Boolean);
      expect(deleted.filter((a) => a === 'Server deleted.')).toHaveLength(500);
      expect([...(await pool()).keys()].filter((n) => n.startsWith(kind))).toEqual([]);
    }, 60_000);
  }

  it('a word that would chain another command is refused before anything is sent', async () => {
    const channel = runtimeChannel('master', haproxy.socket);
    for (const word of ['x; shutdown sessions server pool/a', 'x\nshutdown frontend main', 'x y']) {
      expect(thrown(() => runtimeCommand('add', 'server', `pool/${word}`, '127.0.0.1')).code).toBe('RUNTIME_REFUSED');
    }
    // Even a command built some other way never reaches HAProxy with its `;`.
    const error = await failure(channel.sendAll(['add server pool/ok 127.0.0.1', 'shutdown frontend main; show info']));
    expect(error.message).toMatch(/refusing to send/);
    expect((await pool()).has('ok')).toBe(false);
    expect((await masterCommand(haproxy.socket, '@1 show stat', 5000)).includes('main,FRONTEND')).toBe(true);
  });
});
