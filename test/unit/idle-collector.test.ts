import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdleCollector } from '../../src/util/memory.js';

const MiB = 1024 * 1024;

/** A heap of a given size whose collection brings it down to `left`. */
function heap(size: number, left: number) {
  const state = { size, collections: 0 };
  return {
    state,
    control: {
      size: () => state.size,
      collect: () => {
        state.collections += 1;
        state.size = left;
      },
    },
  };
}

/** A busy spell that leaves the heap at `size`, then 2 s of idleness. */
function spell(idle: IdleCollector, h: ReturnType<typeof heap>, size = h.state.size) {
  h.state.size = size;
  idle.busy();
  vi.advanceTimersByTime(2000);
}

describe('IdleCollector', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('collects once watch is idle for 2 s, not while changes keep coming, and not a small heap', () => {
    const h = heap(60 * MiB, 25 * MiB);
    const idle = new IdleCollector(h.control);
    for (let i = 0; i < 5; i++) {
      idle.busy();
      vi.advanceTimersByTime(1500);
    }
    expect(h.state.collections).toBe(0);
    vi.advanceTimersByTime(500);
    expect(h.state.collections).toBe(1);
    const small = heap(20 * MiB, 10 * MiB);
    new IdleCollector(small.control).busy();
    vi.advanceTimersByTime(2000);
    expect(small.state.collections).toBe(0);
  });

  it('collects again only once the heap grew 16 MiB past what the last collection left', () => {
    const h = heap(60 * MiB, 25 * MiB);
    const idle = new IdleCollector(h.control);
    spell(idle, h);
    expect(h.state.collections).toBe(1);
    // A change or two later: a little larger than the collection left it, and over 24 MiB.
    spell(idle, h, 35 * MiB);
    expect(h.state.collections).toBe(1);
    // A burst later: grown well past it.
    spell(idle, h, 41 * MiB);
    expect(h.state.collections).toBe(2);
    idle.stop();
  });

  it('a heap too small to collect at the first idle spell is where growth is counted from', () => {
    const h = heap(20 * MiB, 20 * MiB);
    const idle = new IdleCollector(h.control);
    spell(idle, h);
    spell(idle, h, 31 * MiB); // over 24 MiB, but 11 MiB over the first spell's
    expect(h.state.collections).toBe(0);
    spell(idle, h, 36 * MiB);
    expect(h.state.collections).toBe(1);
  });
});
