/** One line of HAProxy's own diagnostics, e.g. from `haproxy -c`. */
export interface HaproxyMessage {
  level: 'alert' | 'warning' | 'notice';
  message: string;
  /** The config file and line HAProxy named, when it named one. */
  file?: string;
  line?: number;
}

const LINE = /^\[(ALERT|WARNING|NOTICE)\]\s*(?:\(\d+\))?\s*:\s*(?:config\s*:\s*)?(.*)$/;
const WHERE = /^(?:parsing\s+)?\[([^\]]+?):(\d+)\]\s*:\s*(.*)$/i;

/**
 * Parses `[ALERT] (pid) : config : parsing [file:12] : message` lines. Lines HAProxy adds for
 * context (version notices, the final "Fatal errors found") are kept with their level.
 */
export function parseHaproxyMessages(output: string): HaproxyMessage[] {
  const messages: HaproxyMessage[] = [];
  for (const raw of output.split('\n')) {
    const match = LINE.exec(raw.trimEnd());
    if (!match) continue;
    const level = match[1]!.toLowerCase() as HaproxyMessage['level'];
    const where = WHERE.exec(match[2]!);
    messages.push(where ? { level, file: where[1]!, line: Number(where[2]), message: where[3]! } : { level, message: match[2]! });
  }
  return messages;
}

/** HAProxy's summary lines, which say nothing the specific messages have not said. */
export function isSummary(message: HaproxyMessage): boolean {
  return /^(Error\(s\) found in configuration file|Fatal errors found in configuration|Some warnings were found)/.test(message.message);
}

/** The level a line of the supervised HAProxy is logged at. */
export type HaproxyLineLevel = 'error' | 'warn' | 'info';

/** `[WARNING]  (1234) : text`: the tag, then what comes after the first colon and the `CLI : ` HAProxy leaves on lines printed after a CLI command. */
const TAGGED = /^\[([A-Z]+)\](?:[^:]*:\s*(?:CLI : )?)?(.*)$/;

/**
 * What HAProxy 2.6 prints at WARNING on every ordinary reload and stop, and for the server changes
 * occs-lb itself makes through the runtime API: nothing an operator must act on. Each pattern
 * holds only the good outcome, so a worker that exits with another code than 0, maintenance with
 * a cause (a DNS failure), or a server that leaves maintenance DOWN keeps HAProxy's level.
 */
const ORDINARY: readonly RegExp[] = [
  // A reload or a soft stop: each proxy of the old worker stops, the worker exits 0, and on a stop the master follows.
  /^Proxy \S+ stopped \(cumulated conns: FE: \d+, BE: \d+\)\.$/,
  /^Stopping \S+ \S+ in \d+ ms\.$/, // the same, as HAProxy before 2.5 said it
  /^(?:Former|Current) worker (?:#\d+ )?\(\d+\) exited with code 0 \(Exit\)$/,
  /^Exiting Master process\.\.\.$/,
  /^All workers exited\. Exiting\.\.\. \(0\)$/,
  /^Reexecuting Master process$/, // a reload, as HAProxy before 2.5 said it
  // Maintenance and drain, set and cleared through the runtime API (a removed server goes through maintenance).
  /^(?:Backup )?Server \S+ is going DOWN for maintenance\./,
  /^(?:Backup )?Server \S+ was DOWN and now enters maintenance\./,
  /^(?:Backup )?Server \S+ is UP\/(?:READY|DRAIN) \(leaving (?:forced )?maintenance\)\./,
  /^(?:Backup )?Server \S+ enters drain state\./,
  /^(?:Backup )?Server \S+ is UP \(leaving (?:forced )?drain\)\./,
  // A health check that passes again: the DOWN before it was the news, at warn.
  /^(?:Backup )?Server \S+ is UP, reason: /,
];

/**
 * The level of one line the supervised HAProxy printed: its tag's (`[ALERT]` error, `[WARNING]`
 * warn, `[NOTICE]` info), except that the ordinary lines of a reload, a stop and occs-lb's own
 * runtime changes are info, so an alert on warnings does not fire on every deploy.
 */
export function haproxyLineLevel(line: string): HaproxyLineLevel {
  const tagged = TAGGED.exec(line.trimEnd());
  const tag = tagged?.[1];
  if (tag !== 'ALERT' && tag !== 'EMERG' && tag !== 'WARNING') return 'info';
  if (ORDINARY.some((pattern) => pattern.test(tagged![2]!))) return 'info';
  return tag === 'WARNING' ? 'warn' : 'error';
}
