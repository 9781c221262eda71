import { parseHaproxyMessages, type HaproxyMessage } from './messages.js';

export interface CheckResult {
  /** HAProxy's own verdict: exit status 0. Warnings may still be present. */
  valid: boolean;
  messages: HaproxyMessage[];
  output: string;
}

/** Runs `haproxy -c -f FILE` (the real binary) and reads its verdict and messages. */
export async function checkConfigFile(binary: string, file: string, timeoutMs = 30_000): Promise<CheckResult> {
  const { execa } = await import('execa');
  const result = await execa(binary, ['-c', '-f', file], { reject: false, timeout: timeoutMs, all: true, stdin: 'ignore' });
  const output = result.all ?? '';
  const messages = parseHaproxyMessages(output);
  if (result.timedOut) messages.push({ level: 'alert', message: `haproxy -c did not finish within ${timeoutMs}ms` });
  return { valid: result.exitCode === 0 && !result.timedOut, messages, output };
}
