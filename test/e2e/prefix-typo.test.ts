import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { freePort } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';
import { WatchProcess } from '../support/watch-process.js';

/** A store with apps/nginx and apps/other; the typo's warning names apps/nginx. */
const PAIRS = { 'apps/nginx/web1': '10.0.0.1:80', 'apps/other/x': '10.0.0.2:80', 'apps/myapp/containers/one': '10.0.0.3:80' };

const fileStore = (): string => {
  const path = join(makeTempDir(), 'kv.properties');
  writeFileSync(
    path,
    Object.entries(PAIRS)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
  );
  return `file:${path}`;
};

const warning = (prefix: string, store: string, near: string) =>
  `prefix "${prefix}" holds no keys at ${store}: a backend it fills has no servers (did you mean "${near}"?)`;

/** What a test started (a watch, a store), stopped after it, the last first. */
const running: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const started of running.splice(0).reverse()) await started.stop();
});

/** watch on a store with no HAProxy to reload: the config is installed, the warnings logged. */
const startWatch = async (store: string, ...prefixes: string[]) => {
  const out = join(makeTempDir(), 'haproxy.cfg');
  const watch = new WatchProcess(['--kv', store, ...prefixes.flatMap((p) => ['--prefix', p]), '--out', out, '--listen', `127.0.0.1:${await freePort()}`]);
  running.push(watch);
  return watch;
};

const validate = (store: string, prefix: string) => runCli(['validate', '--no-haproxy', '--kv', store, '--prefix', prefix]);

/** A Consul test server holding PAIRS (readable by its token as `options` say), stopped after the test. */
async function consulStore(options: ConstructorParameters<typeof ConsulKvServer>[0] = {}): Promise<ConsulKvServer> {
  const consul = await new ConsulKvServer(options).start();
  running.push(consul);
  for (const [k, v] of Object.entries(PAIRS)) consul.put(k, v);
  return consul;
}

describe('a typo in a prefix (not a name cut short) is told with the directory beside it nearest by name', () => {
  it('validate on a file store: apps/ngnix → apps/nginx, apps/myapp/containrs → apps/myapp/containers; a name cut short still works', async () => {
    const store = fileStore();
    const swapped = await validate(store, 'apps/ngnix');
    expect(swapped.code, swapped.stderr).toBe(0);
    expect(swapped.stdout).toContain(warning('apps/ngnix', store, 'apps/nginx'));
    expect((await validate(store, 'apps/myapp/containrs')).stdout).toContain(warning('apps/myapp/containrs', store, 'apps/myapp/containers'));
    expect((await validate(store, 'apps/ngin')).stdout).toContain(warning('apps/ngin', store, 'apps/nginx'));
    // Nothing near: the plain hint.
    expect((await validate(store, 'apps/zzzzzz')).stdout).toContain('(a typo in --prefix or OCCS_BACKEND_KEY?)');
  });

  it("validate on Consul: the parent's directories are listed once (?keys&separator=/); a listing that shows none only drops the hint", async () => {
    const consul = await consulStore();
    const result = await validate(consul.url, 'apps/ngnix');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(warning('apps/ngnix', consul.url, 'apps/nginx'));
    const listings = consul.requests.filter((r) => r.query.has('keys'));
    expect(listings.map((r) => [r.path, r.query.get('separator')])).toEqual([['/v1/kv/apps/', '/']]);

    // A token that may read apps/ngnix alone sees no directory beside it (Consul filters the listing).
    const scoped = await consulStore({ readable: 'apps/ngnix' });
    const hidden = await validate(scoped.url, 'apps/ngnix');
    expect(hidden.code, hidden.stderr).toBe(0);
    expect(hidden.stdout).toContain(
      `prefix "apps/ngnix" holds no keys at ${scoped.url}: a backend it fills has no servers (a typo in --prefix or OCCS_BACKEND_KEY?)`,
    );
  });

  it("watch's log on Consul names the directory, and the listing is not asked again while the prefix stays empty", async () => {
    const consul = await consulStore();
    // apps/other fills the backend, so a change of it installs a new config.
    const watch = await startWatch(consul.url, 'apps/other', 'apps/ngnix');
    const line = await watch.waitForLog(/^prefix "apps\/ngnix" holds no keys/);
    expect(line.msg).toBe(warning('apps/ngnix', consul.url, 'apps/nginx'));
    // The other prefix changes, the typo's stays empty: its siblings are not listed again.
    const before = watch.logs.length;
    consul.put('apps/other/y', '10.0.0.4:80');
    await watch.waitForLog(/^installed /, before);
    expect(consul.requests.filter((r) => r.query.has('keys'))).toHaveLength(1);
  });

  it("watch's log on a file store names the directory", async () => {
    const store = fileStore();
    const watch = await startWatch(store, 'apps/ngnix');
    expect((await watch.waitForLog(/^prefix "apps\/ngnix" holds no keys/)).msg).toBe(warning('apps/ngnix', store, 'apps/nginx'));
  });
});
