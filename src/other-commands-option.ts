import type { Command } from 'commander';
import { takes, type CommandName, type SettingEntry } from './config/setting-entry.js';
import { SETTINGS } from './config/table.js';

/**
 * An option of another command given to this one (`render --min-servers 1`): commander would say
 * only "unknown option"; this names the commands that take it. A typo keeps commander's word
 * (with its "Did you mean").
 */

const COMMANDS: readonly CommandName[] = ['render', 'validate', 'reload', 'watch'];

/** The commands whose options include `flag` (`--min-servers`, `--wait=1s`, `--no-check`). */
export function commandsTaking(flag: string): CommandName[] {
  const name = flag.split('=')[0]!;
  const spells = (entry: SettingEntry) => (entry.flag?.match(/--?[A-Za-z0-9][A-Za-z0-9-]*/g) ?? ([] as string[])).includes(name);
  return COMMANDS.filter((command) => (SETTINGS as readonly SettingEntry[]).some((entry) => takes(entry, command) && spells(entry)));
}

const list = (names: readonly string[]) => (names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names.at(-1)!}`);

/** Makes `command` (the command `name`) say whose option an unknown one is, when another command has it. */
export function explainOtherCommandsOptions(command: Command, name: CommandName): Command {
  const commanders = command as unknown as { unknownOption(flag: string): void };
  const unknownOption = commanders.unknownOption.bind(command);
  commanders.unknownOption = (flag: string) => {
    const others = commandsTaking(flag).filter((other) => other !== name);
    if (others.length === 0) return unknownOption(flag);
    // The hint points at a command that takes it, not at this command's help.
    command.showHelpAfterError(`(occs-lb ${others[0]!} --help lists its options)`);
    command.error(`error: ${flag.split('=')[0]!} is an option of ${list(others)}, not ${name}`, { code: 'commander.unknownOption' });
  };
  return command;
}
