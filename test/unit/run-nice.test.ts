import { getPriority } from 'node:os';
import { describe, expect, it } from 'vitest';
import { BACKGROUND_NICE } from '../../src/haproxy/check.js';
import { runCommand } from '../../src/util/run.js';

/** The command prints its own niceness: once it is no longer 0 (the niceness asked is set just after the start), or at once. */
const ownNice = (waitForChange: boolean) => (waitForChange ? 'while [ "$(ps -o ni= -p $$ | tr -d " ")" = 0 ]; do :; done; ps -o ni= -p $$' : 'ps -o ni= -p $$');

describe('runCommand nice', () => {
  it('runs a command at the niceness asked (a check off the serving path yields the CPU)', async () => {
    const result = await runCommand('sh', ['-c', ownNice(true)], { timeoutMs: 10_000, nice: BACKGROUND_NICE });
    expect(result.timedOut).toBe(false);
    expect(result.output.trim()).toBe(String(BACKGROUND_NICE));
  });

  it('runs a command at our own niceness when none is asked', async () => {
    const result = await runCommand('sh', ['-c', ownNice(false)], { timeoutMs: 10_000 });
    expect(result.output.trim()).toBe(String(getPriority()));
  });
});
