import { describe, expect, it } from 'vitest';
import { applyAtRuntime } from '../../src/haproxy/runtime.js';
import type { ServerLine } from '../../src/haproxy/server-line.js';
import { FakeRuntime } from '../support/fake-runtime.js';

const REFUSED = 'Server still has connections attached to it, cannot remove it.\n';

/**
 * HAProxy 2.6's side of a removal under keep-alive load, as src/server.c words and counts it:
 * `del server` is refused while the server has sessions or idle pooled connections; a session
 * ending hands its connection back to the idle pool; `set server … addr … port …` closes the
 * idle connections only when the port really changes ("no need to change the port" otherwise);
 * `shutdown sessions server` ends the sessions, each of which still hands a connection back.
 */
class KeepAliveRuntime extends FakeRuntime {
  readonly idle = new Map<string, number>();
  readonly port = new Map<string, string>();
  /** Per server: sessions in flight, ending one per `del server` (while not `holding`). */
  readonly sessions = new Map<string, number>();
  /** Sessions that outlast the drain: they end only once shut. */
  holding = false;
  flushes: string[] = [];
  batches = 0;

  override async sendAll(commands: readonly string[]): Promise<string> {
    this.batches += 1;
    return super.sendAll(commands);
  }

  override async send(command: string): Promise<string> {
    const w = command.split(' ');
    const id = w[2]!;
    if (w[0] === 'set' && w[3] === 'addr') {
      this.sent.push(command);
      if (this.port.get(id) === w[6]) return 'no need to change the addr, no need to change the port\n';
      this.port.set(id, w[6]!);
      this.flushes.push(`${id}:${w[6]}`);
      this.idle.set(id, 0);
      return `IP changed from 'x' to 'y', port changed from 'a' to '${w[6]}'\n`;
    }
    if (w[0] === 'shutdown') {
      this.sent.push(command);
      this.holding = false;
      return '\n';
    }
    if (w[0] === 'del' && (this.sessions.get(id) ?? 0) > 0) {
      this.sent.push(command);
      if (this.holding) return REFUSED;
      this.sessions.set(id, this.sessions.get(id)! - 1);
      this.idle.set(id, (this.idle.get(id) ?? 0) + 1);
      return REFUSED;
    }
    if (w[0] === 'del' && (this.idle.get(id) ?? 0) > 0) {
      this.sent.push(command);
      return REFUSED;
    }
    return super.send(command);
  }
}

const line = (name: string, port: number): ServerLine => ({ name, host: '127.0.0.1', port, options: ['check'] });

function rig() {
  const runtime = new KeepAliveRuntime();
  runtime.load({ be: ['kept 127.0.0.1:8000', 'two 127.0.0.1:8001', 'three 127.0.0.1:1'] });
  const remove = (drainTimeoutMs: number) =>
    applyAtRuntime(runtime, [{ backend: 'be', added: [], moved: [], removed: [line('two', 8001), line('three', 1)] }], drainTimeoutMs);
  return { runtime, remove };
}

describe('removing servers whose keep-alive sessions hand connections back to the idle pool', () => {
  it('closes the idle connections again on every refusal, each time a real change, and deletes before the drain timeout', async () => {
    const { runtime, remove } = rig();
    runtime.sessions.set('be/two', 4);
    runtime.sessions.set('be/three', 3);
    const started = Date.now();
    await remove(5000);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(runtime.sent.filter((c) => c.startsWith('shutdown'))).toEqual([]);
    expect(runtime.sent.filter((c) => c.startsWith('del server')).at(-1)).toMatch(/^del server be\/(two|three)$/);
    for (const id of ['be/two', 'be/three']) {
      const ports = runtime.flushes.filter((f) => f.startsWith(`${id}:`));
      expect(ports.length).toBeGreaterThanOrEqual(3);
      expect(ports.every((p, i) => i === 0 || p !== ports[i - 1])).toBe(true);
      expect(ports).not.toContain(`${id}:${id === 'be/two' ? 8001 : 1}`);
    }
  });

  it('after the drain timeout and `shutdown sessions`, keeps deleting while the sessions end and hand back connections', async () => {
    const { runtime, remove } = rig();
    runtime.sessions.set('be/two', 5);
    runtime.sessions.set('be/three', 5);
    runtime.holding = true;
    await remove(100);
    expect(runtime.sent.filter((c) => c.startsWith('shutdown'))).toEqual(['shutdown sessions server be/two', 'shutdown sessions server be/three']);
    // Each flush a real change, also the first after the sessions were shut.
    for (const id of ['be/two', 'be/three']) {
      const ports = runtime.flushes.filter((f) => f.startsWith(`${id}:`));
      expect(
        ports.every((p, i) => i === 0 || p !== ports[i - 1]),
        ports.join(' '),
      ).toBe(true);
    }
    expect(runtime.sent.filter((c) => /^show servers state be$/.test(c))).toHaveLength(1);
  });

  it('every step is one batch for all the servers removed', async () => {
    const { runtime, remove } = rig();
    runtime.sessions.set('be/two', 3);
    runtime.sessions.set('be/three', 3);
    await remove(5000);
    const dels = runtime.sent.filter((c) => c.startsWith('del server')).length;
    // maintenance, then per try one batch of `del server` and one of flushes, then the read-back
    expect(runtime.batches).toBeLessThanOrEqual(1 + 2 * Math.ceil(dels / 2) + 1);
  });
});
