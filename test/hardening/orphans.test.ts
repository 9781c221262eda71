import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processIdentity } from '../../src/haproxy/process.js';
import { runCli } from '../support/cli.js';
import { waitFor } from '../support/haproxy-process.js';
import type { WatchProcess } from '../support/watch-process.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

const rig = useWatchRig();
const { servedBy } = rig;
const at = (i: number) => rig.address(i);
const alive = (pid: number) => processIdentity(pid) !== undefined;

/** The HAProxy masters running the rig's config: haproxy processes whose parent is not one. */
function masters(): number[] {
  const runs = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(rig.config()) && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'haproxy';
    } catch {
      return false;
    }
  };
  const parent = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => alive(pid) && runs(pid) && !runs(parent(pid)));
}

/** kill -9 of watch itself, nothing else. */
async function killWatch(w: WatchProcess): Promise<void> {
  w.child.kill('SIGKILL');
  await w.exited;
}

/** A PATH with haproxy on it and nothing else: no setpriv, so no parent-death signal. */
function pathWithoutSetpriv(): string {
  const bin = join(rig.dir, 'bin');
  mkdirSync(bin);
  symlinkSync('/usr/sbin/haproxy', join(bin, 'haproxy'));
  return bin;
}

afterEach(() => {
  // A test that failed half-way may leave an HAProxy no watch knows of.
  for (const pid of masters()) process.kill(pid, 'SIGKILL');
});

describe('after any death of watch, a restarted watch ends with exactly one HAProxy', () => {
  it('kill -9: HAProxy stops by itself, the restarted watch serves the current state, and nothing is left behind', async () => {
    rig.store.put(`${PREFIX}/a`, at(0));
    const first = rig.startWatch(rig.store.url);
    const orphan = await first.haproxyPid();
    const socketDir = dirname(/-S (\S+)/.exec((await first.waitForLog(/^started haproxy/)).msg)![1]!);
    await servedBy(['a']);

    await killWatch(first);
    // What a kill between staging a file and renaming it leaves.
    const temp = join(rig.dir, `.haproxy.cfg.${first.child.pid}.k1ll3d00.tmp`);
    writeFileSync(temp, 'half a config');
    await waitFor('the HAProxy of the killed watch to stop by itself', () => !alive(orphan));

    rig.store.put(`${PREFIX}/b`, at(1));
    const second = rig.startWatch(rig.store.url);
    const master = await second.haproxyPid();
    await servedBy(['a', 'b']);
    expect(masters()).toEqual([master]);
    expect(existsSync(temp)).toBe(false);
    expect(existsSync(socketDir)).toBe(false);
    expect(second.count(/^removed what an earlier run left: /)).toBe(1);
  });

  it('without setpriv, the restarted watch stops the HAProxy the killed one left (its record beside the config)', async () => {
    const PATH = pathWithoutSetpriv();
    rig.store.put(`${PREFIX}/a`, at(0));
    const first = rig.startWatch(rig.store.url, [], { PATH });
    const orphan = await first.haproxyPid();
    await servedBy(['a']);
    await killWatch(first);
    expect(alive(orphan)).toBe(true); // nothing told it: it serves on, unsupervised
    await servedBy(['a']);

    rig.store.put(`${PREFIX}/b`, at(1));
    const second = rig.startWatch(rig.store.url, [], { PATH });
    const master = await second.haproxyPid();
    await second.waitForLog(new RegExp(`^stopping haproxy \\(pid ${orphan}\\), left running by an earlier watch`));
    await waitFor('the old HAProxy to be gone', () => !alive(orphan));
    expect(masters()).toEqual([master]);
    await servedBy(['a', 'b']);
  });

  it.each([
    ['while it waits for the first render', /^watching /, false],
    ['right after it started HAProxy', /^started haproxy/, true],
    ['in the middle of a reload (SIGHUP)', /^SIGHUP: re-reading/, true],
  ] as const)('kill -9 %s: the restart converges on one HAProxy serving the store', async (_, moment, served) => {
    rig.store.put(`${PREFIX}/a`, at(0));
    if (!served) rig.store.fail({ kind: 'status', status: 500 });
    const first = rig.startWatch(rig.store.url);
    if (moment.source.includes('SIGHUP')) {
      await first.waitForLog(/^started haproxy/);
      first.signal('SIGHUP');
    }
    await first.waitForLog(moment);
    await killWatch(first);
    rig.store.fail(undefined);

    rig.store.put(`${PREFIX}/b`, at(1));
    const second = rig.startWatch(rig.store.url);
    const master = await second.haproxyPid();
    await servedBy(['a', 'b']);
    await waitFor('exactly one HAProxy', () => masters().length === 1 && masters()[0] === master, 15_000);
  });

  it('a second watch on the same config refuses to start (exit 2) while the first one runs', async () => {
    rig.store.put(`${PREFIX}/a`, at(0));
    const first = rig.startWatch(rig.store.url);
    await first.waitForLog(/^started haproxy/);
    const second = await runCli(['watch', '--kv', rig.store.url, '--prefix', PREFIX, '--out', rig.config(), '--exec', `haproxy -W -db -f ${rig.config()}`]);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`another occs-lb watch (pid ${first.child.pid}) already looks after ${rig.config()}`);
    await servedBy(['a']);
    expect(masters()).toHaveLength(1);
  });
});
