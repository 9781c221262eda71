import { describe, expect, it } from 'vitest';
import type { RenderedResource } from '../../src/plan/render.js';
import { FileFollower } from '../../src/watch/file-follower.js';
import { waitFor } from '../support/haproxy-process.js';

/** A rendered file named by its text alone: all the follower passes on. */
const file = (text: string) => ({ text }) as unknown as RenderedResource;

/** A follower whose installs are recorded (by text), with changes under way until `done()`. */
function follower(options: { lagMs?: number; fail?: (text: string) => boolean } = {}) {
  const installed: string[] = [];
  const failed: unknown[] = [];
  let done!: () => void;
  const underWay = new Promise<void>((resolve) => (done = resolve));
  const f = new FileFollower({
    install: async (r) => {
      if (options.fail?.(r.text)) throw new Error(`${r.text} rejected`);
      installed.push(r.text);
    },
    failed: async (error) => void failed.push(error),
    changesDone: () => underWay,
    lagMs: options.lagMs ?? 60_000,
  });
  return { f, installed, failed, done };
}

describe('FileFollower: the file of a runtime change, in the background', () => {
  it('waits while changes are under way, then installs only the newest file', async () => {
    const x = follower();
    for (const text of ['one', 'two', 'three']) x.f.follow(file(text));
    await new Promise((r) => setImmediate(r));
    expect(x.installed).toEqual([]);
    x.done();
    await x.f.settled();
    expect(x.installed).toEqual(['three']);
  });

  it('a file waits at most lagMs for changes that keep coming', async () => {
    const x = follower({ lagMs: 100 });
    const started = performance.now();
    x.f.follow(file('one'));
    await waitFor('the file to be installed', () => (x.installed.length === 1 ? true : undefined), 10_000);
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    expect(x.installed).toEqual(['one']);
  });

  it('flush: a waiting file is installed at once (a resync reloads what is on disk)', async () => {
    const x = follower();
    x.f.follow(file('one'));
    await x.f.flush();
    expect(x.installed).toEqual(['one']);
  });

  it('a failed file is reported, unless a newer one is due', async () => {
    const x = follower({ fail: (text) => text.startsWith('bad') });
    x.done();
    x.f.follow(file('bad-1'));
    await x.f.settled();
    expect(x.failed.map(String)).toEqual(['Error: bad-1 rejected']);
    // The install of bad-2 fails while good is already due: good is installed, no failure reported.
    const y = follower({ fail: (text) => text === 'bad-2' && (y.f.follow(file('good')), true) });
    y.done();
    y.f.follow(file('bad-2'));
    await y.f.settled();
    expect(y.failed).toEqual([]);
    expect(y.installed).toEqual(['good']);
  });
});
