import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

/** The suite drives the real HAProxy and etcd; say how to get them instead of failing test by test. */
export default function setup(): () => void {
  for (const [program, flag] of [
    ['haproxy', '-v'],
    ['etcd', '--version'],
  ] as const) {
    const run = spawnSync(program, [flag], { encoding: 'utf8' });
    if (run.error || run.status !== 0) {
      throw new Error(`${program} is not installed; the tests run the real one. Install it: apt-get install -y haproxy etcd-server`);
    }
  }
  return stopOrphans;
}

/**
 * Tests stop every process they start by pid. A run that was killed half-way cannot, so at the
 * end, stop (by pid) the processes still running from a test temp dir that no longer exists.
 */
function stopOrphans(): void {
  const marker = `${tmpdir()}/occs-lb-test-`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string;
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const dir = /occs-lb-test-[A-Za-z0-9]+/.exec(args)?.[0];
    if (!args.includes(marker) || !dir || existsSync(`${tmpdir()}/${dir}`)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
