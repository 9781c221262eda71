import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/load.js';
import * as types from '../../src/config/setting-entry.js';
import type { FileType, SettingEntry } from '../../src/config/setting-entry.js';
import { SETTINGS } from '../../src/config/table.js';
import { ROOT } from '../support/cli.js';
import { makeTempDir } from '../support/temp.js';

/*
 * The shipped JSON Schema (dist/occs-lb.schema.json) against occs-lb itself: for every setting of
 * the config file whose value has a rule, a value the schema takes is one occs-lb takes, and a
 * value occs-lb refuses is one the schema refuses (an editor shows it), but for the rules a
 * JSON Schema cannot state, listed below.
 */
const schema = JSON.parse(readFileSync(join(ROOT, 'dist/occs-lb.schema.json'), 'utf8')) as object;
const check = new Ajv({ strict: false }).compile(schema);

const durations = ['5s', '1m30s', '250ms', '50ms', '1.5h', '2d', ' 5s ', '0', '0s', 0, 5, 0.25, -1, '-1s', '5x', '1m30', '', true];
const SAMPLES = new Map<FileType, readonly unknown[]>([
  [types.port, [1, 80, 65535, 0, 65536, -1, 1.5, '80']],
  [types.count, [0, 2, -1, 1.5, '2']],
  [types.duration, durations],
  [types.positiveDuration, durations],
  [types.size, ['16MiB', '64 KiB', '1.5mb', '1kb', '300', 1, '0', 0, 'x', '2k', -5, 1.5]],
  [types.balance, [...types.BALANCE_ALGORITHMS, 'fastest', '']],
  [types.textOrJson, ['text', 'json', 'xml']],
  [types.consistency, ['default', 'stale', 'consistent', 'eventual']],
  [types.waitRange, ['0', '5s', '1s:1m30s', '200ms:2s', '2s:1s', 'soon', '1m30', '1s:2s:3s']],
  [types.bindAddress, ['*', '0.0.0.0', '127.0.0.1', '::', '::1', 'fe80::1', '::ffff:10.0.0.1', 'localhost', '256.0.0.1', '01.2.3.4', '1.2.3', '', '1:::2']],
  [
    types.listenAddress,
    ['127.0.0.1:9180', '[::1]:9180', ':9180', 'localhost:9180', '9180', '127.0.0.1:0', '127.0.0.1:70000', 'host:9180', '::1:9180', '[1:::2]:9180'],
  ],
  [types.socketPath, ['', '/run/haproxy/admin.sock', 'admin.sock', '/run/a b.sock']],
]);
/** The keys with a rule of their own: their samples. */
const WORDS: Record<string, readonly unknown[]> = {
  statsUser: ['admin', 'ops.team-1', 'a b', 'ops;x', ''],
  backendName: ['nginx_80', 'web:8080', 'a b', `${'x'.repeat(254)}`, ''],
  stack: ['leastconn', 'fastest', ''].map((balance) => ({ services: [{ name: 'web', prefix: 'apps/web', balance }] })),
};

/** What the JSON Schema cannot state: how long a duration is (interval takes 100ms at least), --wait's MAX not below its MIN, IPv6's grammar. */
const BEYOND_SCHEMA: ReadonlyArray<[string, unknown]> = [
  ['interval', '50ms'],
  ['wait', '2s:1s'],
  ['bind', '1:::2'],
  ['listen', '[1:::2]:9180'],
];

/** Settings that only count alongside another: what they need. */
const NEEDS: Record<string, object> = { certDir: { httpsPort: 8443 }, defaultCert: { httpsPort: 8443 }, certWarn: { httpsPort: 8443 } };

function cases(): Array<[string, unknown]> {
  const all: Array<[string, unknown]> = [];
  for (const entry of SETTINGS as readonly SettingEntry[]) {
    for (const [key, type] of Object.entries(entry.file ?? {})) {
      for (const value of WORDS[key] ?? SAMPLES.get(type) ?? []) all.push([key, value]);
    }
  }
  return all;
}

async function occsLbTakes(config: object): Promise<boolean> {
  const dir = makeTempDir();
  writeFileSync(join(dir, 'occs-lb.config.json'), JSON.stringify(config));
  return loadSettings({}, { stdout: process.stdout, stderr: process.stderr, env: {}, cwd: dir, stderrIsTTY: false }).then(
    () => true,
    (error: Error & { exitCode?: number }) => {
      if (error.exitCode !== 2) throw error;
      return false;
    },
  );
}

describe("the config file's JSON Schema states occs-lb's rules", () => {
  it('covers every rule-bearing type of the table (a new one needs samples here)', () => {
    const ruled = (SETTINGS as readonly SettingEntry[]).flatMap((e) => Object.entries(e.file ?? {})).filter(([key, type]) => !WORDS[key] && !SAMPLES.has(type));
    const plain = new Set<FileType>([types.text, types.anyText, types.yesNo, types.texts]);
    expect(ruled.filter(([, type]) => !plain.has(type)).map(([key]) => key)).toEqual([]);
  });

  it.each(cases())('%s: %j is taken by the schema exactly when occs-lb takes it', async (key, value) => {
    const config = { ...NEEDS[key], [key]: value };
    const cli = await occsLbTakes(config);
    if (BEYOND_SCHEMA.some(([k, v]) => k === key && v === value)) expect({ schema: check(config), cli }).toEqual({ schema: true, cli: false });
    else expect(check(config)).toBe(cli);
  });
});
