import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageVersion } from '../../src/paths.js';
import { EXAMPLES } from '../../src/cli.js';
import { runCli, ROOT } from '../support/cli.js';
import { splitShellWords } from '../../src/util/shell-words.js';
import { takes } from '../../src/config/options.js';
import { HELP_GROUPS, type SettingEntry } from '../../src/config/setting-entry.js';
import { SETTINGS } from '../../src/config/table.js';
import { ENVIRONMENT_POINTER } from '../../src/help.js';

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
    expect(refused.stderr).toContain('error: --template is an option of render, validate and watch, not reload');
    expect(refused.stderr).toContain('(occs-lb render --help lists its options)');
  });

  it("names the commands that take another command's option (exit 2); a typo keeps commander's suggestion", async () => {
    const minServers = await runCli(['render', '--min-servers', '1']);
    expect(minServers.code).toBe(2);
    expect(minServers.stderr).toContain('error: --min-servers is an option of validate and watch, not render\n(occs-lb validate --help lists its options)');
    const wait = await runCli(['render', '--wait=1s']);
    expect(wait.code).toBe(2);
    expect(wait.stderr).toContain('error: --wait is an option of watch, not render');
    const typo = await runCli(['render', '--templat', 'x.ejs']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("error: unknown option '--templat'\n(Did you mean --template?)");
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

/** The page's option headings, each with the long flags listed under it, in the page's order (the epilog, from its examples, is not). */
function optionSections(help: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of help.split('\nExamples:\n')[0]!.split('\n')) {
    if (/^\S.*:$/.test(line)) sections.set(line, (current = []));
    else if (/^\S/.test(line)) current = undefined;
    const flag = /^ {2}(?:-\w, )?(--[\w-]+)/.exec(line)?.[1];
    if (flag && current) current.push(flag);
  }
  for (const heading of ['Commands:', 'Arguments:']) sections.delete(heading);
  return sections;
}

const longFlag = (entry: SettingEntry) => /--[\w-]+/.exec(entry.flag ?? '')![0];
const HEADINGS: string[] = Object.values(HELP_GROUPS);

describe('help groups', () => {
  it('watch lists its options under every heading, in order: Store, Template, Stack, TLS, Output, HAProxy, Watch loop, Listener, Global options', async () => {
    const sections = optionSections((await runCli(['watch', '--help'])).stdout);
    expect([...sections.keys()]).toEqual(HEADINGS);
    expect(HEADINGS).toEqual(['Store:', 'Template:', 'Stack:', 'TLS:', 'Output:', 'HAProxy:', 'Watch loop:', 'Listener:', 'Global options:']);
  });

  it.each(SCOPES)('%s: each option once, under the heading of its group in the settings table, with --version and --help', async (scope) => {
    const sections = optionSections((await runCli(helpArgs(scope))).stdout);
    const headings = [...sections.keys()];
    expect(headings, 'only group headings, in their order').toEqual(HEADINGS.filter((h) => headings.includes(h)));
    const listed = [...sections.values()].flat();
    expect(new Set(listed).size, 'no option twice').toBe(listed.length);
    const entries = (SETTINGS as readonly SettingEntry[]).filter((e) => takes(e, scope) || takes(e, 'program'));
    for (const entry of entries) expect(sections.get(HELP_GROUPS[entry.group]), entry.flag).toContain(longFlag(entry));
    expect(listed.sort()).toEqual([...entries.map(longFlag), '--version', '--help'].sort());
    expect(sections.get(HELP_GROUPS.program)!.slice(-2)).toEqual(['--version', '--help']);
  });

  it("the environment block is on the top-level page only, once; each command's page points to it in one line", async () => {
    const top = (await runCli(['--help'])).stdout;
    expect(top.match(/^Environment: /gm)).toHaveLength(1);
    expect(top.match(/^ {2}OCCS_API_TOKEN_FILE /gm)).toHaveLength(1);
    expect(top).not.toContain(ENVIRONMENT_POINTER.trim());
    for (const command of SCOPES.filter((s) => s !== 'program')) {
      const page = (await runCli([command, '--help'])).stdout;
      expect(page, command).not.toMatch(/^Environment: /m);
      expect(page, command).not.toMatch(/^ {2}OCCS_API_TOKEN_FILE /m);
      expect(
        page.split('\n').filter((line) => line.includes('occs-lb --help')),
        command,
      ).toEqual([ENVIRONMENT_POINTER.trim()]);
      expect(page, command).toContain(`Examples:\n  ${EXAMPLES[command][0]}`);
    }
  });
});
