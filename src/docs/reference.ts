import { variablesOf } from '../config/environment.js';
import { HELP_GROUPS, type CommandName, type HelpGroup, type SettingEntry } from '../config/setting-entry.js';
import { SETTINGS } from '../config/table.js';
import { ERROR_CODES, ExitCode } from '../errors.js';
import { metricsText } from '../watch/metrics.js';
import { WatchState } from '../watch/state.js';
import { troubleshootingMarkdown } from './troubleshooting.js';

/**
 * The reference of every option, environment variable, config-file key, exit code, error code and
 * metric, made from the tables the program itself runs on (the settings table, the error table,
 * the metrics /metrics serves), so it cannot drift from them: docs/reference.md is this, and a
 * test fails when it is stale. The man page (`occs-lb(1)`, built into dist/) is made from the same rows.
 */

const COMMANDS: readonly CommandName[] = ['render', 'validate', 'reload', 'watch'];

/** What the reference says of one setting. */
export interface SettingRow {
  group: HelpGroup;
  flag?: string;
  variables: string[];
  key?: string;
  commands: string;
  help: string;
  default?: string;
  choices?: readonly string[];
}

/** A `--no-x` switch's variable is OCCS_LB_X: said beside it, as the name alone reads like "on". */
const switchOff = (r: SettingRow) => (r.flag?.startsWith('--no-') && r.variables.length ? ' (false turns it off)' : '');

/** The settings table as reference rows, in the help's order. */
export function settingRows(): SettingRow[] {
  return (SETTINGS as readonly SettingEntry[]).map((entry) => {
    const help =
      typeof entry.help === 'string'
        ? entry.help
        : Object.entries(entry.help)
            .map(([command, text]) => `${command}: ${text}`)
            .join('; ');
    return {
      group: entry.group,
      flag: entry.flag,
      variables: variablesOf(entry),
      key: Object.keys(entry.file ?? {})[0],
      commands: entry.commands ? COMMANDS.filter((c) => entry.commands!.includes(c)).join(', ') : 'every command',
      help,
      default: entry.default ?? entry.initial,
      choices: entry.choices,
    };
  });
}

/** Exit codes and the error codes that end a run with each. */
export function exitRows(): Array<{ exit: number; name: string; codes: string[] }> {
  return Object.entries(ExitCode).map(([name, exit]) => ({
    exit,
    name,
    codes: Object.entries(ERROR_CODES)
      .filter(([, p]) => p.exit === exit)
      .map(([code]) => code),
  }));
}

/** Every metric /metrics serves: name, type and help, read from what it serves (a fresh watch's). */
export function metricRows(): Array<{ name: string; type: string; help: string }> {
  const text = metricsText(new WatchState());
  return [...text.matchAll(/^# HELP (\S+) (.*)\n# TYPE \S+ (\S+)$/gm)].map((m) => ({ name: m[1]!, help: m[2]!, type: m[3]! }));
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (text: string) => `\`${text.replace(/\|/g, '\\|')}\``;

/** docs/reference.md. */
export function referenceMarkdown(): string {
  const out = [
    '# Reference',
    '',
    'Every option, environment variable, config-file key, exit code, error code and metric of occs-lb.',
    'Generated from the tables the program runs on (`src/docs/reference.ts`); a test fails when this',
    'page is stale. Precedence: flags, then the environment, then the config file, then the defaults.',
    '',
    '## Options, environment variables and config-file keys',
    '',
    'By the groups `occs-lb COMMAND --help` shows them in.',
  ];
  const rows = settingRows();
  for (const [group, heading] of Object.entries(HELP_GROUPS)) {
    out.push(
      '',
      `### ${heading.replace(/:$/, '')}`,
      '',
      '| option | environment | config file | commands | what it does | default |',
      '|---|---|---|---|---|---|',
    );
    for (const r of rows.filter((x) => x.group === group)) {
      const choices = r.choices ? ` (${r.choices.join(', ')})` : '';
      out.push(
        `| ${r.flag ? code(r.flag) : '—'} | ${r.variables.map(code).join(' ') || '—'}${switchOff(r)} | ${r.key ? code(r.key) : '—'} | ${r.commands} | ${cell(r.help)}${cell(choices)} | ${r.default ? cell(r.default) : '—'} |`,
      );
    }
  }
  out.push('', '## Exit codes', '', '| exit | meaning | error codes |', '|---|---|---|');
  for (const r of exitRows()) out.push(`| ${r.exit} | ${r.name} | ${r.codes.map(code).join(' ') || '—'} |`);
  out.push('', '## Metrics (`/metrics`)', '', '| metric | type | what it counts or shows |', '|---|---|---|');
  for (const m of metricRows()) out.push(`| ${code(m.name)} | ${m.type} | ${cell(m.help)} |`);
  return `${out.join('\n')}\n`;
}

/** Text as roff prints it: backslashes doubled, a line starting with `.` or `'` escaped. */
const roff = (text: string) => text.replace(/\\/g, '\\e').replace(/^([.'])/gm, '\\&$1');

/** The man page occs-lb(1), in roff, from the same rows. */
export function manPage(version: string): string {
  const out = [
    `.TH OCCS-LB 1 "" "occs-lb ${roff(version)}" "User Commands"`,
    '.SH NAME',
    'occs-lb \\- keep HAProxy in step with a service-discovery key/value store',
    '.SH SYNOPSIS',
    '.B occs-lb',
    '.RB { render | validate | reload | watch }',
    '.RI [ options ]',
    '.SH DESCRIPTION',
    'occs-lb renders an HAProxy config from a key/value store (OCCS/Consul, etcd or a file), checks it with',
    '.BR "haproxy -c" ,',
    'installs it atomically and reloads HAProxy, or applies server, route and certificate changes through',
    "HAProxy's runtime API with no reload.",
    '.SH OPTIONS',
  ];
  for (const r of settingRows()) {
    out.push('.TP', r.flag ? `.B ${roff(r.flag)}` : `.I ${roff(r.key ?? '')}`);
    const extra = [
      `Commands: ${r.commands}.`,
      r.variables.length ? `Environment: ${r.variables.join(', ')}${switchOff(r)}.` : '',
      r.key ? `Config file: ${r.key}.` : '',
      r.choices ? `One of: ${r.choices.join(', ')}.` : '',
      r.default ? `Default: ${r.default}.` : '',
    ];
    out.push(roff([r.help.replace(/\.?$/, '.'), ...extra].filter(Boolean).join(' ')));
  }
  out.push('.SH EXIT STATUS');
  for (const r of exitRows()) out.push('.TP', `.B ${r.exit}`, roff(`${r.name}${r.codes.length ? `: ${r.codes.join(', ')}` : ''}`));
  out.push('.SH SEE ALSO', '.BR haproxy (1)', '.PP', 'The README and docs/ of the occs-lb package.');
  return `${out.join('\n')}\n`;
}

// `tsx src/docs/reference.ts man VERSION` (the build) prints the man page; `troubleshooting`, docs/troubleshooting.md; with no argument, docs/reference.md.
if (process.argv[1]?.endsWith('reference.ts')) {
  const [what, version = ''] = process.argv.slice(2);
  process.stdout.write(what === 'man' ? manPage(version) : what === 'troubleshooting' ? troubleshootingMarkdown() : referenceMarkdown());
}
