import { describe, expect, it } from 'vitest';
import { kvError } from '../../src/errors.js';
import { watchConsul, type PrefixReading } from '../../src/kv/consul-watch.js';
import type { KvSnapshot } from '../../src/kv/source.js';
import { waitFor } from '../support/haproxy-process.js';

/** A scripted store: each read takes the next answer; records the index each query sent. */
function scripted(answers: Array<PrefixReading | Error>) {
  const queries: Array<number | undefined> = [];
  const times: number[] = [];
  let next = 0;
  return {
    queries,
    times,
    read: async (_prefix: string, since?: number) => {
      queries.push(since);
      times.push(Date.now());
      const answer = answers[Math.min(next++, answers.length - 1)]!;
      if (answer instanceof Error) throw answer;
      if (next > answers.length) await new Promise((r) => setTimeout(r, 50)); // past the script: an idle store
      return answer;
    },
  };
}

const pairs = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `/a/s${i}`, value: `10.0.0.${i + 1}:80` }));

async function run(answers: Array<PrefixReading | Error>, until: (s: KvSnapshot[], e: unknown[]) => boolean, pollIntervalMs = 1000) {
  const store = scripted(answers);
  const snapshots: KvSnapshot[] = [];
  const errors: unknown[] = [];
  const abort = new AbortController();
  const done = watchConsul(['a'], { snapshot: (s) => snapshots.push(s), alive: () => {}, error: (e) => errors.push(e) }, abort.signal, {
    read: store.read,
    pollIntervalMs,
  });
  await waitFor('the scripted answers', () => until(snapshots, errors), 10_000);
  abort.abort();
  await done;
  return { ...store, snapshots, errors };
}

describe('watchConsul (blocking queries)', () => {
  it('after an error, asks without blocking (a store that is back answers at once), then blocks again', async () => {
    const down = kvError('KV_UNREACHABLE', 'refused');
    const r = await run([{ pairs: pairs(1), index: 7 }, down, { pairs: pairs(1), index: 7 }, { pairs: pairs(2), index: 9 }], (s) => s.length >= 2);
    expect(r.queries.slice(0, 4)).toEqual([undefined, 7, undefined, 7]);
    expect(r.snapshots.map((s) => s.pairs.length)).toEqual([1, 2]);
  });

  it('blocks from the last index, reports only when the pairs change, and resets when the index goes backwards', async () => {
    const r = await run(
      [
        { pairs: pairs(1), index: 10 },
        { pairs: pairs(1), index: 10 },
        { pairs: pairs(2), index: 12 },
        { pairs: pairs(3), index: 5 },
        { pairs: pairs(3), index: 6 },
        { pairs: pairs(4), index: 7 },
      ],
      (s) => s.length >= 4,
    );
    expect(r.queries.slice(0, 6)).toEqual([undefined, 10, 10, 12, undefined, 6]);
    // index 6 brought the same pairs as index 5: not reported twice.
    expect(r.snapshots.map((s) => s.pairs.length)).toEqual([1, 2, 3, 4]);
  });

  it('names the keys a reading changed against the last snapshot, only when that reading was read against the pairs last reported', async () => {
    const [p1, p2, p3, p4] = [pairs(1), pairs(2), pairs(2), pairs(3)];
    const r = await run(
      [
        { pairs: p1, index: 10 },
        { pairs: p2, index: 11, changed: { base: p1, keys: ['/a/s1'] } },
        // The same index again: not reported, so a reading against it is not known against the last report.
        { pairs: p3, index: 11, changed: { base: p2, keys: [] } },
        { pairs: p4, index: 12, changed: { base: p3, keys: ['/a/s2'] } },
        { pairs: pairs(4), index: 13 },
      ],
      (s) => s.length >= 4,
    );
    expect(r.snapshots.map((s) => s.pairs.length)).toEqual([1, 2, 3, 4]);
    expect(r.snapshots[0]!.since).toBeUndefined();
    expect(r.snapshots[1]!.since).toEqual({ pairs: r.snapshots[0]!.pairs, keys: ['/a/s1'] });
    expect(r.snapshots[1]!.since!.pairs).toBe(r.snapshots[0]!.pairs);
    expect(r.snapshots[2]!.since).toBeUndefined();
    expect(r.snapshots[3]!.since).toBeUndefined();
  });

  it('after an error, reports a re-read that differs from the last report, even at an index seen before', async () => {
    const down = kvError('KV_UNREACHABLE', 'refused');
    const r = await run([{ pairs: pairs(2), index: 7 }, { pairs: pairs(3), index: 8 }, down, { pairs: pairs(2), index: 8 }], (s) => s.length >= 3);
    expect(r.snapshots.map((s) => s.pairs.length)).toEqual([2, 3, 2]);
  });

  it('a blocking query that hangs while the store stops answering is given up when a probe fails', async () => {
    const stalled = kvError('KV_TIMEOUT', 'did not answer');
    let probes = 0;
    const snapshots: KvSnapshot[] = [];
    const errors: unknown[] = [];
    const abort = new AbortController();
    const hang = (signal?: AbortSignal) => new Promise<PrefixReading>((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    const done = watchConsul(['a'], { snapshot: (s) => snapshots.push(s), alive: () => {}, error: (e) => errors.push(e) }, abort.signal, {
      read: async (_prefix, since, signal) => (since ? hang(signal) : { pairs: pairs(1), index: 3 }),
      probe: async () => {
        probes += 1;
        throw stalled;
      },
      probeIntervalMs: 100,
      pollIntervalMs: 1000,
    });
    await waitFor('the failed probe to end the blocking query', () => errors.length > 0, 10_000);
    abort.abort();
    await done;
    // One probe for the watch, told once: the query it gave up is not told again.
    expect(errors).toEqual([stalled]);
    expect(probes).toBe(1);
  });

  it('probes once for all prefixes, and only while queries block', async () => {
    const times: number[] = [];
    const abort = new AbortController();
    const hang = (signal?: AbortSignal) => new Promise<PrefixReading>((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    const done = watchConsul(['a', 'b', 'c'], { snapshot: () => {}, alive: () => {}, error: () => {} }, abort.signal, {
      read: async (_prefix, since, signal) => (since ? hang(signal) : { pairs: pairs(1), index: 3 }),
      probe: async () => void times.push(Date.now()),
      probeIntervalMs: 50,
      pollIntervalMs: 20,
    });
    await waitFor('four probes', () => times.length >= 4);
    // Three prefixes block, one probe each interval: never two at once.
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(40);
    abort.abort();
    await done;
  });

  it('does not probe a store that is polled (no X-Consul-Index): the polls prove it answers', async () => {
    let probes = 0;
    const r = scripted([{ pairs: pairs(1) }]);
    const abort = new AbortController();
    const done = watchConsul(['a'], { snapshot: () => {}, alive: () => {}, error: () => {} }, abort.signal, {
      read: r.read,
      probe: async () => void (probes += 1),
      probeIntervalMs: 20,
      pollIntervalMs: 30,
    });
    await waitFor('several polls', () => r.queries.length >= 5);
    abort.abort();
    await done;
    expect(probes).toBe(0);
  });

  it('keeps at least ~100 ms between queries, however fast the answers', async () => {
    const r = await run(
      [
        { pairs: pairs(1), index: 1 },
        { pairs: pairs(2), index: 2 },
        { pairs: pairs(3), index: 3 },
        { pairs: pairs(4), index: 4 },
      ],
      (s) => s.length >= 4,
    );
    const gaps = r.times.slice(1, 4).map((t, i) => t - r.times[i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(95);
  });

  it('polls a store that sends no X-Consul-Index', async () => {
    const r = await run([{ pairs: pairs(1) }, { pairs: pairs(2) }], (s) => s.length >= 2, 150);
    expect(r.queries.slice(0, 2)).toEqual([undefined, undefined]);
    expect(r.times[1]! - r.times[0]!).toBeGreaterThanOrEqual(145);
  });

  it('reports errors, retries with growing delays, and carries on when the store is back', async () => {
    const down = kvError('KV_UNREACHABLE', 'refused');
    const r = await run([down, down, down, { pairs: pairs(2), index: 7 }], (s) => s.length >= 1);
    expect(r.errors).toEqual([down, down, down]);
    expect(r.snapshots[0]!.pairs).toHaveLength(2);
    const gaps = r.times.slice(1, 4).map((t, i) => t - r.times[i]!);
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
  });
});
