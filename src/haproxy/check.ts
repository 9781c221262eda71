import { runCommand } from '../util/run.js';
import { parseHaproxyMessages, type HaproxyMessage } from './messages.js';

export interface CheckResult {
  /** HAProxy's own verdict: exit status 0. Warnings may still be present. */
  valid: boolean;
  messages: HaproxyMessage[];
  output: string;
}

/** Runs `haproxy -c -f FILE` (the real binary) and reads its verdict and messages. */
export async function checkConfigFile(binary: string, file: string, timeoutMs = 30_000): Promise<CheckResult> {
  const result = await runCommand(binary, ['-c', '-f', file], { timeoutMs });
  const output = result.output;
  const messages = parseHaproxyMessages(output);
  if (result.timedOut) messages.push({ level: 'alert', message: `haproxy -c did not finish within ${timeoutMs}ms` });
  return { valid: result.exitCode === 0 && !result.timedOut, messages, output };
}
