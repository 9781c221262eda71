import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WATCH_V8_FLAGS } from '../../src/util/memory.js';

/**
 * What a bare Node process pays, in CPU per answer, only to receive a store's answer: GETs through
 * node:http over one kept-alive connection, each body copied into one kept buffer (watch's own
 * reader, src/kv/plain-get.ts, reads into one too), nothing parsed, under the V8 flags watch runs
 * with (src/util/memory.ts). The floor of a change on a store that sends the whole prefix with
 * every change (Consul/OCCS): any reader pays it.
 */
const RECEIVER = `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true });
const kept = Buffer.allocUnsafeSlow(64 << 20);
const get = () => new Promise((ok, fail) => http.get(process.argv[1], { agent }, (res) => {
  let at = 0;
  res.on('data', (chunk) => { at += chunk.copy(kept, at); });
  res.on('end', () => ok(at));
}).on('error', fail));
(async () => {
  for (let i = 0; i < 10; i++) await get();
  const trials = Number(process.argv[2]);
  const started = process.cpuUsage();
  for (let i = 0; i < trials; i++) await get();
  const cpu = process.cpuUsage(started);
  process.stdout.write(String((cpu.user + cpu.system) / 1000 / trials));
})();`;

/** CPU (ms) per answer of a bare Node process receiving `url`'s answer, mean of `trials`. */
export async function receiveCpuMs(url: string, trials = 40): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, [...WATCH_V8_FLAGS, '-e', RECEIVER, url, String(trials)], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return Number(stdout);
}
