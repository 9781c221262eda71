import { Option, type Command } from 'commander';
import { variablesOf } from './environment.js';
import { takes, type OptionScope, type SettingEntry } from './setting-entry.js';

export { takes, type OptionScope } from './setting-entry.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
import { SETTINGS } from './table.js';

/** The help text of the entry in `scope`, with its default and variables: "(default: 5s, env: OCCS_LB_DRAIN_TIMEOUT)". */
export function helpText(entry: SettingEntry, scope: OptionScope): string {
  const help = typeof entry.help === 'string' ? entry.help : scope === 'program' ? undefined : entry.help[scope];
  const variables = variablesOf(entry);
  const notes = [...(entry.default === undefined ? [] : [`default: ${entry.default}`]), ...(variables.length === 0 ? [] : [`env: ${variables.join(', ')}`])];
  return notes.length === 0 ? (help ?? '') : `${help ?? ''} (${notes.join(', ')})`;
}

/** Adds the table's options of `scope` to the command, in the table's order. */
export function addOptions(command: Command, scope: OptionScope): Command {
  for (const entry of SETTINGS as readonly SettingEntry[]) {
    if (!takes(entry, scope)) continue;
    const option = new Option(entry.flag, helpText(entry, scope));
    if (entry.choices) option.choices(entry.choices);
    if (entry.initial !== undefined) option.default(entry.initial);
    if (entry.repeatable) option.argParser(collect);
    command.addOption(option);
  }
  return command;
}
