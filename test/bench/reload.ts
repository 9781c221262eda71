import { spawn } from 'node:child_process';
import { reloadHaproxy, type ReloadStrategy } from '../../src/haproxy/reload.js';
import { BIN, ROOT } from '../support/cli.js';
import { answeringConfig, continuousLoad, freePort, HaproxyProcess, httpGet } from '../support/haproxy-process.js';
import { median, ms, report } from './stats.js';

/** Time from spawning `occs-lb reload` until a request through HAProxy is answered by the new config. */
async function reloadLatency(runs: number): Promise<{ total: number[]; reported: number[] }> {
  const h = new HaproxyProcess(await freePort(), 'master-worker');
  h.writeConfig(answeringConfig(h.port, 'v0'));
  await h.start();
  const total: number[] = [];
  const reported: number[] = [];
  try {
    for (let i = 1; i <= runs; i++) {
      h.writeConfig(answeringConfig(h.port, `v${i}`));
      const started = performance.now();
      const child = spawn(process.execPath, [BIN, 'reload', '--master-socket', h.socket, '--haproxy-config', h.config], { cwd: ROOT });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((r) => child.on('close', r));
      while ((await httpGet(h.port).catch(() => undefined))?.body !== `v${i}`) {
        if (performance.now() - started > 15_000) throw new Error('the new config was never served');
      }
      total.push(performance.now() - started);
      if ((await exited) !== 0) throw new Error(`occs-lb reload failed: ${out}`);
      reported.push(Number(/\((\d+) ms\)/.exec(out)?.[1]));
    }
  } finally {
    await h.stop();
  }
  return { total, reported };
}

/** Failed requests of a client opening new connections while HAProxy reloads `count` times. */
async function failuresUnderLoad(mode: 'master-worker' | 'classic', count: number) {
  const h = new HaproxyProcess(await freePort(), mode);
  h.writeConfig(answeringConfig(h.port, 'v0'));
  await h.start();
  const strategy: ReloadStrategy = mode === 'master-worker' ? { kind: 'master-socket', socket: h.socket } : { kind: 'pid-file', pidFile: h.pidFile };
  const load = continuousLoad(h.port, 4);
  try {
    for (let i = 1; i <= count; i++) {
      h.writeConfig(answeringConfig(h.port, `v${i}`));
      await reloadHaproxy(strategy, { binary: 'haproxy', config: h.config, timeoutMs: 10_000 });
    }
  } finally {
    await load.stop();
    await h.stop();
  }
  return load.stats;
}

export async function benchReload(): Promise<void> {
  const { total, reported } = await reloadLatency(20);
  report('reload latency, master-worker (20 runs of `occs-lb reload --master-socket`)', [
    ['start of occs-lb reload → new config answering: median', ms(median(total))],
    ['… max', ms(Math.max(...total))],
    ['reload verified by show proc (as printed): median', ms(median(reported))],
    ['… max', ms(Math.max(...reported))],
  ]);
  const rows: Array<[string, string]> = [];
  for (const mode of ['master-worker', 'classic'] as const) {
    const stats = await failuresUnderLoad(mode, 100);
    const how = mode === 'master-worker' ? 'master-worker (master socket)' : 'classic -sf without -x (pid file)';
    rows.push([
      `${how}: failed / answered`,
      `${stats.failed} / ${stats.ok}${stats.errors.length ? `  (${[...new Set(stats.errors)].slice(0, 3).join('; ')})` : ''}`,
    ]);
  }
  report('failed requests during 100 reloads under continuous new connections (4 clients)', rows);
}
