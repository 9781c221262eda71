import { describe, expect, it } from 'vitest';
import { StateLines } from '../../src/watch/state-lines.js';
import { waitFor } from '../support/haproxy-process.js';

const down = (i: number, backend = 'nginx_80') =>
  `[WARNING]  (2339) : Server ${backend}/s${i} is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. ${9999 - i} active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`;

function limiter(windowMs = 1000) {
  let now = 0;
  const passed: string[] = [];
  const told: Array<{ message: string; held: Record<string, number>; down: boolean }> = [];
  const lines = new StateLines(
    (line) => passed.push(line),
    (message, fields, isDown) => told.push({ message, held: fields.held, down: isDown }),
    { now: () => now, windowMs },
  );
  return { lines, passed, told, at: (ms: number) => (now = ms) };
}

describe("HAProxy's server state lines, by the thousand", () => {
  it('logs the first 10 of a second as they are, and counts the rest into one line by backend and state', () => {
    const x = limiter();
    for (let i = 0; i < 10_000; i++) x.lines.take(down(i, i % 2 ? 'a' : 'b'));
    x.lines.take('[WARNING]  (2339) : CLI : Server a/s1 is UP/READY (leaving forced maintenance).');
    x.lines.flush();
    expect(x.passed).toHaveLength(10);
    expect(x.told).toEqual([
      {
        message: 'haproxy printed 9991 more lines of server state changes, not logged one by one: b DOWN 4995, a DOWN 4995, a UP 1',
        held: { 'b DOWN': 4995, 'a DOWN': 4995, 'a UP': 1 },
        down: true,
      },
    ]);
  });

  it("counts the runtime API's notice of each server added or deleted the same (1,000 servers written at once print 1,000)", () => {
    const x = limiter();
    for (let i = 0; i < 1000; i++) x.lines.take(`[NOTICE]   (3030) : CLI : 'server nginx_80/s${i}' : New server registered.`);
    for (let i = 0; i < 5; i++) x.lines.take('[NOTICE]   (3030) : CLI : Server deleted.');
    x.lines.take("[NOTICE]   (3030) : CLI : 'server nginx_80/s1' : New server registered. And more.");
    // Their own 10 a second: a server going DOWN among them is still logged as HAProxy printed it.
    x.lines.take(down(7));
    x.lines.flush();
    expect(x.passed).toHaveLength(12);
    expect(x.passed.slice(-2)).toEqual(["[NOTICE]   (3030) : CLI : 'server nginx_80/s1' : New server registered. And more.", down(7)]);
    expect(x.told.map((t) => [t.message, t.held, t.down])).toEqual([
      [
        'haproxy printed 995 more lines of servers added or deleted, not logged one by one: nginx_80 NEW 990, DELETED 5',
        { 'nginx_80 NEW': 990, DELETED: 5 },
        false,
      ],
    ]);
  });

  it('passes every other line, and state lines again in the next second', () => {
    const x = limiter();
    for (let i = 0; i < 20; i++) x.lines.take(down(i));
    x.lines.take('[NOTICE]   (2339) : New worker (2400) forked');
    x.at(1000);
    x.lines.take(down(99));
    expect(x.passed.slice(10)).toEqual(['[NOTICE]   (2339) : New worker (2400) forked', down(99)]);
    // The count of the second before is told when the next one starts.
    expect(x.told.map((t) => t.held)).toEqual([{ 'nginx_80 DOWN': 10 }]);
  });

  it('tells what it held when the second ends, with no further line needed', async () => {
    const told: string[] = [];
    const lines = new StateLines(
      () => {},
      (message) => told.push(message),
      { windowMs: 50 },
    );
    for (let i = 0; i < 30; i++) lines.take(down(i));
    await waitFor('the count to be told', () => (told.length > 0 ? true : undefined), 5000);
    expect(told).toEqual(['haproxy printed 20 more lines of server state changes, not logged one by one: nginx_80 DOWN 20']);
  });
});
