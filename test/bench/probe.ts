import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../support/cli.js';
import { freePort } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { WatchProcess } from '../support/watch-process.js';
import { median, ms, report } from './stats.js';

/**
 * What the image's HEALTHCHECK costs each time it runs (every 10 s): the bash one-shot it runs
 * now (examples/container/occs-lb-probe) against the `node -e` probe it ran before, both asking a
 * real watch's status listener. CPU and peak memory by GNU time (/usr/bin/time), wall by clock.
 */
export async function benchProbe(runs = 21): Promise<void> {
  const port = await freePort();
  const dir = makeTempDir();
  const watch = new WatchProcess([
    '--kv',
    'file:examples/kv.properties',
    '--prefix',
    'apps/myapp/containers',
    '--out',
    join(dir, 'haproxy.cfg'),
    '--listen',
    `127.0.0.1:${port}`,
  ]);
  try {
    await watch.waitForLog(/^installed /);
    const url = `http://127.0.0.1:${port}/livez`;
    const probes: Array<[string, string[]]> = [
      [
        'node -e (the HEALTHCHECK before)',
        [process.execPath, '-e', `require('http').get('${url}', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))`],
      ],
      ['occs-lb-probe (bash, /dev/tcp)', [join(ROOT, 'examples/container/occs-lb-probe'), '/livez']],
    ];
    const rows: Array<[string, string]> = [];
    for (const [name, argv] of probes) {
      const samples = Array.from({ length: runs }, () => measure(argv, port));
      rows.push([
        name,
        `wall ${ms(median(samples.map((s) => s.wallMs)))}, CPU ${ms(median(samples.map((s) => s.cpuMs)))}, peak RSS ${(median(samples.map((s) => s.rssKb)) / 1024).toFixed(1)} MiB`,
      ]);
    }
    report(`HEALTHCHECK probe, one run (median of ${runs})`, rows);
  } finally {
    await watch.stop();
  }
}

function measure(argv: string[], port: number): { wallMs: number; cpuMs: number; rssKb: number } {
  const started = performance.now();
  const run = spawnSync('/usr/bin/time', ['-f', '%U %S %M', ...argv], { encoding: 'utf8', env: { ...process.env, OCCS_LB_LISTEN: `127.0.0.1:${port}` } });
  const wallMs = performance.now() - started;
  if (run.status !== 0) throw new Error(`${argv[0]} failed: ${run.stderr}`);
  const [user, sys, rss] = run.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wallMs, cpuMs: (user! + sys!) * 1000, rssKb: rss! };
}
