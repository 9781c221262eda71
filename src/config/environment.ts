import { usageError } from '../errors.js';
import { takes, type CommandName, type SettingEntry } from './setting-entry.js';
import { SETTINGS } from './table.js';
import type { Flags } from './types.js';
import { unknownVariableNotices, type KnownVariables } from './unknown-variables.js';

/**
 * Every option from the environment, as containers and Kubernetes pass configuration:
 * `--min-servers` is `OCCS_LB_MIN_SERVERS`, `--no-runtime-api` is `OCCS_LB_RUNTIME_API=false`.
 * The names are derived from the settings table, so an option added there has its variable.
 */

const PREFIX = 'OCCS_LB_';

/** The long option of an entry without `no-`: `--no-runtime-api` → `runtime-api`. */
export function longName(entry: SettingEntry): string | undefined {
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

/**
 * What Kubernetes sets for every Service of the namespace (docker links): a Service named
 * `occs-lb-stats` gives `OCCS_LB_STATS_PORT=tcp://10.96.0.12:1936`. Never a value of ours.
 */
const SERVICE_LINK = /^(tcp|udp|sctp):\/\/[^\s/]+:\d+$/;

const serviceLinkNotice = (variable: string, text: string) =>
  `environment ${variable} holds ${text}, a Kubernetes service link (a Service named ${variable
    .replace(/_PORT$/, '')
    .toLowerCase()
    .replace(/_/g, '-')}), not a setting: it is ignored (set enableServiceLinks: false in the pod)`;

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

/** The variables of every setting, whichever command reads them (a watch variable set while render runs is no mistake). */
function knownVariables(): KnownVariables {
  const entries = SETTINGS as readonly SettingEntry[];
  return {
    variables: entries.flatMap(variablesOf),
    switches: entries.filter((e) => e.flag?.startsWith('--no-')).flatMap((e) => optionVariable(e) ?? []),
  };
}

export interface EnvironmentFlags {
  /** The flags given, with every option not given as a flag taken from its variable when set. */
  flags: Flags;
  /** Variables left out, and why (a Kubernetes service link that looks like one of ours, a name no setting reads). */
  notices: string[];
  /** Where each option taken from the environment came from, by long name: `min-servers` → `environment OCCS_LB_MIN_SERVERS`. */
  origins: Record<string, string>;
}

/**
 * Adds the OCCS_LB_ variables to the flags: a flag given on the command line wins (`given`
 * says which were), a variable wins over the config file and the defaults. Empty variables are
 * unset (as for the seed's names).
 */
export function withEnvironment(flags: Flags, env: NodeJS.ProcessEnv, given: (name: string) => boolean, command?: CommandName): EnvironmentFlags {
  const merged: Record<string, unknown> = { ...flags };
  const origins: Record<string, string> = {};
  const notices: string[] = [];
  const grouped = (name: string) => GROUPS.find((g) => g.includes(name))?.some(given) ?? false;
  for (const entry of SETTINGS as readonly SettingEntry[]) {
    // A command reads the variables of its own options only: the image's watch settings are no business of render's.
    if (command && !takes(entry, command) && !takes(entry, 'program')) continue;
    const variable = optionVariable(entry);
    // Trimmed: a value from a YAML block or a file-made ConfigMap key ends in a line break.
    const text = variable ? env[variable]?.trim() : undefined;
    if (!variable || !text || given(entry.name) || grouped(entry.name)) continue;
    if (SERVICE_LINK.test(text)) {
      notices.push(serviceLinkNotice(variable, text));
      continue;
    }
    merged[entry.name] = parseVariable(entry, variable, text);
    origins[longName(entry)!] = `environment ${variable}`;
  }
  return { flags: merged, origins, notices: [...notices, ...unknownVariableNotices(env, knownVariables(), (text) => SERVICE_LINK.test(text))] };
}
