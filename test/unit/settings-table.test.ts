import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { variablesOf } from '../../src/config/environment.js';
import { helpText, takes } from '../../src/config/options.js';
import { fileConfigSchema } from '../../src/config/schema.js';
import { HELP_GROUPS, type CommandName, type SettingEntry } from '../../src/config/setting-entry.js';
import { SETTINGS } from '../../src/config/table.js';

const COMMANDS: CommandName[] = ['render', 'validate', 'reload', 'watch'];
const entries = SETTINGS as readonly SettingEntry[];

/** A row of the README's options table: what its option, environment and config-file cells name. */
interface Row {
  line: string;
  flags: string[];
  commands: string[];
  env: string[];
  keys: string[];
}

const codeSpans = (text: string): string[] => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.replace(/\\\|/g, '|'));

/** The option cell: the flags before the first parenthesis (outside code), and the commands the rest names. */
function optionCell(cell: string): { flags: string[]; commands: string[] } {
  let inCode = false;
  let split = cell.length;
  for (let i = 0; i < cell.length; i++) {
    if (cell[i] === '`') inCode = !inCode;
    if (!inCode && cell[i] === '(') {
      split = i;
      break;
    }
  }
  const flags = codeSpans(cell.slice(0, split)).flatMap((span) => span.split(/,\s*/).map((part) => part.split(' ')[0]!));
  const prose = cell.slice(split).replace(/`[^`]*`/g, '');
  return { flags: flags.filter((f) => f.startsWith('-')), commands: COMMANDS.filter((c) => new RegExp(`\\b${c}\\b`).test(prose)) };
}

function readmeOptionsTable(): Row[] {
  const readme = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const section = readme.split('\n## Options\n')[1]?.split(/\n#{1,3} /)[0] ?? '';
  const lines = section.split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const table = lines.slice(
    first,
    lines.findIndex((l, i) => i > first && !l.startsWith('|')),
  );
  return table.slice(2).map((line) => {
    const [option = '', env = '', key = ''] = line
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
    return {
      line,
      ...optionCell(option),
      env: codeSpans(env).filter((s) => /^[A-Z][A-Z0-9_]+$/.test(s)),
      keys: codeSpans(key).map((s) => /^\w+/.exec(s)![0]),
    };
  });
}

const flagsOf = (entry: SettingEntry): string[] => (entry.flag ?? '').split(/[ ,]+/).filter((f) => f.startsWith('-'));
const fileKey = (entry: SettingEntry): string | undefined => Object.keys(entry.file ?? {})[0];

describe('the settings table', () => {
  it('names each entry as commander does (the key in Flags)', () => {
    for (const entry of entries) if (entry.flag) expect(new Option(entry.flag).attributeName(), entry.flag).toBe(entry.name);
  });

  it.each(entries.map((e) => [e.flag ?? e.name, e] as const))('puts %s in one of the help groups', (_, entry) => {
    expect(Object.keys(HELP_GROUPS)).toContain(entry.group);
  });

  it('gives every entry at most one config-file key, each key once, and the schema exactly those keys, resources and $schema', () => {
    const keys = entries.flatMap((e) => Object.keys(e.file ?? {}));
    for (const entry of entries) expect(Object.keys(entry.file ?? {}).length, entry.name).toBeLessThanOrEqual(1);
    expect(new Set(keys).size).toBe(keys.length);
    expect(Object.keys(fileConfigSchema.shape).sort()).toEqual([...keys, 'resources', '$schema'].sort());
  });

  it('has a help text for each command that takes an option, and no flag twice in one command', () => {
    for (const scope of ['program', ...COMMANDS] as const) {
      const flags = entries.filter((e) => takes(e, scope)).flatMap(flagsOf);
      expect(new Set(flags).size, scope).toBe(flags.length);
      for (const entry of entries.filter((e) => takes(e, scope))) expect(helpText(entry, scope), `${entry.flag} in ${scope}`).not.toMatch(/^\s*(\(|$)/);
    }
  });
});

describe('the options table of docs/configuration.md', () => {
  const rows = readmeOptionsTable();

  it('is found', () => {
    expect(rows.length).toBeGreaterThan(20);
  });

  it.each(entries.map((e) => [e.flag ?? e.name, e] as const))('lists %s with its variables, config-file key and commands', (_, entry) => {
    const key = fileKey(entry);
    const row = entry.flag ? rows.find((r) => r.flags.includes(flagsOf(entry).at(-1)!)) : rows.find((r) => r.flags.length === 0 && key && r.keys.includes(key));
    expect(row, 'no row').toBeDefined();
    expect(row!.flags, row!.line).toEqual(expect.arrayContaining(flagsOf(entry)));
    expect(row!.env, row!.line).toEqual(expect.arrayContaining(variablesOf(entry)));
    if (key) expect(row!.keys, row!.line).toContain(key);
    if (entry.flag) expect(row!.commands, row!.line).toEqual(COMMANDS.filter((c) => entry.commands?.includes(c)));
  });

  it.each(rows.map((r) => [r.line, r] as const))('names only what the table has: %s', (_, row) => {
    const own = entries.filter((e) =>
      row.flags.length ? flagsOf(e).some((f) => row.flags.includes(f)) : e.flag === undefined && row.keys.includes(fileKey(e)!),
    );
    expect(own.length, 'no entry').toBeGreaterThan(0);
    expect(row.flags.filter((f) => !own.some((e) => flagsOf(e).includes(f)))).toEqual([]);
    expect(row.env.filter((v) => !own.some((e) => variablesOf(e).includes(v)))).toEqual([]);
    expect(row.keys.filter((k) => !own.some((e) => fileKey(e) === k))).toEqual([]);
  });
});
