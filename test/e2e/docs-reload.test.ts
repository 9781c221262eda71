import { afterEach, describe, expect, it } from 'vitest';
import { showProc } from '../../src/haproxy/master-cli.js';
import { commandsOf, docEnv, localize, runShell } from '../support/doc-blocks.js';
import { RUN } from '../support/doc-table.js';
import { answeringConfig, freePort, HaproxyProcess, httpGet, waitFor } from '../support/haproxy-process.js';

/**
 * The three `occs-lb reload` forms of docs/watch.md, taken from the page and run by bash as
 * written against a real HAProxy 2.6 each: master-worker with -S for --master-socket, a classic
 * daemon (-D -p) for --pid-file, and master-worker under a pid file for --reload-cmd. Each test
 * writes a new config (its answer says "v2") and checks HAProxy serves it after the command.
 *
 * Substitution table (text only): /run/haproxy-master.sock, /run/haproxy.pid and
 * /etc/haproxy/haproxy.cfg become the test HAProxy's socket, pid file and config. The forms
 * without --haproxy-config check the default /etc/haproxy/haproxy.cfg: the test names its config
 * through reload's own variable, OCCS_LB_HAPROXY_CONFIG, instead. And `systemctl reload haproxy`
 * (no systemd here) becomes what it does for Debian's haproxy.service, HAProxy in master-worker
 * mode (-Ws): `kill -USR2` to the master ($MAINPID; here from the pid file -W -p writes).
 */
const started: HaproxyProcess[] = [];
afterEach(async () => {
  for (const h of started.splice(0)) await h.stop();
});

async function haproxy(mode: 'master-worker' | 'classic'): Promise<HaproxyProcess> {
  const port = await freePort();
  const h = new HaproxyProcess(port, mode);
  started.push(h);
  h.writeConfig(answeringConfig(port, 'v1'));
  await h.start();
  h.writeConfig(answeringConfig(port, 'v2'));
  return h;
}

const table = (h: HaproxyProcess) =>
  [
    ['/run/haproxy-master.sock', h.socket],
    ['/run/haproxy.pid', h.pidFile],
    ['/etc/haproxy/haproxy.cfg', h.config],
    ['systemctl reload haproxy', `kill -USR2 $(cat ${h.pidFile})`],
  ] as const;

const workers = (h: HaproxyProcess) =>
  waitFor('the master CLI to answer', async () => (await showProc(h.socket, 2000)).workers.filter((w) => w.current).map((w) => w.pid));
const serves = (h: HaproxyProcess, body: string) => waitFor(`HAProxy to serve ${body}`, async () => (await httpGet(h.port)).body === body);

describe('docs/watch.md: occs-lb reload', () => {
  it('--master-socket --haproxy-config: a new worker serves the new config', async () => {
    const h = await haproxy('master-worker');
    const before = await workers(h);
    const result = await runShell(
      commandsOf(RUN.reloadMasterSocket).map((c) => localize(c, table(h))),
      docEnv(),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^reloaded: worker \d+ → \d+/m);
    await serves(h, 'v2');
    expect(await workers(h)).not.toEqual(before);
  });

  it('--pid-file (a classic daemon, -D -p): new processes with new pids serve the new config', async () => {
    const h = await haproxy('classic');
    const before = h.pids();
    const result = await runShell(
      commandsOf(RUN.reloadPidFile).map((c) => localize(c, table(h))),
      docEnv({ OCCS_LB_HAPROXY_CONFIG: h.config }),
    );
    expect(result.code, result.stderr).toBe(0);
    await serves(h, 'v2');
    expect(h.pids().some((pid) => before.includes(pid))).toBe(false);
  });

  it('--reload-cmd "systemctl reload haproxy" (as kill -USR2 to the master): a new worker serves the new config', async () => {
    const h = await haproxy('master-worker');
    const before = await workers(h);
    const commands = commandsOf(RUN.reloadCmd).map((c) => localize(c, table(h)));
    expect(commands[0]).toContain('--reload-cmd "kill -USR2 $(cat ');
    const result = await runShell(commands, docEnv({ OCCS_LB_HAPROXY_CONFIG: h.config }));
    expect(result.code, result.stderr).toBe(0);
    await serves(h, 'v2');
    await waitFor('a new worker', async () => (await workers(h)).every((pid) => !before.includes(pid)));
  });
});
