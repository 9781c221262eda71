import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../support/cli.js';

/** Every `npx occs-lb …` line of the README that needs no server (a file: source) runs as written. */
const commands = readFileSync(join(ROOT, 'README.md'), 'utf8')
  .split('\n')
  .map((line) => line.replace(/^npm ci && /, '').trim())
  .filter((line) => line.startsWith('npx occs-lb ') && line.includes('--kv file:'));

describe('README commands', () => {
  it('there are some to run', () => {
    expect(commands.length).toBeGreaterThanOrEqual(3);
  });

  it.each(commands)('%s', async (command) => {
    const args = command.replace(/^npx occs-lb /, '').split(/\s+/);
    const result = await runCli(args);
    expect(result.stderr).not.toMatch(/^error:/m);
    expect(result.code).toBe(0);
  });
});
