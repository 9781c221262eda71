import { Option, type Command } from 'commander';
import { variablesOf } from './environment.js';
import type { CommandName, SettingEntry } from './setting-entry.js';
import { SETTINGS } from './table.js';

/** Where options go: the program itself (the options every command takes), or one command. */
export type OptionScope = CommandName | 'program';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Whether the entry is an option of `scope`. */
export function takes(entry: SettingEntry, scope: OptionScope): entry is SettingEntry & { flag: string } {
  if (entry.flag === undefined) return false;
  return entry.commands === undefined ? scope === 'program' : scope !== 'program' && entry.commands.includes(scope);
}

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
