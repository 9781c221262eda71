import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../src/watch/coalescer.js';
import { FileFollower, type FileFollowerDeps } from '../../src/watch/file-follower.js';
import { waitFor } from '../support/haproxy-process.js';

const tick = () => new Promise((r) => setImmediate(r));

/** A follower of files named by text: installs recorded (with their urgency), changes under way until `done()`. */
function follower(options: Partial<FileFollowerDeps<string>> & { fail?: (text: string) => boolean } = {}) {
  const installed: string[] = [];
  const urgent: boolean[] = [];
  const failed: unknown[] = [];
  const superseded: unknown[] = [];
  let done!: () => void;
  const underWay = new Promise<void>((resolve) => (done = resolve));
  const f = new FileFollower<string>({
    install: async (text, now) => {
      if (options.fail?.(text)) throw new Error(`${text} rejected`);
      installed.push(text);
      urgent.push(now);
    },
    failed: async (error) => void failed.push(error),
    superseded: (error) => void superseded.push(error),
    changesDone: () => underWay,
    lagMs: 60_000,
    ...options,
  });
  return { f, installed, urgent, failed, superseded, done };
}

describe('FileFollower: the file of a runtime change, in the background', () => {
  it('waits while changes are under way, then installs only the newest file', async () => {
    const x = follower();
    for (const text of ['one', 'two', 'three']) x.f.follow(text);
    await tick();
    expect(x.installed).toEqual([]);
    x.done();
    await x.f.settled();
    expect(x.installed).toEqual(['three']);
    expect(x.urgent).toEqual([false]);
  });

  it('waits at most lagMs after the oldest change not on disk, while changes keep coming', async () => {
    const [times, installed]: [number[], string[]] = [[], []];
    const started = performance.now();
    const install = async (text: string) => void (times.push(performance.now() - started), installed.push(text));
    const x = follower({ lagMs: 200, changesDone: () => new Promise(() => {}), install });
    for (let i = 0; i < 25; i++) {
      x.f.follow(`f${i}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await x.f.flush();
    // The first about 200 ms after the first change, the next about 200 ms after the first change after it.
    expect(times[0]).toBeGreaterThanOrEqual(195);
    expect(times[1]! - times[0]!).toBeLessThan(400);
    expect(installed.at(-1)).toBe('f24');
  });

  it('flush: a waiting file is installed at once, as urgent (a reload waits for it)', async () => {
    const x = follower();
    x.f.follow('one');
    await x.f.flush();
    expect(x.installed).toEqual(['one']);
    expect(x.urgent).toEqual([true]);
  });

  it('flush from inside a coalescer job, while the file waits for that coalescer to be idle, does not wait for it', async () => {
    const abort = new AbortController();
    let jobs = 0;
    const coalescer: Coalescer = new Coalescer(
      async () => {
        jobs += 1;
        if (jobs === 1) x.f.follow('one');
        else await x.f.flush(); // a reload in the next job
      },
      { minMs: 10, maxMs: 20 },
      abort.signal,
    );
    const x = follower({ changesDone: () => coalescer.idle() });
    coalescer.request(false, true);
    await tick();
    coalescer.request(false, false);
    await coalescer.idle();
    await x.f.settled();
    expect(x.installed).toEqual(['one']);
  });

  it('a file followed just as the last install ends is installed too', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const installed: string[] = [];
    // Not an async function: the follower awaits this very promise, so a reaction added to it later runs after the follower's.
    const install = (text: string) => (text === 'one' ? gate.then(() => void installed.push(text)) : (installed.push(text), Promise.resolve()));
    const x = follower({ install });
    x.done();
    x.f.follow('one');
    await tick();
    // A change whose runtime step ends in the same round of promise reactions as that install.
    void gate.then(() => undefined).then(() => x.f.follow('two'));
    release();
    await waitFor('both files installed', () => (installed.length === 2 ? true : undefined), 5000);
    expect(installed).toEqual(['one', 'two']);
  });

  it('never rejects: a wait for the changes that fails lets the file follow now', async () => {
    const x = follower({ changesDone: () => Promise.reject(new Error('the coalescer failed')) });
    x.f.follow('one');
    await x.f.settled();
    expect(x.installed).toEqual(['one']);
  });

  it('a failed file is reported; with a newer one due it is told superseded, until the disk has been behind for lagMs', async () => {
    const x = follower({ fail: (text) => text.startsWith('bad') });
    x.done();
    x.f.follow('bad-1');
    await x.f.settled();
    expect(x.failed.map(String)).toEqual(['Error: bad-1 rejected']);
    // Every file fails while changes keep coming: superseded at first, reported once the disk is lagMs behind.
    let checks = 0;
    const y = follower({
      lagMs: 100,
      changesDone: () => new Promise(() => {}),
      install: async (text) => {
        checks += 1;
        await new Promise((r) => setTimeout(r, 30));
        throw new Error(`${text} rejected`);
      },
    });
    const started = performance.now();
    for (let i = 0; performance.now() - started < 1000; i++) {
      y.f.follow(`bad-${i}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await y.f.flush();
    expect(checks).toBeGreaterThan(3);
    expect(y.failed.length).toBeGreaterThan(0);
    expect(y.failed.length + y.superseded.length).toBe(checks);
  });
});
