import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/temp.js';
import { WatchProcess } from '../support/watch-process.js';

// watch starts again in place with a young generation of 2 MiB a semi-space (bin/occs-lb.js, src/util/memory.ts).

const watches: WatchProcess[] = [];
afterEach(async () => {
  await Promise.all(watches.splice(0).map((w) => w.stop()));
});

/** watch on the example store, no HAProxy; `wrap` gives node flags of its own. Resolves once it watches. */
async function startWatch(nodeFlags: string[] = []): Promise<WatchProcess> {
  const args = ['--kv', 'file:examples/kv.properties', '--prefix', 'apps/myapp/containers', '--out', join(makeTempDir(), 'haproxy.cfg')];
  const watch = new WatchProcess(args, {}, (argv) => [argv[0]!, [...nodeFlags, ...argv.slice(1)]]);
  watches.push(watch);
  await watch.waitForLog(/^installed /);
  return watch;
}

/** The command line of the process that the pid spawned runs now. */
const commandLine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);

describe('watch: its young generation', () => {
  it('is set by starting again in place: the same pid runs node with --min-semi-space-size=2, and serves', async () => {
    const watch = await startWatch();
    const line = commandLine(watch.child.pid!);
    expect(line.slice(1, 2)).toEqual(['--min-semi-space-size=2']);
    expect(line.slice(2)).toEqual(watch.child.spawnargs.slice(1));
    expect(watch.count(/^watching /)).toBe(1);
  });

  it('keeps node flags given to it, and a semi-space size given to node is left as it is', async () => {
    const watch = await startWatch(['--stack-size=900', '--max-semi-space-size=8']);
    expect(commandLine(watch.child.pid!).slice(1, 3)).toEqual(['--stack-size=900', '--max-semi-space-size=8']);
    expect(commandLine(watch.child.pid!).join(' ')).not.toContain('min-semi-space-size');
    const other = await startWatch(['--stack-size=900']);
    expect(commandLine(other.child.pid!).slice(1, 3)).toEqual(['--stack-size=900', '--min-semi-space-size=2']);
  });
});
