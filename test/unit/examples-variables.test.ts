import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { variablesOf } from '../../src/config/environment.js';
import type { SettingEntry } from '../../src/config/setting-entry.js';
import { SETTINGS } from '../../src/config/table.js';
import { ROOT } from '../support/cli.js';

/** Every variable occs-lb reads: each setting's OCCS_LB_ one and the seed's names. */
const known = new Set((SETTINGS as readonly SettingEntry[]).flatMap(variablesOf));
/** Variables the examples set that are not occs-lb's own: the temp dir. */
const OTHERS = new Set(['TMPDIR']);
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** The variables each example sets, by where it sets them. */
const examples: Array<[string, string[]]> = [
  [
    'examples/kubernetes/deployment.yaml',
    (
      parse(read('examples/kubernetes/deployment.yaml')) as { spec: { template: { spec: { containers: Array<{ env: Array<{ name: string }> }> } } } }
    ).spec.template.spec.containers.flatMap((c) => c.env.map((e) => e.name)),
  ],
  ['examples/container/Dockerfile', [.../^ENV ((?:.*\\\n)*.*)$/m.exec(read('examples/container/Dockerfile'))![1]!.matchAll(/(\w+)=/g)].map((m) => m[1]!)],
  ['examples/systemd/occs-lb.service', [...read('examples/systemd/occs-lb.service').matchAll(/^Environment="?(\w+)=/gm)].map((m) => m[1]!)],
];

describe('the examples set only variables occs-lb reads', () => {
  it.each(examples)('%s', (_, names) => {
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((name) => !known.has(name) && !OTHERS.has(name))).toEqual([]);
  });
});
