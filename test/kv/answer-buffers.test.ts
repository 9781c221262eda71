import { describe, expect, it } from 'vitest';
import { AnswerBuffers, BodyInto } from '../../src/kv/answer-buffers.js';

describe('AnswerBuffers: the buffers a prefix listing is read into, in turn', () => {
  it('never lends the buffer that holds the last listing, nor one lent already', () => {
    const buffers = new AnswerBuffers();
    const first = buffers.lend('apps');
    const a = first.into!(100);
    first.release();
    // The last listing is in a: the next answer goes elsewhere, and back into a the time after.
    const second = buffers.lend('apps', a.subarray(0, 10));
    const b = second.into!(100);
    expect(b.buffer).not.toBe(a.buffer);
    // A read of the same prefix meanwhile (a SIGHUP read): neither a (kept) nor b (lent) is free.
    expect(buffers.lend('apps', a.subarray(0, 10)).into).toBeUndefined();
    second.release();
    const third = buffers.lend('apps', b.subarray(0, 10));
    expect(third.into!(100).buffer).toBe(a.buffer);
    // Another prefix has buffers of its own.
    expect(buffers.lend('other', b).into!(100).buffer).not.toBe(b.buffer);
  });

  it('a buffer too small is replaced by a larger one, kept for the answers after', () => {
    const buffers = new AnswerBuffers();
    const lent = buffers.lend('apps');
    const small = lent.into!(10);
    const large = lent.into!(small.length + 1);
    expect(large.length).toBeGreaterThan(small.length);
    expect(lent.into!(large.length)).toBe(large);
  });
});

describe('BodyInto: an answer collected into a lent buffer', () => {
  it('holds exactly the bytes that came, whether its length was told or not, growing with what came so far', () => {
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251));
    for (const expected of [bytes.length, NaN, 10]) {
      const buffers = new AnswerBuffers();
      const lent = buffers.lend('apps');
      const body = new BodyInto(lent.into!, expected);
      for (let at = 0; at < bytes.length; at += 65_536) body.add(bytes.subarray(at, at + 65_536));
      expect(body.whole.equals(bytes)).toBe(true);
      // Read again into the same (now large enough) buffer: a shorter answer, nothing of the last one after it.
      lent.release();
      const again = buffers.lend('apps');
      const next = new BodyInto(again.into!, NaN);
      next.add(bytes.subarray(0, 1000));
      expect(next.whole.equals(bytes.subarray(0, 1000))).toBe(true);
    }
  });
});
