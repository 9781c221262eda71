import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processIdentity } from '../../src/haproxy/process.js';
import { lockPath } from '../../src/watch/config-lock.js';
import { recordPath, WatchRecord } from '../../src/watch/watch-record.js';
import { failure } from '../support/failure.js';
import { waitFor } from '../support/haproxy-process.js';
import { memoryLog } from '../support/memory-log.js';
import { makeTempDir } from '../support/temp.js';

const { log, lines } = memoryLog();
const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  lines.length = 0;
});

/** A live process that is not HAProxy (`sleep` unless told), for a record to name. */
function bystander(...command: string[]): { pid: number; start: number } {
  const [program, ...args] = command.length > 0 ? command : ['sleep', '60'];
  const child = spawn(program!, args, { stdio: 'ignore' });
  children.push(child);
  return processIdentity(child.pid!)!;
}

/** A record an earlier watch (pid 999999, gone) left, naming `haproxy`. */
function plant(config: string, haproxy: unknown[], extra: Record<string, unknown> = {}): void {
  writeFileSync(recordPath(config), JSON.stringify({ boot, watch: { pid: 999_999, start: 1 }, haproxy, ...extra }));
}

describe('WatchRecord', () => {
  it('lets one watch at a time look after a config: a second claim is exit 2 until the first lets go', async () => {
    const config = join(makeTempDir(), 'haproxy.cfg');
    const first = await WatchRecord.claim(config, log);
    await first.save();
    const refused = await failure(WatchRecord.claim(config, log));
    expect(refused.exitCode).toBe(2);
    expect(refused.message).toBe(`another occs-lb watch (pid ${process.pid}) already looks after ${config}`);
    await first.remove();
    const next = await WatchRecord.claim(config, log);
    await next.remove();
  });

  it('never signals a process that runs another executable than its own HAProxy, whatever the record says it was', async () => {
    const config = join(makeTempDir(), 'haproxy.cfg');
    const other = bystander();
    plant(config, [{ ...other, comm: 'haproxy' }]);
    const record = await WatchRecord.claim(config, log);
    expect(record.left.map((p) => p.pid)).toEqual([other.pid]);
    const ours = bystander('tail', '-f', '/dev/null'); // stands for this watch's HAProxy: another program
    await record.stopLeftovers(100, ours.pid);
    expect(processIdentity(other.pid)).toEqual(other); // still running
    expect(lines.join('')).toContain(
      `not stopping pid ${other.pid}: it is no longer the HAProxy an earlier watch recorded (it runs /usr/bin/sleep, not /usr/bin/tail)`,
    );
    await record.remove();
  });

  it('stops what it recorded: the same process, running the executable of its own HAProxy, as the same user', async () => {
    const config = join(makeTempDir(), 'haproxy.cfg');
    const left = bystander();
    plant(config, [left]);
    const record = await WatchRecord.claim(config, log);
    await record.stopLeftovers(5000, bystander().pid);
    await waitFor('the leftover to be gone', () => processIdentity(left.pid) === undefined);
    expect(lines.join('')).toContain(`stopping haproxy (pid ${left.pid}), left running by an earlier watch`);
    await record.remove();
  });

  it('a record whose watch still runs: that watch looks after the config (exit 2), nothing it runs is signalled', async () => {
    const config = join(makeTempDir(), 'haproxy.cfg');
    const [watch, haproxy] = [bystander(), bystander()];
    plant(config, [haproxy], { watch });
    const refused = await failure(WatchRecord.claim(config, log));
    expect(refused.exitCode).toBe(2);
    expect(refused.message).toBe(`another occs-lb watch (pid ${watch.pid}) already looks after ${config}`);
    expect(refused.hint).toContain(`${recordPath(config)} names it, and it still runs`);
    expect([processIdentity(watch.pid), processIdentity(haproxy.pid)]).toEqual([watch, haproxy]);
  });

  it('holds an flock on the lock file beside the config until it lets go; watch --once only checks it', async () => {
    const config = join(makeTempDir(), 'haproxy.cfg');
    const othersCanLock = () => spawnSync('flock', ['--nonblock', lockPath(config), 'true']).status === 0;
    const check = await WatchRecord.claim(config, log, { check: true });
    expect(othersCanLock()).toBe(true);
    await check.remove();
    const record = await WatchRecord.claim(config, log);
    expect(othersCanLock()).toBe(false);
    await record.remove();
    expect(othersCanLock()).toBe(true);
  });

  it('without flock on PATH, falls back to a lock within this network namespace, and says so', async () => {
    const config = join(makeTempDir(), 'haproxy.cfg');
    const PATH = process.env.PATH;
    process.env.PATH = makeTempDir();
    try {
      const first = await WatchRecord.claim(config, log);
      expect((await failure(WatchRecord.claim(config, log))).exitCode).toBe(2);
      await first.remove();
    } finally {
      process.env.PATH = PATH;
    }
    expect(lines.join('')).toContain(
      `flock (util-linux) is not on PATH: the lock that keeps a second watch off ${config} holds only within this network namespace`,
    );
  });

  it('believes nothing from another boot, nor a record another user wrote', async () => {
    const other = bystander();
    const fromAnotherBoot = join(makeTempDir(), 'haproxy.cfg');
    plant(fromAnotherBoot, [{ ...other, comm: 'sleep' }], { boot: 'another-boot' });
    const stale = await WatchRecord.claim(fromAnotherBoot, log);
    expect(stale.left).toEqual([]);
    await stale.remove();

    const planted = join(makeTempDir(), 'haproxy.cfg');
    plant(planted, [{ ...other, comm: 'sleep' }]);
    chownSync(recordPath(planted), 65534, 65534);
    const untrusted = await WatchRecord.claim(planted, log);
    expect(untrusted.left).toEqual([]);
    expect(lines.join('')).toContain(`ignoring ${recordPath(planted)}: it is not a file written by this user`);
    await untrusted.remove();
    expect(processIdentity(other.pid)).toEqual(other);
  });
});
