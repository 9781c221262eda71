import { describe, expect, it } from 'vitest';
import { EXAMPLES } from '../../src/cli.js';
import { runCli, ROOT } from '../support/cli.js';
import { splitShellWords } from '../../src/util/shell-words.js';

const SCOPES = ['program', 'render', 'validate', 'reload', 'watch'] as const;
const helpArgs = (scope: (typeof SCOPES)[number]) => (scope === 'program' ? ['--help'] : [scope, '--help']);

/** The words of an example after `occs-lb` (leading VAR=value assignments dropped). */
const argsOf = (example: string) => {
  const words = splitShellWords(example) ?? [];
  return words.slice(words.indexOf('occs-lb') + 1);
};

describe('help', () => {
  it.each(SCOPES)('%s: shows two or three examples, each using only options that command takes', async (scope) => {
    const help = (await runCli(helpArgs(scope))).stdout;
    const commands = EXAMPLES[scope].filter((line) => !line.startsWith('#'));
    expect(commands.length).toBeGreaterThanOrEqual(2);
    expect(commands.length).toBeLessThanOrEqual(3);
    expect(help).toContain(`Examples:\n${EXAMPLES[scope].map((l) => `  ${l}`).join('\n')}\n`);
    for (const example of commands) {
      const [command, ...rest] = argsOf(example);
      const own = scope === 'program' ? (await runCli([command!, '--help'])).stdout : help;
      for (const flag of rest.filter((w) => w.startsWith('--'))) expect(own, `${flag} in "${example}"`).toMatch(new RegExp(`^\\s+(-\\w, )?${flag}\\b`, 'm'));
    }
  });

  it('the examples on a file: store run as written', async () => {
    const runnable = Object.values(EXAMPLES)
      .flat()
      .filter((line) => line.includes('file:examples/'));
    expect(runnable.length).toBeGreaterThanOrEqual(3);
    for (const example of runnable) {
      const result = await runCli(argsOf(example), { cwd: ROOT });
      expect(result.code, `${example}\n${result.stderr}`).toBe(0);
    }
  });

  it('reload lists only what it uses, and refuses the rendering options (exit 2, pointing at its help)', async () => {
    const help = (await runCli(['reload', '--help'])).stdout;
    for (const flag of ['--template', '--bind', '--strict', '--kv', '--prefix']) expect(help).not.toContain(flag);
    for (const flag of ['--master-socket', '--haproxy-config', '--no-check', '--format']) expect(help).toContain(flag);
    const refused = await runCli(['reload', '--template', 'x.ejs', '--master-socket', '/nonexistent.sock']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("error: unknown option '--template'");
    expect(refused.stderr).toContain('occs-lb reload --help lists the options it takes');
  });
});
