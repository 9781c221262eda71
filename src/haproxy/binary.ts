import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { usageError } from '../errors.js';
import { runCommand } from '../util/run.js';

/**
 * The HAProxy executable to run: a path, or a name looked up on PATH. A missing one is a
 * configuration error (exit 2) whose hint says how to point at it or skip what needs it.
 */
export function locateHaproxy(binary: string, env: NodeJS.ProcessEnv, skipHint: string): string {
  const candidates = binary.includes('/')
    ? [binary]
    : (env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, binary));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next directory
    }
  }
  throw usageError(`HAProxy is not installed here (no executable "${binary}"${binary.includes('/') ? '' : ' on PATH'})`, {
    hint: `install it (apt-get install haproxy), point --haproxy PATH at it, or ${skipHint}`,
  });
}

/** `2.6.12-1+deb12u4` from `haproxy -v`, or undefined when it cannot be read. */
export async function haproxyVersion(binary: string): Promise<string | undefined> {
  const result = await runCommand(binary, ['-v'], { timeoutMs: 5000 }).catch(() => undefined);
  return /version (\S+)/i.exec(result?.output ?? '')?.[1];
}
