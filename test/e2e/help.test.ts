import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageVersion } from '../../src/paths.js';
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

  it('--format json: one document shape for every outcome and both commands (version, ok, errors, warnings, steps, backends), pretty-printed', async () => {
    const version = packageVersion();
    const seed = ['--kv', 'file:examples/kv.properties', '--prefix', 'apps/myapp/containers'];
    const outcomes = [
      ['validate', ...seed, '--format', 'json'],
      ['validate', ...seed, '--min-servers', '3', '--format', 'json'],
      ['validate', '--kv', 'consul://', '--prefix', 'x', '--format', 'json'],
      ['validate', ...seed, '--kv-timeout', 'soon', '--format', 'json'],
      ['validate', ...seed, '--wait', '1s', '--format', 'json'],
      ['reload', '--format', 'json'],
      ['reload', '--master-socket', '/nonexistent/master.sock', '--no-check', '--haproxy-config', join(ROOT, 'README.md'), '--format', 'json'],
    ];
    for (const args of outcomes) {
      const result = await runCli(args, { cwd: ROOT });
      expect(result.stdout, args.join(' ')).toMatch(/^\{\n {2}"version": /);
      const doc = JSON.parse(result.stdout) as Record<string, unknown>;
      expect(Object.keys(doc).slice(0, 6), args.join(' ')).toEqual(['version', 'ok', 'errors', 'warnings', 'steps', 'backends']);
      expect(doc.version).toBe(version);
      expect(doc.ok).toBe(result.code === 0);
      expect((doc.errors as unknown[]).length > 0).toBe(result.code !== 0);
    }
  });
});
