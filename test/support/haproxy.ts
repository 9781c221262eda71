import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './temp.js';

/** Runs the real `haproxy -c -dW` (warnings are failures) on a config text. */
export function haproxyCheck(config: string): { ok: boolean; output: string } {
  const file = join(makeTempDir(), 'haproxy.cfg');
  writeFileSync(file, config);
  const result = spawnSync('haproxy', ['-c', '-dW', '-f', file], { encoding: 'utf8' });
  if (result.error) throw result.error;
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

/** The `server` lines of a rendered config, trimmed, in order. */
export function serverLines(config: string): string[] {
  return config
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('server '));
}
