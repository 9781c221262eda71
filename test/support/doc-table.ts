import type { DocEntry } from './doc-blocks.js';

/** The commands of the docs that a test runs, by the test file that runs them. */
export interface RunEntry extends DocEntry {
  by: string;
}

const run = (page: string, match: RegExp, by: string): RunEntry => ({ page: `docs/${page}`, match, by: `test/e2e/${by}` });

/**
 * Every `npx occs-lb … --kv file:…` line of any page: run by readme.test.ts (which drops a leading
 * `npm ci && `: npm ci itself is in the not-runnable table of docs-commands.test.ts).
 */
export const FILE_STORE_LINES: RunEntry = { page: '*', match: /^(npm ci && )?npx occs-lb .*--kv file:/, by: 'test/e2e/readme.test.ts' };

/** The other commands that run, each entry's commands taken from its page by the test that runs them. */
export const RUN = {
  etcdQuickStart: run('getting-started.md', /^etcd --data-dir|^etcdctl --endpoints|--kv etcd:\/\//, 'readme.test.ts'),
  httpsCertificate: run('https.md', /^mkdir -p|^openssl req/, 'https-commands.test.ts'),
  oldImageEnvironment: run('getting-started.md', /^export |^npx occs-lb render( >| --out| --kv consul:)/, 'docs-stores.test.ts'),
  storesConsul: run('stores.md', /--kv consul:\/\/127\.0\.0\.1:8500/, 'docs-stores.test.ts'),
  storesEtcdCluster: run('stores.md', /--kv etcd:\/\/10\.0\.0\.1:2379,/, 'docs-stores.test.ts'),
  storesEtcd: run('stores.md', /--kv etcd:\/\/127\.0\.0\.1:2379 /, 'docs-stores.test.ts'),
  observability: run('observability.md', /^occs-lb watch |^curl -s /, 'docs-watch.test.ts'),
  stackWatch: run('stack.md', /^occs-lb watch /, 'docs-watch.test.ts'),
  stackConsulChanges: run('stack.md', /^curl -X PUT /, 'docs-watch.test.ts'),
  stackEtcdChanges: run('stack.md', /^etcdctl /, 'docs-watch.test.ts'),
  watch: run('watch.md', /^npx occs-lb watch /, 'docs-watch.test.ts'),
  reloadMasterSocket: run('watch.md', /^npx occs-lb reload --master-socket /, 'docs-reload.test.ts'),
  reloadPidFile: run('watch.md', /^npx occs-lb reload --pid-file /, 'docs-reload.test.ts'),
  reloadCmd: run('watch.md', /^npx occs-lb reload --reload-cmd /, 'docs-reload.test.ts'),
} satisfies Record<string, RunEntry>;
