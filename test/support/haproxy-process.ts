import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { makeTempDir } from './temp.js';

/** The lowest port Linux gives the local end of an outgoing connection. */
const EPHEMERAL_LOW = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
})();

/** Binds `port` on 127.0.0.1 (or any free port for 0) and releases it; resolves the port, or undefined when it is taken. */
function bindOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A free TCP port on 127.0.0.1 (bound once, then released for the test to use), chosen at random
 * below the ephemeral range: a port the kernel hands out for outgoing connections (to the test
 * stores, HAProxy's health checks, the tests' own clients) could be taken by one of them between
 * now and the moment the test binds it.
 */
export async function freePort(): Promise<number> {
  const low = 10_000;
  for (let attempt = 0; EPHEMERAL_LOW - low > 1000 && attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (EPHEMERAL_LOW - low));
    // Free now, but maybe handed out a moment ago and not bound yet (a rig asks for several at once).
    if (given.has(port)) continue;
    const free = await bindOnce(port);
    if (free) return remember(free);
  }
  const any = await bindOnce(0);
  if (!any) throw new Error('no free port on 127.0.0.1');
  return remember(any);
}

/** The ports this process handed out lately: never handed out twice while a test may still be about to bind them. */
const given = new Set<number>();
function remember(port: number): number {
  given.add(port);
  if (given.size > 4000) given.delete(given.values().next().value!);
  return port;
}

export interface HttpAnswer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** One GET on a new connection (no keep-alive), as a fresh client would; `headers` such as Host go with it. */
export function httpGet(port: number, path = '/', timeoutMs = 3000, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Waits for a condition with a deadline; returns its value or throws with `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The first lines of a test config HAProxy is changed through: an admin socket (`level admin`),
 * `global` lines of one's own, HTTP defaults, and `frontend main` bound to `port` (its own lines
 * follow).
 */
export function adminConfigHead(adminSocket: string, port: number, global: string[] = []): string[] {
  return [
    'global',
    `    stats socket ${adminSocket} mode 600 level admin`,
    ...global,
    'defaults',
    '    mode http',
    '    timeout connect 2s',
    '    timeout client 10s',
    '    timeout server 10s',
    'frontend main',
    `    bind 127.0.0.1:${port}`,
  ];
}

/**
 * A tiny config whose frontend answers by itself with `body` (and an `x-version` header), so a
 * test sees which config a running HAProxy serves without any backend server.
 */
export function answeringConfig(port: number, body: string, extraGlobal = ''): string {
  return [
    'global',
    '    maxconn 500',
    ...(extraGlobal ? [extraGlobal] : []),
    'defaults',
    '    mode http',
    '    timeout connect 2s',
    '    timeout client 10s',
    '    timeout server 10s',
    '    option idle-close-on-response',
    'frontend main',
    `    bind 127.0.0.1:${port}`,
    `    http-response set-header x-version ${body}`,
    `    http-request return status 200 content-type text/plain string ${body}`,
    '',
  ].join('\n');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/**
 * A real HAProxy on 127.0.0.1, in its own temp dir: master-worker in the foreground (`-W -S`), or
 * a classic daemon (`-D`). Stopped by pid: the master, or every pid its pid file has named.
 */
export class HaproxyProcess {
  readonly dir = makeTempDir();
  readonly config = join(this.dir, 'haproxy.cfg');
  readonly socket = join(this.dir, 'master.sock');
  readonly pidFile = join(this.dir, 'haproxy.pid');
  private child?: ChildProcess;
  private readonly seenPids = new Set<number>();
  output = '';

  constructor(
    readonly port: number,
    readonly mode: 'master-worker' | 'master-worker-no-socket' | 'classic',
    /** How -S names the socket; HAProxy runs in its temp dir, so `unix@master.sock` works too. */
    private readonly socketSpec = join(this.dir, 'master.sock'),
  ) {}

  writeConfig(text: string): void {
    writeFileSync(this.config, text);
  }

  async start(): Promise<void> {
    if (this.mode === 'classic') {
      const result = spawnSync('haproxy', ['-D', '-f', this.config, '-p', this.pidFile], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`haproxy -D failed: ${result.stderr}`);
    } else {
      const args = ['-W', '-f', this.config, '-p', this.pidFile, ...(this.mode === 'master-worker' ? ['-S', this.socketSpec] : [])];
      this.child = spawn('haproxy', args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
      this.child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
      this.child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    }
    await waitFor(`HAProxy to answer on port ${this.port}`, async () => (await httpGet(this.port)).status === 200);
    this.rememberPids();
  }

  /** The pids in the pid file now (the master, or the classic processes). */
  pids(): number[] {
    if (!existsSync(this.pidFile)) return [];
    return readFileSync(this.pidFile, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  }

  private rememberPids(): void {
    for (const pid of this.pids()) this.seenPids.add(pid);
    if (this.child?.pid) this.seenPids.add(this.child.pid);
  }

  /** The master's pid (master-worker modes). */
  get masterPid(): number {
    return this.child!.pid!;
  }

  async stop(): Promise<void> {
    this.rememberPids();
    for (const pid of this.seenPids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await waitFor('HAProxy to stop', () => [...this.seenPids].every((pid) => !alive(pid)), 5000).catch(() => {
      for (const pid of this.seenPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    });
  }
}

/**
 * A client that opens a new connection for every request, `concurrency` at a time, until
 * stopped; counts answers and failures (a refused, reset or non-200 request).
 */
export function continuousLoad(port: number, concurrency = 4) {
  let running = true;
  const stats = { ok: 0, failed: 0, errors: [] as string[] };
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const answer = await httpGet(port, '/', 5000);
        if (answer.status === 200) stats.ok += 1;
        else {
          stats.failed += 1;
          stats.errors.push(`HTTP ${answer.status}`);
        }
      } catch (error) {
        stats.failed += 1;
        stats.errors.push((error as Error).message);
      }
    }
  });
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(loops);
      return stats;
    },
  };
}
