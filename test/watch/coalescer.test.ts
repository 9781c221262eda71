import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/util/backoff.js';
import { Coalescer } from '../../src/watch/coalescer.js';
import { waitFor } from '../support/haproxy-process.js';

describe('Coalescer', () => {
  it('runs once for a burst, and once more for what arrives during a run (never two at a time)', async () => {
    let running = 0;
    let maxRunning = 0;
    const runs: boolean[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const coalescer = new Coalescer(
      async (forced) => {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        runs.push(forced);
        if (runs.length === 1) await gate;
        running -= 1;
      },
      { minMs: 0, maxMs: 0 },
      new AbortController().signal,
    );

    coalescer.request();
    await waitFor('the first run to start', () => runs.length === 1);
    for (let i = 0; i < 50; i++) coalescer.request(i === 10);
    release();
    await coalescer.idle();
    expect(runs).toEqual([false, true]);
    expect(maxRunning).toBe(1);
  });

  it('waits for MIN of quiet, but never longer than MAX after the first request', async () => {
    const started: number[] = [];
    const coalescer = new Coalescer(async () => void started.push(Date.now()), { minMs: 80, maxMs: 200 }, new AbortController().signal);
    const first = Date.now();
    const ticker = setInterval(() => coalescer.request(), 20); // never quiet for 80 ms
    coalescer.request();
    await waitFor('a run despite the steady requests', () => started.length > 0, 2000);
    clearInterval(ticker);
    await coalescer.idle();
    expect(started[0]! - first).toBeGreaterThanOrEqual(195);

    const quiet = Date.now();
    coalescer.request();
    await coalescer.idle();
    expect(started.at(-1)! - quiet).toBeGreaterThanOrEqual(75);
  });

  it('is settled once idle and no request came for the quiet time: a lull between requests that is shorter is not the end of a burst', async () => {
    const runs: number[] = [];
    const coalescer = new Coalescer(async () => void runs.push(Date.now()), { minMs: 0, maxMs: 0 }, new AbortController().signal);
    let settledAt = 0;
    coalescer.request();
    const settled = coalescer.settled(150).then(() => (settledAt = Date.now()));
    // Requests 60 ms apart, each after the run of the one before (idle in between): never quiet for 150 ms.
    let last = 0;
    for (let i = 0; i < 5; i++) {
      await coalescer.idle();
      await new Promise((r) => setTimeout(r, 60));
      expect(settledAt).toBe(0);
      coalescer.request();
      last = Date.now();
    }
    await settled;
    expect(runs).toHaveLength(6);
    expect(settledAt - last).toBeGreaterThanOrEqual(148);
    // Quiet already: at once.
    const now = Date.now();
    await coalescer.settled(100);
    expect(Date.now() - now).toBeLessThan(100);
  });

  it('stops waiting to be settled when the caller gives up (its signal), with requests still coming: no loop or timer left behind', async () => {
    const coalescer = new Coalescer(async () => {}, { minMs: 0, maxMs: 0 }, new AbortController().signal);
    coalescer.request();
    const ticker = setInterval(() => coalescer.request(), 20); // never quiet for 150 ms
    try {
      const given = new AbortController();
      let ended = false;
      const waiting = coalescer.settled(150, given.signal).then(() => (ended = true));
      await new Promise((r) => setTimeout(r, 200));
      expect(ended).toBe(false);
      given.abort();
      await waitFor('the wait to end', () => ended || undefined, 1000);
      await waiting;
    } finally {
      clearInterval(ticker);
    }
  });

  it('asks whether a batch may skip the window once per batch, after the burst at hand, not per request', async () => {
    const runs: number[] = [];
    let asked = 0;
    let cheap = true;
    const coalescer = new Coalescer(async () => void runs.push(Date.now()), { minMs: 150, maxMs: 600 }, new AbortController().signal);
    const ask = () => ((asked += 1), cheap);
    const first = Date.now();
    for (let i = 0; i < 200; i++) coalescer.request(false, ask);
    await coalescer.idle();
    expect([asked, runs.length]).toEqual([1, 1]);
    expect(runs[0]! - first).toBeLessThan(150); // cheap: no window

    cheap = false;
    const second = Date.now();
    for (let i = 0; i < 200; i++) coalescer.request(false, ask);
    await coalescer.idle();
    expect([asked, runs.length]).toEqual([2, 2]);
    expect(runs[1]! - second).toBeGreaterThanOrEqual(145); // not cheap: the window

    // A request that may not skip (a retry, SIGHUP) makes the batch wait, unasked.
    const third = Date.now();
    coalescer.request(false, ask);
    coalescer.request(true);
    await coalescer.idle();
    expect([asked, runs.length]).toEqual([2, 3]);
    expect(runs[2]! - third).toBeGreaterThanOrEqual(145);
  });
});

describe('Backoff', () => {
  it('doubles up to the cap, with jitter between half and all of each step, and resets', () => {
    const low = new Backoff(250, 2000, () => 0);
    expect([1, 2, 3, 4, 5].map(() => low.next())).toEqual([125, 250, 500, 1000, 1000]);
    const high = new Backoff(250, 2000, () => 1);
    expect([1, 2, 3, 4, 5].map(() => high.next())).toEqual([250, 500, 1000, 2000, 2000]);
    high.reset();
    expect(high.next()).toBe(250);
  });
});

describe('Coalescer under a request that lands as a run ends', () => {
  it.each([0, 1, 2, 3, 4, 5])('is never lost (request %i microtasks after the run resolves)', async (depth) => {
    let runs = 0;
    const later = (n: number, fn: () => void): void => (n === 0 ? fn() : queueMicrotask(() => later(n - 1, fn)));
    const coalescer: Coalescer = new Coalescer(
      async () => {
        runs += 1;
        if (runs === 1) void Promise.resolve().then(() => later(depth, () => coalescer.request()));
      },
      { minMs: 0, maxMs: 0 },
      new AbortController().signal,
    );
    coalescer.request();
    await waitFor('the second run', () => runs === 2, 2000);
    await coalescer.idle();
    expect(runs).toBe(2);
  });
});
