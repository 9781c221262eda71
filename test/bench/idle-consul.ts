import { join } from 'node:path';
import { ConsulKvCluster } from '../support/consul-kv-cluster.js';
import type { RecordedRequest } from '../support/consul-kv-server.js';
import { waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { WatchProcess } from '../support/watch-process.js';
import { report } from './stats.js';

/** Long enough for one blocking query per prefix to end (Consul's 5 min wait plus up to a sixteenth): a shorter window may miss it. */
const MINUTES = Number(process.env.OCCS_LB_BENCH_STORE_IDLE_MINUTES ?? 6);

/** What one watcher follows: its options, and how many blocking queries it parks (one a prefix). */
const MODES: Array<{ args: string[]; prefixes: number }> = [
  { args: ['--prefix', 'apps/web/containers'], prefixes: 1 },
  { args: ['--prefix', 'apps/web/containers', '--kv-consistency', 'stale'], prefixes: 1 },
  { args: ['--stack', 'apps'], prefixes: 2 },
  { args: ['--stack', 'apps', '--kv-consistency', 'stale'], prefixes: 2 },
];

/** A recorded request's kind: a blocking query, a full read, or a probe (a GET of the prefix's own key, not recursive). */
function kindOf(r: RecordedRequest): string {
  if (!r.path.startsWith('/v1/kv/')) return r.path;
  if (!r.query.has('recurse')) return 'probes';
  return r.query.has('index') ? 'blocking queries' : 'full reads';
}

const perMinute = (counts: Map<string, number>, minutes: number) => [...counts].map(([what, n]) => `${what} ${(n / minutes).toFixed(1)}`).join(', ') || 'none';

/**
 * One watcher idle for MINUTES on a cluster of its own (three test servers, one store): what it
 * asked, from the servers' recorded requests (nothing else asks them anything), by kind and by
 * server; the server in use is the one holding its blocking queries.
 */
async function idleWatcher(mode: (typeof MODES)[number]): Promise<Array<[string, string]>> {
  const cluster = await new ConsulKvCluster(3).start();
  cluster.put('apps/web/containers/one', '10.0.0.1:8080');
  cluster.put('lb/routes/web', 'web.example.com');
  const out = join(makeTempDir(), 'haproxy.cfg');
  const watch = new WatchProcess(['--kv', cluster.url('consul'), ...mode.args, '--out', out, '--reload-cmd', 'true', '--wait', '0', '--bind', '127.0.0.1']);
  const blocked = () => cluster.servers.reduce((n, s) => n + s.blockedQueries, 0);
  try {
    await watch.waitForLog(/^installed /, 0, 30_000);
    await waitFor('watch to park its blocking queries', () => blocked() >= mode.prefixes, 30_000);
    const from = cluster.servers.map((s) => s.requests.length);
    const started = performance.now();
    await new Promise((r) => setTimeout(r, MINUTES * 60_000)); // the measuring window
    const minutes = (performance.now() - started) / 60_000;
    const asked = cluster.servers.map((s, i) => s.requests.slice(from[i]));
    const byKind = new Map<string, number>();
    for (const r of asked.flat()) byKind.set(kindOf(r), (byKind.get(kindOf(r)) ?? 0) + 1);
    const byServer = new Map(cluster.servers.map((s, i) => [`s${i}${s.blockedQueries > 0 ? ' (in use)' : ''}`, asked[i]!.length]));
    return [
      [`${mode.args.join(' ')}: store requests a minute, all servers (goal <= ${6 * mode.prefixes})`, (asked.flat().length / minutes).toFixed(1)],
      ['  by kind', perMinute(byKind, minutes)],
      ['  by server', perMinute(byServer, minutes)],
      ["  error lines in watch's log", String(watch.logs.filter((l) => l.level === 'error').length)],
    ];
  } finally {
    await watch.stop();
    await cluster.stop();
  }
}

/** One idle watcher on three Consul test servers sharing one store, in each mode at once (each on a cluster of its own). */
export async function consulIdle(): Promise<void> {
  const rows = await Promise.all(MODES.map((mode) => idleWatcher(mode)));
  report(
    `idle: one watcher on three Consul test servers (one store), ${MINUTES} min each, the modes side by side (the servers' recorded requests; goal <= 6 a minute per prefix)`,
    rows.flat(),
  );
}
