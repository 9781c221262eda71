import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { makeTempDir } from '../support/temp.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

/** A properties file that gives apps/x/one twice, at lines 3 and 7. */
function duplicated(): { kv: string; warning: string } {
  const kv = join(makeTempDir(), 'kv.properties');
  writeFileSync(kv, '# servers\napps/x/two=10.0.0.2:80\napps/x/one=10.0.0.1:80\n\napps/x/three=10.0.0.3:80\n# moved\napps/x/one=10.0.0.9:80\n');
  return { kv, warning: `key apps/x/one is given twice in ${kv}, at lines 3 and 7: line 7's value is used` };
}

describe('a key given twice in a key=value file', () => {
  it('render warns of it, naming the key and both lines, and renders the later value', async () => {
    const { kv, warning } = duplicated();
    const result = await runCli(['render', '--kv', `file:${kv}`, '--prefix', 'apps/x']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(warning);
    expect(result.stdout).toContain('10.0.0.9:80');
    expect(result.stdout).not.toContain('10.0.0.1:80');
  });

  it('validate lists it among its warnings, in its JSON report too', async () => {
    const { kv, warning } = duplicated();
    const text = await runCli(['validate', '--kv', `file:${kv}`, '--prefix', 'apps/x', '--no-haproxy']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`warning [kv] ${warning}`);
    const json = await runCli(['validate', '--kv', `file:${kv}`, '--prefix', 'apps/x', '--no-haproxy', '--format', 'json']);
    expect(JSON.parse(json.stdout).warnings).toContainEqual({ source: 'kv', key: '/apps/x/one', message: warning });
  });

  it('is not told when the key lies outside the prefixes read', async () => {
    const { kv } = duplicated();
    const result = await runCli(['render', '--kv', `file:${kv}`, '--prefix', 'apps/y']);
    expect(result.stderr).not.toContain('given twice');
  });
});

describe('a key given twice in the key=value file watch follows', () => {
  const rig = useWatchRig();

  it('is warned of in the log, naming the key and both lines', async () => {
    const kv = join(rig.dir, 'kv.properties');
    writeFileSync(kv, `${PREFIX}/one=${rig.address(0)}\n${PREFIX}/one=${rig.address(1)}\n`);
    const w = rig.startWatch(`file:${kv}`);
    await w.waitForLog(new RegExp(`^key ${PREFIX}/one is given twice in .*kv\\.properties, at lines 1 and 2: line 2's value is used$`));
    await rig.servedBy(['b']);
  });
});
