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
