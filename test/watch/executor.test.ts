import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';
import { reloadError } from '../../src/errors.js';
import { toSnapshot } from '../../src/kv/keys.js';
import { createLogger } from '../../src/log.js';
import { DEFAULT_TEMPLATE } from '../../src/paths.js';
import { compileTemplates } from '../../src/pipeline/render.js';
import { Redactor } from '../../src/util/redact.js';
import { Applier } from '../../src/watch/apply.js';
import { makeTempDir } from '../support/temp.js';
import { failure } from '../support/failure.js';

const snapshot = (...names: string[]) => toSnapshot(names.map((name, i) => ({ key: `/apps/x/${name}`, value: `10.0.0.${i + 1}:80` })));

async function applier(extraFlags: Record<string, string> = {}) {
  const dir = makeTempDir();
  const out = join(dir, 'haproxy.cfg');
  const settings = resolveSettings({
    flags: { prefix: ['apps/x'], out, bind: '127.0.0.1', ...extraFlags },
    env: {},
    cwd: dir,
    defaultTemplate: DEFAULT_TEMPLATE,
    readSecret: () => '',
  });
  const lines: string[] = [];
  const log = createLogger({
    stream: { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream,
    format: 'text',
    verbosity: 'normal',
    redactor: new Redactor(),
  });
  const a = new Applier({ settings, templates: await compileTemplates(settings.resources), haproxy: 'haproxy', log });
  await a.init();
  return { a, out, dir, lines };
}

describe('Applier (the install half of watch)', () => {
  it('installs a change, skips an identical render, and reloads only when the config changed', async () => {
    const { a, out } = await applier();
    let reloads = 0;
    const reload = async () => void (reloads += 1);
    expect((await a.apply(snapshot('one'), false, reload)).installed).toEqual([out]);
    expect((await a.apply(snapshot('one'), false, reload)).installed).toEqual([]);
    expect(reloads).toBe(1);
    await a.apply(snapshot('one'), true, reload);
    expect(reloads).toBe(2);
    expect(readFileSync(out, 'utf8')).toContain('server one 10.0.0.1:80 check');
  });

  it('puts the previous file back when the reload fails', async () => {
    const { a, out, dir } = await applier();
    await a.apply(snapshot('one'), false, async () => {});
    const good = readFileSync(out, 'utf8');
    const error = await failure(
      a.apply(snapshot('one', 'two'), false, async () => {
        expect(readFileSync(out, 'utf8')).toContain('server two');
        throw reloadError('RELOAD_REJECTED', 'HAProxy rejected the reload');
      }),
    );
    expect(error.code).toBe('RELOAD_REJECTED');
    expect(readFileSync(out, 'utf8')).toBe(good);
    expect(readdirSync(dir)).toEqual(['haproxy.cfg']);
    // The next change is tried afresh.
    expect((await a.apply(snapshot('one', 'two'), false, async () => {})).installed).toEqual([out]);
  });

  it('--min-servers refuses a thin answer and leaves the file alone', async () => {
    const { a, out } = await applier({ minServers: '2' });
    await a.apply(snapshot('one', 'two'), false, async () => {});
    const good = readFileSync(out, 'utf8');
    const error = await failure(a.apply(snapshot('one'), false, async () => {}));
    expect(error.code).toBe('MIN_SERVERS');
    expect(readFileSync(out, 'utf8')).toBe(good);
  });

  it('tells skipped entries once per change of the set, not on every render', async () => {
    const { a, lines } = await applier();
    const bad = toSnapshot([
      { key: '/apps/x/bad', value: '10.0.0.1:80 backup' },
      { key: '/apps/x/ok', value: '10.0.0.2:80' },
    ]);
    await a.apply(bad, false, async () => {});
    await a.apply(bad, true, async () => {});
    expect(lines.filter((l) => l.includes('skipped /apps/x/bad'))).toHaveLength(1);
  });
});
