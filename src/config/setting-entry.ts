import type { z } from 'zod';
import { DURATION_PATTERN } from '../util/duration.js';
import { SIZE_PATTERN } from '../util/size.js';
import { IPV4_PATTERN, IPV6_CHARACTERS } from '../values/ip.js';

/** What one row of the settings table (table.ts) says about a setting, and the config-file types its rows use. */

export type CommandName = 'render' | 'validate' | 'reload' | 'watch';

/** The zod type of a config-file key, built only when a config file is read (zod loads lazily). */
export type FileType = (zod: typeof z) => z.ZodTypeAny;

/**
 * The help's groups of options, in the order a command's help lists them, with their headings.
 * `program`: the options of the program itself, which every command's page lists too.
 */
export const HELP_GROUPS = {
  store: 'Store:',
  template: 'Template:',
  stack: 'Stack:',
  tls: 'TLS:',
  output: 'Output:',
  haproxy: 'HAProxy:',
  watch: 'Watch loop:',
  listener: 'Listener:',
  program: 'Global options:',
} as const;

export type HelpGroup = keyof typeof HELP_GROUPS;

export interface SettingEntry {
  /** The key in `Flags`: commander's attribute name of the flag (`--no-x` sets `x`). */
  readonly name: string;
  /** commander's flags: `--name <value>`, a boolean `--name`, a negation `--no-name`; none: no flag. */
  readonly flag?: string;
  /** The environment variables it reads (their precedence is settings.ts's). */
  readonly env?: readonly string[];
  /** Its config-file key with that key's zod type, e.g. `{ kvTimeout: duration }` (one key). */
  readonly file?: { readonly [key: string]: FileType };
  /** The commands that take it; absent: every command (an option of the program itself). */
  readonly commands?: readonly CommandName[];
  /** The heading it is listed under in the help (an entry with no flag has one too: where it would go). */
  readonly group: HelpGroup;
  /** One text, or one per command. */
  readonly help: string | { readonly [C in CommandName]?: string };
  /** Shown in the help as "(default: …)"; the value itself comes from settings.ts. */
  readonly default?: string;
  readonly choices?: readonly string[];
  /** A value commander sets when the flag is absent (and shows with the choices). */
  readonly initial?: string;
  /** Repeatable: the values collect into an array (its OCCS_LB_ variable separates them by commas). */
  readonly repeatable?: true;
  /** No OCCS_LB_ variable of its own: the name it would get is another option's (`--no-haproxy`, `--haproxy`). */
  readonly noVariable?: true;
}

export const text = (zod: typeof z) => zod.string().min(1);
export const anyText = (zod: typeof z) => zod.string();
export const yesNo = (zod: typeof z) => zod.boolean();
export const texts = (zod: typeof z) => zod.array(zod.string()).min(1);

/*
 * The types below state a value's rule too (a pattern, a range, the choices), so the config
 * file's JSON Schema (json-schema.ts) catches in an editor what occs-lb refuses. At run time
 * settings.ts checks the same rules with messages that name the value (load.ts leaves them to it).
 */
export const port = (zod: typeof z) => zod.number().int().min(1).max(65535);
export const count = (zod: typeof z) => zod.number().int().nonnegative();
export const formats = ['text', 'json'] as const;
export const textOrJson = (zod: typeof z) => zod.enum(formats);
/** Consul's read consistency modes (`?stale`, `?consistent`, or neither). */
export const consistencies = ['default', 'stale', 'consistent'] as const;
export const consistency = (zod: typeof z) => zod.enum(consistencies);
/** HAProxy's balance algorithms occs-lb takes (`--balance`, a stack service's `balance`). */
export const BALANCE_ALGORITHMS = ['roundrobin', 'static-rr', 'leastconn', 'first', 'source', 'random'] as const;
export const balance = (zod: typeof z) => zod.enum(BALANCE_ALGORITHMS);
/** A duration: text such as `5s` or `1m30s`, or seconds (0 or more). */
export const duration = (zod: typeof z) => zod.union([zod.string().regex(new RegExp(DURATION_PATTERN)), zod.number().nonnegative()]);
/** A duration more than 0 (the text holds a digit other than 0). */
export const positiveDuration = (zod: typeof z) => zod.union([zod.string().regex(new RegExp(`(?=.*[1-9])${DURATION_PATTERN}`)), zod.number().positive()]);
const durationPart = DURATION_PATTERN.slice(1, -1);
/** `MIN[:MAX]`, two durations (watch's --wait). */
export const waitRange = (zod: typeof z) => zod.string().regex(new RegExp(`^${durationPart}(?::${durationPart})?$`));
export const size = (zod: typeof z) => zod.union([zod.string().regex(new RegExp(SIZE_PATTERN)), zod.number().int().positive()]);
/** Text of letters, digits and the given punctuation (a name HAProxy's config takes as it is). */
export const letters = (punctuation: string, most?: number) => (zod: typeof z) => {
  const type = zod.string().regex(new RegExp(`^[A-Za-z0-9${punctuation}]+$`));
  return most === undefined ? type : type.max(most);
};
/** `*` or an IP address (`--bind`). */
export const bindAddress = (zod: typeof z) => zod.string().regex(new RegExp(`^(?:\\*|${IPV4_PATTERN}|${IPV6_CHARACTERS})$`));
const PORT_NUMBER = '0*(?:[1-9]\\d{0,3}|[1-5]\\d{4}|6[0-4]\\d{3}|65[0-4]\\d\\d|655[0-2]\\d|6553[0-5])';
/** HOST:PORT of the status listener: an IP address (IPv6 in brackets), `localhost`, or none (every address). */
export const listenAddress = (zod: typeof z) => zod.string().regex(new RegExp(`^(?:\\[${IPV6_CHARACTERS}\\]|${IPV4_PATTERN}|localhost)?:${PORT_NUMBER}$`));
/** An absolute path of letters, digits, `.`, `_`, `-` and `/`, or "" for none. */
export const socketPath = (zod: typeof z) => zod.string().regex(/^(?:\/[A-Za-z0-9._/-]+)?$/);

/** Where options go: the program itself (the options every command takes), or one command. */
export type OptionScope = CommandName | 'program';

/** Whether the entry is an option of `scope`. */
export function takes(entry: SettingEntry, scope: OptionScope): entry is SettingEntry & { flag: string } {
  if (entry.flag === undefined) return false;
  return entry.commands === undefined ? scope === 'program' : scope !== 'program' && entry.commands.includes(scope);
}
