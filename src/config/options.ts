import { Option, type Command } from 'commander';
import { variablesOf } from './environment.js';
import { HELP_GROUPS, takes, type HelpGroup, type OptionScope, type SettingEntry } from './setting-entry.js';

export { takes, type OptionScope } from './setting-entry.js';

import { SETTINGS } from './table.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
const GROUP_ORDER = Object.keys(HELP_GROUPS) as HelpGroup[];

/** The table's entries of `scope` by help group, in the table's order within a group. */
function entriesOf(scope: OptionScope): (SettingEntry & { flag: string })[] {
  const entries = (SETTINGS as readonly SettingEntry[]).filter((entry) => takes(entry, scope));
  return entries.sort((a, b) => GROUP_ORDER.indexOf(a.group) - GROUP_ORDER.indexOf(b.group));
}

/** The help text of the entry in `scope`, with its default and variables: "(default: 5s, env: OCCS_LB_DRAIN_TIMEOUT)". */
export function helpText(entry: SettingEntry, scope: OptionScope): string {
  const help = typeof entry.help === 'string' ? entry.help : scope === 'program' ? undefined : entry.help[scope];
  // A --no-x switch is OCCS_LB_X=false (OCCS_LB_X=true is its default).
  const variables = variablesOf(entry).map((v, i) => (i === 0 && entry.flag?.startsWith('--no-') ? `${v}=false` : v));
  const notes = [...(entry.default === undefined ? [] : [`default: ${entry.default}`]), ...(variables.length === 0 ? [] : [`env: ${variables.join(', ')}`])];
  return notes.length === 0 ? (help ?? '') : `${help ?? ''} (${notes.join(', ')})`;
}

/** Adds the table's options of `scope` to the command, each under its group's heading in the help. */
export function addOptions(command: Command, scope: OptionScope): Command {
  for (const entry of entriesOf(scope)) {
    const option = new Option(entry.flag, helpText(entry, scope)).helpGroup(HELP_GROUPS[entry.group]);
    if (entry.choices) option.choices(entry.choices);
    if (entry.initial !== undefined) option.default(entry.initial);
    if (entry.repeatable) option.argParser(collect);
    command.addOption(option);
  }
  return command;
}
