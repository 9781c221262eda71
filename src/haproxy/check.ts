import { systemErrorCode, usageError } from '../errors.js';
import { runCommand } from '../util/run.js';
import { parseHaproxyMessages, type HaproxyMessage } from './messages.js';

export interface CheckResult {
  /** HAProxy's own verdict: exit status 0. Warnings may still be present. */
  valid: boolean;
  messages: HaproxyMessage[];
  output: string;
}

/**
 * Runs `haproxy -c -f FILE` (the real binary) and reads its verdict and messages. A binary that
 * cannot be run at all is a usage error (exit 2), not a verdict on the file.
 */
export async function checkConfigFile(binary: string, file: string, timeoutMs = 30_000): Promise<CheckResult> {
  const result = await runCommand(binary, ['-c', '-f', file], { timeoutMs }).catch((error: unknown) => {
    throw usageError(`cannot run ${binary} to check the config (${systemErrorCode(error) ?? String(error)})`, {
      hint: 'install HAProxy, or point --haproxy at its executable',
      cause: error,
    });
  });
  const output = result.output;
  const messages = parseHaproxyMessages(output);
  if (result.timedOut) messages.push({ level: 'alert', message: `haproxy -c did not finish within ${timeoutMs}ms` });
  return { valid: result.exitCode === 0 && !result.timedOut, messages, output };
}
