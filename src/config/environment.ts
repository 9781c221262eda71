import { usageError } from '../errors.js';
import type { SettingEntry } from './setting-entry.js';
import { SETTINGS } from './table.js';
import type { Flags } from './types.js';

/**
 * Every option from the environment, as containers and Kubernetes pass configuration:
 * `--min-servers` is `OCCS_LB_MIN_SERVERS`, `--no-runtime-api` is `OCCS_LB_RUNTIME_API=false`.
 * The names are derived from the settings table, so an option added there has its variable.
 */

const PREFIX = 'OCCS_LB_';

/** The long option of an entry without `no-`: `--no-runtime-api` → `runtime-api`. */
function longName(entry: SettingEntry): string | undefined {
  const long = /--([a-z0-9-]+)/.exec(entry.flag ?? '')?.[1];
  return long?.replace(/^no-/, '');
}

/** The OCCS_LB_ variable of an option (none for a setting without a flag, or one marked `noVariable`). */
export function optionVariable(entry: SettingEntry): string | undefined {
  const long = longName(entry);
  if (!long || entry.noVariable) return undefined;
  return `${PREFIX}${long.toUpperCase().replace(/-/g, '_')}`;
}

/** Every variable an entry reads: its OCCS_LB_ one, then the table's own (the seed's names). */
export function variablesOf(entry: SettingEntry): string[] {
  const own = optionVariable(entry);
  return [...(own ? [own] : []), ...(entry.env ?? [])];
}

/**
 * Options that choose together: one given as a flag drops the others' variables, as a flag
 * replaces the config file's choice as a whole (a token flag and a token-file variable would
 * otherwise be "used together").
 */
const GROUPS: ReadonlyArray<readonly string[]> = [
  ['token', 'tokenFile'],
  ['kvPassword', 'kvPasswordFile'],
  ['masterSocket', 'pidFile', 'reloadCmd'],
  ['quiet', 'verbose'],
];

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

/** The value an entry's flag would give, from the variable's text; a usage error naming the variable when it cannot be one. */
function parseVariable(entry: SettingEntry, variable: string, text: string): string | string[] | boolean {
  const from = `environment ${variable}`;
  if (/<[^>]+>/.test(entry.flag!)) {
    if (entry.choices && !entry.choices.includes(text)) throw usageError(`${from}: "${text}" is not one of ${entry.choices.join(', ')}`);
    if (!entry.repeatable) return text;
    const values = text
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    if (values.length === 0) throw usageError(`${from} holds no value`, { hint: 'give one or more, separated by commas' });
    return values;
  }
  const word = text.trim().toLowerCase();
  if (!TRUE.has(word) && !FALSE.has(word)) {
    throw usageError(`${from}: "${text}" is not true or false`, { hint: 'use true or false (1/0, yes/no and on/off also work)' });
  }
  return TRUE.has(word);
}

export interface EnvironmentFlags {
  /** The flags given, with every option not given as a flag taken from its variable when set. */
  flags: Flags;
  /** Where each option taken from the environment came from, by long name: `min-servers` → `environment OCCS_LB_MIN_SERVERS`. */
  origins: Record<string, string>;
}

/**
 * Adds the OCCS_LB_ variables to the flags: a flag given on the command line wins (`given`
 * says which were), a variable wins over the config file and the defaults. Empty variables are
 * unset (as for the seed's names).
 */
export function withEnvironment(flags: Flags, env: NodeJS.ProcessEnv, given: (name: string) => boolean): EnvironmentFlags {
  const merged: Record<string, unknown> = { ...flags };
  const origins: Record<string, string> = {};
  const grouped = (name: string) => GROUPS.find((g) => g.includes(name))?.some(given) ?? false;
  for (const entry of SETTINGS as readonly SettingEntry[]) {
    const variable = optionVariable(entry);
    const text = variable ? env[variable] : undefined;
    if (!variable || !text || given(entry.name) || grouped(entry.name)) continue;
    merged[entry.name] = parseVariable(entry, variable, text);
    origins[longName(entry)!] = `environment ${variable}`;
  }
  return { flags: merged, origins };
}
