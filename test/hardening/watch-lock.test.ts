import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processIdentity } from '../../src/haproxy/process.js';
import { recordPath } from '../../src/watch/watch-record.js';
import { BIN } from '../support/cli.js';
import { waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { localHaproxyArgs } from '../support/watch-args.js';
import { WatchProcess } from '../support/watch-process.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

const rig = useWatchRig();
const alive = (pid: number) => processIdentity(pid) !== undefined;
const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

const namespaces: string[] = [];
const watches: WatchProcess[] = [];
const bystanders: ChildProcess[] = [];

afterEach(async () => {
  for (const w of watches.splice(0)) await w.stop();
  for (const b of bystanders.splice(0)) b.kill('SIGKILL');
  for (const ns of namespaces.splice(0)) spawnSync('ip', ['netns', 'delete', ns]);
});

/** The first watch, on the rig's store and config; stopped after the test. */
function startFirst(env: Record<string, string> = {}): WatchProcess {
  const first = rig.startWatch(rig.store.url, [], env);
  watches.push(first);
  return first;
}

/** Another watch on `config` (the rig's, or the same file by another path), its store `kv`, run through `wrap`. */
function startSecond(config: string, kv: string, wrap: (argv: string[]) => [string, string[]], env: Record<string, string> = {}): WatchProcess {
  const dir = join(config, '..');
  const args = ['--kv', kv, '--prefix', PREFIX, '--out', config, '--exec', `haproxy -W -db -f ${config}`, ...localHaproxyArgs(rig.ports, dir), '--wait', '0'];
  // Its own TMPDIR: from another pid namespace, every master-socket dir in /tmp looks left by a
  // gone process, and a second watch that got past the lock would remove those of other runs.
  const second = new WatchProcess(args, { TMPDIR: makeTempDir(), ...env }, wrap);
  watches.push(second);
  return second;
}

/** How a watch process ended, once it has (a deadline: a watch that does not exit fails the test). */
function exitOf(w: WatchProcess, timeoutMs = 15_000): Promise<number> {
  return waitFor('the second watch to exit', () => w.child.exitCode ?? (w.child.signalCode ? -1 : undefined), timeoutMs).catch((error: Error) => {
    throw new Error(`${error.message}; it runs on:\n${w.raw.slice(-3000)}`);
  });
}

/** A network namespace of its own (needs root, as the CI runs); deleted after the test. */
function networkNamespace(): string {
  const ns = `occs-lb-test-${process.pid}-${namespaces.length}`;
  const made = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`these tests make a network namespace and need root: ${made.stderr}`);
  namespaces.push(ns);
  return ns;
}

/**
 * In a pid namespace of its own, the first watch is out of sight: only the lock can stop the
 * second one. --kill-child: when the test stops unshare, everything in the namespace goes too.
 */
const OWN_PIDS = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'];

/** Runs watch in network namespace `ns` with its loopback up (and `pids`), as a second container or pod on the node would. */
const inNetworkNamespace =
  (ns: string, pids: string[] = []) =>
  (argv: string[]): [string, string[]] => [
    '/usr/sbin/ip',
    ['netns', 'exec', ns, ...pids, '/bin/sh', '-c', '/usr/sbin/ip link set lo up && exec "$@"', 'sh', ...argv],
  ];

/** Runs watch in private mount and pid namespaces where `alias` is a bind mount of `dir` (nothing stays mounted after). */
const throughBindMount =
  (dir: string, alias: string) =>
  (argv: string[]): [string, string[]] => [
    OWN_PIDS[0]!,
    [...OWN_PIDS.slice(1), '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" "$1" && shift && exec "$@"', dir, alias, ...argv],
  ];

/** A store file holding backend a, for a watch that cannot reach the rig's store (another network namespace). */
function storeFile(): string {
  const path = join(makeTempDir(), 'kv.properties');
  writeFileSync(path, `${PREFIX}/a=${rig.address(0)}\n`);
  return `file:${path}`;
}

/** A PATH with haproxy on it and the given util-linux tools, nothing else. */
function pathWith(...tools: string[]): string {
  const bin = join(makeTempDir(), 'bin');
  mkdirSync(bin);
  for (const [name, target] of [['haproxy', '/usr/sbin/haproxy'], ...tools.map((t) => [t, `/usr/bin/${t}`])]) symlinkSync(target!, join(bin, name!));
  return bin;
}

/** The first watch serves backend a with its HAProxy; the second one gave up without touching it. */
async function firstStillServes(first: WatchProcess, master: number): Promise<void> {
  expect(first.child.exitCode).toBeNull();
  expect(alive(master)).toBe(true);
  expect(first.count(/^stopping|haproxy exited on its own/)).toBe(0);
  await rig.servedBy(['a']);
}

describe('one watch per config wherever the config file is shared', () => {
  it('a second watch in other network and pid namespaces (another pod on the node) exits 2; the first one serves on', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const first = startFirst();
    const master = await first.haproxyPid();
    await rig.servedBy(['a']);

    const second = startSecond(rig.config(), storeFile(), inNetworkNamespace(networkNamespace(), OWN_PIDS));
    expect(await exitOf(second)).toBe(2);
    expect(second.raw).toContain(`another occs-lb watch (pid ${first.child.pid}) already looks after ${rig.config()}`);
    expect(second.raw).not.toContain('it still runs'); // the lock refused it, not the record
    await firstStillServes(first, master);
  });

  it('a second watch reaching the config through a bind mount (in its own pid namespace) exits 2; the first one serves on', async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const first = startFirst();
    const master = await first.haproxyPid();
    await rig.servedBy(['a']);

    const alias = makeTempDir();
    const second = startSecond(join(alias, 'haproxy.cfg'), rig.store.url, throughBindMount(rig.dir, alias));
    expect(await exitOf(second)).toBe(2);
    expect(second.raw).toContain(`another occs-lb watch (pid ${first.child.pid}) already looks after ${join(alias, 'haproxy.cfg')}`);
    expect(second.raw).not.toContain('it still runs'); // the lock refused it, not the record
    await firstStillServes(first, master);
  });

  it('without flock on PATH, a second watch in another network namespace still exits 2: the record names a watch that runs', async () => {
    const PATH = pathWith();
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const first = startFirst({ PATH });
    const master = await first.haproxyPid();
    await rig.servedBy(['a']);

    const second = startSecond(rig.config(), storeFile(), inNetworkNamespace(networkNamespace()), { PATH });
    expect(await exitOf(second)).toBe(2);
    expect(second.raw).toContain(`another occs-lb watch (pid ${first.child.pid}) already looks after ${rig.config()}`);
    expect(second.raw).toContain(`${recordPath(rig.config())} names it, and it still runs`);
    await firstStillServes(first, master);
    expect(first.count(/^flock \(util-linux\) is not on PATH: the lock .* holds only within this network namespace/)).toBe(1);
  });

  it('HAProxy does not hold the lock: after kill -9 of watch (no setpriv, so its HAProxy runs on), a restarted watch starts and stops it', async () => {
    const PATH = pathWith('flock');
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const first = startFirst({ PATH });
    const orphan = await first.haproxyPid();
    const lock = join(rig.dir, '.haproxy.cfg.occs-lb.lock');
    // An fd may close between the listing and its readlink (watch opens and closes files as it runs): it is not a file held open.
    const files = (pid: number) =>
      readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
        try {
          return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
          throw e;
        }
      });
    expect(files(first.child.pid!)).toContain(lock);
    expect(files(orphan)).not.toContain(lock);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = startFirst({ PATH });
    await second.waitForLog(new RegExp(`^stopping haproxy \\(pid ${orphan}\\), left running by an earlier watch`));
    await waitFor('the old HAProxy to be gone', () => !alive(orphan));
    await rig.servedBy(['a']);
  });
});

describe('what a record names is signalled only when it is the HAProxy watch runs', () => {
  it('a forged record naming sleep processes (no comm, comm "sleep", comm "haproxy") gets none of them signalled', async () => {
    const sleeps = [undefined, 'sleep', 'haproxy'].map((comm) => {
      const child = spawn('sleep', ['600'], { stdio: 'ignore' });
      bystanders.push(child);
      return { ...processIdentity(child.pid!)!, ...(comm ? { comm } : {}) };
    });
    writeFileSync(recordPath(rig.config()), JSON.stringify({ boot, watch: { pid: 999_999, start: 1 }, haproxy: sleeps }));
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const w = startFirst();
    await w.haproxyPid();
    // Whatever watch decides about each, it says so.
    for (const { pid } of sleeps) await w.waitForLog(new RegExp(`^(not )?stopping (haproxy \\()?pid ${pid}\\b`));
    await rig.servedBy(['a']);
    for (const id of sleeps) expect(processIdentity(id.pid)).toEqual({ pid: id.pid, start: id.start });
    expect(w.count(/^stopping haproxy/)).toBe(0);
    const why = '(it runs /usr/bin/sleep, not /usr/sbin/haproxy)';
    for (const { pid } of sleeps) expect(w.count(new RegExp(`^not stopping pid ${pid}: it is no longer the HAProxy an earlier watch recorded`))).toBe(1);
    expect(w.logs.filter((l) => l.msg.startsWith('not stopping pid')).every((l) => l.msg.endsWith(why))).toBe(true);
  });
});

describe('a watch in another pid namespace that shares the temp dir', () => {
  it("leaves a live watch's master-socket dir alone, though its pid names no process there", async () => {
    rig.store.put(`${PREFIX}/a`, rig.address(0));
    const tmp = makeTempDir();
    const first = startFirst({ TMPDIR: tmp });
    await first.waitForLog(/^started haproxy/);
    const socketDirs = () => readdirSync(tmp).filter((d) => /^occs-lb-\d+-/.test(d));
    expect(socketDirs()).toHaveLength(1);

    // Another watch, on another config, in its own pid namespace, cleaning up at its start.
    const other = join(makeTempDir(), 'other.cfg');
    // Not spawnSync: the test store answers from this very process.
    const child = spawn(
      OWN_PIDS[0]!,
      [...OWN_PIDS.slice(1), process.execPath, BIN, 'watch', '--once', '--kv', rig.store.url, '--prefix', PREFIX, '--out', other, '--log-format', 'text'],
      { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(status, stderr).toBe(0);
    expect(socketDirs()).toHaveLength(1);
    // The first watch still reaches HAProxy's master CLI: a change goes through the runtime API.
    rig.store.put(`${PREFIX}/b`, rig.address(1));
    await rig.servedBy(['a', 'b']);
    // The line follows the read-back, a moment after HAProxy serves the change: waited for, not counted at once.
    await first.waitForLog(/^applied through the runtime API/);
  });
});
