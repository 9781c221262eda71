import { spawnSync } from 'node:child_process';
import { BIN, ROOT } from '../support/cli.js';
import { median, ms, report } from './stats.js';

/** Wall time of `occs-lb render` from a file: source against bare `node -e 0`, runs interleaved. */
export function benchStartup(runs = 21): void {
  const time = (args: string[]): number => {
    const started = performance.now();
    const result = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'ignore'] });
    if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}`);
    return performance.now() - started;
  };
  const render = [BIN, 'render', '--kv', 'file:examples/kv.properties', '--prefix', 'apps/myapp/containers'];
  const bare: number[] = [];
  const ours: number[] = [];
  time(['-e', '0']);
  time(render);
  for (let i = 0; i < runs; i++) {
    bare.push(time(['-e', '0']));
    ours.push(time(render));
  }
  const ratio = median(ours) / median(bare);
  report(`start-up (median of ${runs} runs each)`, [
    ['node -e 0', ms(median(bare))],
    ['occs-lb render --kv file:examples/kv.properties', ms(median(ours))],
    ['ratio (goal <= 1.5x)', `${ratio.toFixed(2)}x`],
  ]);
}
