import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/load.js';
import { failure } from '../support/failure.js';
import { makeTempDir } from '../support/temp.js';

/** The lines of the usage error a config file holding `config` gets. */
async function problems(config: unknown): Promise<string[]> {
  const dir = makeTempDir();
  writeFileSync(join(dir, 'occs-lb.config.json'), JSON.stringify(config));
  const error = await failure(loadSettings({}, { stdout: process.stdout, stderr: process.stderr, env: {}, cwd: dir, stderrIsTTY: false }));
  expect(error.exitCode).toBe(2);
  return error.detail ? error.detail.split('\n').map((line) => line.trim()) : [error.message.replace(/^config file \S+: /, '')];
}

describe('a config-file value of the wrong type is refused stating what it must be, never in zod words', () => {
  it.each([
    [{ frontendPort: '80' }, 'frontendPort: "80" is text; it must be a number (write 80, without quotes)'],
    [{ strict: 'true' }, 'strict: "true" is text; it must be true or false (write true, without quotes)'],
    [{ prefixes: 'apps/x' }, 'prefixes: "apps/x" is text; it must be a list (write ["apps/x"])'],
    [{ statsPort: 80.5 }, 'statsPort: 80.5 is not a whole number'],
    [{ kvTimeout: true }, 'kvTimeout: true is a boolean; it must be text or a number'],
    [{ kv: '' }, 'kv: is empty: give a value, or leave the key out'],
    [{ prefixes: [] }, 'prefixes: is an empty list: list one or more, or leave the key out'],
    [[1, 2], '(top level): is a list; it must be an object of settings'],
    [{ stack: { services: [{ name: 1, prefix: 'p' }] } }, 'stack.services[0].name: 1 is a number; it must be text'],
  ])('%j: %s', async (config, line) => {
    const lines = await problems(config);
    expect(lines).toEqual([expect.stringContaining(line)]);
    expect(lines.join('\n')).not.toMatch(/Expected|received|Invalid input|must contain at least/);
  });
});

describe('an empty config file', () => {
  it('is taken as no settings, with a notice naming it (an empty file is seldom meant)', async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, 'occs-lb.config.json'), '');
    const settings = await loadSettings({}, { stdout: process.stdout, stderr: process.stderr, env: {}, cwd: dir, stderrIsTTY: false });
    expect(settings.notices).toContain(`config file ${join(dir, 'occs-lb.config.json')} is empty: no setting comes from it`);
  });
});
