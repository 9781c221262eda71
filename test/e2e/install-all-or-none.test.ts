import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { aftermath, clearFaults, contents, failedPart, faultDir, injectFault, INSTALL_FAULTS, leftovers } from '../support/install-faults.js';
import { makeTempDir } from '../support/temp.js';

/** Two answers of the store whose stack configs differ in all three files: the config, its hosts map and its paths map. */
const FIRST = ['apps/web/containers/w1=10.0.0.1:8080', 'lb/routes/web=www.example.com /status'];
const SECOND = [
  'apps/web/containers/w1=10.0.0.1:8080',
  'apps/api/containers/a1=10.0.0.3:8080',
  'lb/routes/web=www.example.com shop.example.com',
  'lb/routes/api=api.example.com /api',
];
/** In the order an install renames them: the map files, then the config that reads them. */
const NAMES = ['lb.hosts.map', 'lb.paths.map', 'lb.cfg'];

let dir = '';
let files: string[] = [];
const render = () => runCli(['render', '--kv', `file:${join(dir, 'kv.properties')}`, '--stack', 'apps', '--out', join(dir, 'lb.cfg'), '--log-format', 'json']);
const answer = (lines: string[]) => writeFileSync(join(dir, 'kv.properties'), `${lines.join('\n')}\n`);

beforeEach(async () => {
  dir = makeTempDir();
  files = NAMES.map((name) => join(dir, name));
  answer(FIRST);
  const first = await render();
  expect(first.code, first.stderr).toBe(0);
  answer(SECOND);
});
afterEach(() => clearFaults());

describe('render --out in stack mode installs the config and both map files all or none (issue 20)', () => {
  it('the second answer changes every file, and installs them all when nothing is in the way', async () => {
    const before = contents(files);
    const result = await render();
    expect(result.code, result.stderr).toBe(0);
    for (const file of files) expect(readFileSync(file, 'utf8'), file).not.toBe(before[file]);
    expect(leftovers(files)).toEqual([]);
  });

  describe.each(INSTALL_FAULTS)('$fault', ({ fault, code, exit, errno }) => {
    it.each(NAMES)(`at %s: exit ${exit}, ${code} naming that file, every file as it was, nothing left behind`, async (name) => {
      const failing = join(dir, name);
      injectFault(fault, failing);
      const before = contents(files);

      const result = await render();
      expect(result.code, result.stderr).toBe(exit);
      const error = JSON.parse(result.stderr.trim().split('\n').at(-1)!) as { code: string; msg: string };
      expect(error.code).toBe(code);
      const what = failedPart(error.msg, errno);
      expect(what).toMatch(new RegExp(`^cannot install ${failing}: .* \\(${errno}\\)$`));
      if (fault === 'read-only' || fault === 'full') expect(what).toContain(faultDir(failing));
      for (const other of files.filter((f) => f !== failing)) expect(what).not.toContain(other);
      const rest = aftermath(fault, files, NAMES.indexOf(name));
      expect(error.msg.slice(what.length, what.length + rest.length + 2)).toBe(`; ${rest}`);
      expect(contents(files)).toEqual(before);
      expect(leftovers(files)).toEqual([]);
    });
  });
});
