import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { showProc } from '../../src/haproxy/master-cli.js';
import { bundleOf, makeCa, makeLeaf, type TestCert } from '../support/certs.js';
import { freePort, waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { handshakeSerial } from '../support/tls-client.js';
import { httpsLoad } from '../support/tls-load.js';
import type { LogLine } from '../support/watch-process.js';
import { startStack, type StackRig } from './stack-rig.js';

// The TLS benchmark's rig: a stack serving HTTPS under watch, the certificates it rotates, and handshakes to time.

export const WEB = 'www.example.test';
export const API = 'api.example.test';

/** Certificates made once by the real openssl: `web` (several, for one name, to rotate between) and `api` (the default one: first by name). */
export interface BenchCerts {
  web: TestCert[];
  api: TestCert;
}

export function makeBenchCerts(rotating = 3): BenchCerts {
  const dir = makeTempDir();
  const ca = makeCa(dir, 'occs-lb bench CA');
  const web = Array.from({ length: rotating }, () => makeLeaf(dir, ca, WEB, { san: [`DNS:${WEB}`] }));
  return { web, api: makeLeaf(dir, ca, API, { san: [`DNS:${API}`] }) };
}

/** A stack (web, api) under watch with --https-port, serving `web[0]` and `api`. */
export interface TlsRig extends StackRig {
  https: number;
  /** The web bundle's file: its name in HAProxy's runtime API too. */
  webBundle: string;
  /** Which of certs.web the store holds now. */
  current: number;
}

export async function startTlsStack(certs: BenchCerts, extra: string[] = []): Promise<TlsRig> {
  const https = await freePort();
  const control: Array<[string, string]> = [
    ['lb/routes/web', WEB],
    ['lb/routes/api', API],
    ['lb/certs/web', bundleOf(certs.web[0]!)],
    ['lb/certs/api', bundleOf(certs.api)],
  ];
  const rig = await startStack({ web: 1, api: 1 }, control, ['--https-port', String(https), ...extra]);
  const webBundle = join(dirname(rig.socket), 'haproxy.certs', 'web.pem');
  try {
    await waitFor('HTTPS to serve web', async () => (await handshakeSerial(https, WEB)) === certs.web[0]!.serial, 15_000);
  } catch (error) {
    await rig.stop();
    throw error;
  }
  return { ...rig, https, webBundle, current: 0 };
}

/** Whether the bundle file on disk holds `cert` (the file of a runtime change follows it in the background). */
export const onDisk = (rig: TlsRig, cert: TestCert): boolean => readFileSync(rig.webBundle, 'utf8').includes(cert.cert.split('\n')[1]!);

/** Requests per second over `seconds`: HTTPS, a new connection and full handshake each, `concurrency` clients, to web. */
async function handshakeRate(rig: TlsRig, seconds: number, concurrency: number): Promise<{ perSecond: number; failed: number }> {
  const started = performance.now();
  const load = httpsLoad(rig.https, [{ name: WEB, body: 'web-s0' }], concurrency);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const stats = await load.stop();
  return { perSecond: stats.ok / ((performance.now() - started) / 1000), failed: stats.failedHandshakes + stats.failedRequests };
}

/** Handshake rates of each rig (8 clients, rounds of 2 s), the rigs taking turns so a busy moment of the machine hits them alike. */
export async function rates(rigs: readonly TlsRig[], rounds = 3): Promise<Array<{ perSecond: number[]; failed: number }>> {
  const out = rigs.map(() => ({ perSecond: [] as number[], failed: 0 }));
  for (let r = 0; r < rounds; r++) {
    for (const [i, rig] of rigs.entries()) {
      const { perSecond, failed } = await handshakeRate(rig, 2, 8);
      out[i]!.perSecond.push(perSecond);
      out[i]!.failed += failed;
    }
  }
  return out;
}

/** The supervised HAProxy's master CLI: the -S watch added. */
export const masterSocket = async (rig: TlsRig): Promise<string> => /-S (\S+)/.exec(String((await rig.watch.waitForLog(/^started haproxy/)).msg))![1]!;

/** The supervised HAProxy's current worker, from its master CLI. */
export async function haproxyWorker(rig: TlsRig): Promise<number> {
  return (await showProc(await masterSocket(rig), 2000)).workers.find((w) => w.current)!.pid;
}

/** Handshakes back to back until WEB is presented `serial` (a failed one is counted and polled again); the ms since `started`. */
export async function servedAfter(rig: TlsRig, serial: string, started: number, failures: { count: number }): Promise<number> {
  for (;;) {
    const seen = await handshakeSerial(rig.https, WEB).catch(() => {
      failures.count += 1;
      return undefined;
    });
    if (seen === serial) return performance.now() - started;
    if (performance.now() - started > 15_000) throw new Error(`timed out waiting for ${WEB} to be presented ${serial}`);
  }
}

/** The same back-to-back handshakes as servedAfter, in the background until stopped: what the machine bears while a rotation is timed. */
export function pollingHandshakes(rig: TlsRig): { stop(): Promise<number> } {
  let [running, failed] = [true, 0];
  const loop = (async () => {
    while (running) await handshakeSerial(rig.https, WEB).catch(() => (failed += 1));
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return failed;
    },
  };
}

/** What watch and HAProxy said besides info: watch's warnings and errors, and HAProxy's lines (counted by kind, numbers left out). */
export function remarks(logs: readonly LogLine[]): string {
  const own = logs.filter((l) => l.source !== 'haproxy' && l.level !== 'info' && l.level !== 'debug').map((l) => l.msg);
  const kinds = new Map<string, number>();
  for (const l of logs.filter((x) => x.source === 'haproxy')) {
    const kind = l.msg.replace(/\d+/g, 'N');
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  const haproxy = [...kinds].map(([kind, n]) => `${n} × ${kind}`);
  return `watch ${own.length}${own.length ? ` (${own.slice(0, 3).join(' | ')})` : ''}; HAProxy ${haproxy.length ? haproxy.slice(0, 6).join(' | ') : 'none'}`;
}
