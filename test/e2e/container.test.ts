import { spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';
import { waitFor } from '../support/haproxy-process.js';
import { localHaproxyArgs } from '../support/watch-args.js';
import { WatchProcess } from '../support/watch-process.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

/**
 * The image's own lines (examples/container/Dockerfile), run here without Docker: its
 * ENTRYPOINT, CMD, ENV, USER and HEALTHCHECK, under the restrictions of Kubernetes' restricted
 * Pod Security profile and a read-only root file system (examples/kubernetes/deployment.yaml).
 */
const dockerfile = readFileSync(join(ROOT, 'examples/container/Dockerfile'), 'utf8');
const execForm = (instruction: string) => JSON.parse(new RegExp(`^\\s*${instruction} (?:.* CMD )?(\\[.*\\])$`, 'm').exec(dockerfile)![1]!) as string[];
/** The ENV instruction's variables (one instruction, continued over lines). */
const imageEnv = (): Record<string, string> => {
  const block = /^ENV ((?:.*\\\n)*.*)$/m.exec(dockerfile)![1]!.replace(/\\\n/g, ' ');
  return Object.fromEntries([...block.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => [m[1]!, m[2]!.replace(/^"|"$/g, '')]));
};
const USER = /^USER (\d+):(\d+)$/m.exec(dockerfile);

const rig = useWatchRig();

describe('the container image', () => {
  it('runs as a numeric user, on the Node.js line the suite runs on in CI', () => {
    expect(USER, 'USER must be numeric uid:gid (runAsNonRoot verifies it)').not.toBeNull();
    expect(Number(USER![1])).toBeGreaterThan(0);
    const line = /NODE_LINE=(\d+)/.exec(readFileSync(join(ROOT, '.ci/run'), 'utf8'))?.[1];
    const froms = [...dockerfile.matchAll(/^FROM node:(\d+)-bookworm-slim/gm)].map((m) => m[1]);
    expect(froms).toEqual([line, line]);
    const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    expect(Number(/>=\s*(\d+)/.exec(engines)![1])).toBeLessThanOrEqual(Number(line));
  });

  it(
    'runs its ENTRYPOINT, CMD and ENV as its numeric user with no capability, no new privileges and a read-only root; its HEALTHCHECK passes; SIGTERM exits 0',
    { timeout: 60_000 },
    async () => {
      const [entrypoint, cmd, probe] = [execForm('ENTRYPOINT'), execForm('CMD'), execForm('HEALTHCHECK')];
      expect(entrypoint).toEqual(['/usr/bin/tini', '--']);
      expect(cmd.slice(0, 2)).toEqual(['occs-lb', 'watch']);
      expect(probe).toEqual(['occs-lb-probe', '/readyz']);
      const env = imageEnv();
      expect(env.TMPDIR).toBe('/run/occs-lb');
      // /run/occs-lb is the emptyDir: here the rig's temp dir, owned by the image's user.
      const emptyDir = rig.dir;
      const local = (value: string) => value.replaceAll('/run/occs-lb', emptyDir).replace(/127\.0\.0\.1:9180$/, `127.0.0.1:${rig.ports.status}`);
      const app = join(emptyDir, 'app');
      mkdirSync(app);
      for (const path of [emptyDir, app]) chownSync(path, Number(USER![1]), Number(USER![2]));
      rig.store.put(`${PREFIX}/a`, rig.address(0));

      rig.watch = new WatchProcess(
        [...cmd.slice(2).map(local), ...localHaproxyArgs(rig.ports, emptyDir)],
        {
          ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, local(v)])),
          KV_IP: '127.0.0.1',
          KV_PORT: String(rig.store.port),
          OCCS_BACKEND_KEY: PREFIX,
        },
        (argv) => restricted(app, emptyDir, [...entrypoint, argv[0]!, argv[1]!.replace(ROOT, `${app}/`), ...argv.slice(2)]),
      );
      await rig.watch.waitForLog(/^started haproxy/);
      await rig.servedBy(['a']);
      // HAProxy runs as the image's user, with no capability left.
      const haproxy = await rig.watch.haproxyPid();
      const status = readFileSync(`/proc/${haproxy}/status`, 'utf8');
      expect(/^Uid:\s+(\d+)/m.exec(status)![1]).toBe(USER![1]);
      expect(/^CapEff:\s+(\S+)/m.exec(status)![1]).toBe('0000000000000000');
      expect(/^NoNewPrivs:\s+(\d)/m.exec(status)![1]).toBe('1');

      const healthcheck = () =>
        spawnSync(join(ROOT, 'examples/container/occs-lb-probe'), probe.slice(1), { env: { OCCS_LB_LISTEN: local(env.OCCS_LB_LISTEN!) } });
      await waitFor('the HEALTHCHECK to pass', () => healthcheck().status === 0 || undefined);
      rig.store.put(`${PREFIX}/b`, rig.address(1));
      await rig.servedBy(['a', 'b']);
      rig.watch.signal('SIGTERM');
      expect(await rig.watch.exited).toBe(0);
      expect(healthcheck().status).not.toBe(0);
    },
  );

  it('tini as PID 1 reaps an orphan that dies; Node as PID 1 would leave it a zombie', () => {
    // In a PID namespace of its own, PID 1 starts a shell that leaves a short sleep behind; once
    // the sleep ends, how many zombies are there?
    const script = `
      require('node:child_process').spawn('sh', ['-c', 'sleep 0.2 &'], { stdio: 'ignore' });
      setTimeout(() => {
        const fs = require('node:fs');
        const zombies = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).filter((p) => {
          try { return / Z /.test(fs.readFileSync('/proc/' + p + '/stat', 'utf8').split(')').pop()); } catch { return false; }
        });
        console.log(zombies.length);
      }, 1500);`;
    const zombies = (pid1: string[]) =>
      spawnSync('unshare', ['--pid', '--fork', '--mount-proc', ...pid1, process.execPath, '-e', script], { encoding: 'utf8' }).stdout.trim();
    expect(zombies([])).toBe('1');
    expect(zombies(execForm('ENTRYPOINT'))).toBe('0');
  });
});

/**
 * `argv` as the restricted profile runs it: in a private mount namespace where the root file
 * system (and any other writable mount a container would not have) is read-only but for the
 * emptyDir, the application mounted read-only at `app` (where its user can reach it), as the
 * image's numeric user, with every capability dropped and no new privileges.
 */
function restricted(app: string, emptyDir: string, argv: string[]): [string, string[]] {
  const script = [
    'set -e',
    `mount --bind "${emptyDir}" "${emptyDir}"`,
    `mount --bind "${ROOT}" "${app}"`,
    `mount -o remount,bind,ro "${app}"`,
    'for m in / /tmp /var/tmp /dev/shm /run /work; do if mountpoint -q "$m"; then mount -o remount,bind,ro "$m"; fi; done',
    `exec setpriv --reuid ${USER![1]} --regid ${USER![2]} --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"`,
  ].join('\n');
  return ['unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ...argv]];
}
