import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { link, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitStaged, type CommitCalls } from '../../src/install/commit.js';
import { InstallFailure } from '../../src/install/install-error.js';
import { stageEach } from '../../src/install/stage.js';
import { removeStaleTemps } from '../../src/util/atomic-write.js';
import { ROOT } from '../support/cli.js';
import { failure } from '../support/failure.js';
import { makeTempDir } from '../support/temp.js';

/** Three files of one change: `a` and `c` exist, `b` is new. */
function change() {
  const dir = makeTempDir();
  const [a, b, c] = ['a.map', 'b.map', 'c.cfg'].map((n) => join(dir, n)) as [string, string, string];
  writeFileSync(a, 'old a\n');
  chmodSync(a, 0o600);
  writeFileSync(c, 'old c\n');
  const files = [a, b, c].map((path, i) => ({ path, content: `new ${'abc'[i]}\n` }));
  return { dir, a, b, c, files, inode: (path: string) => statSync(path).ino };
}

/** The system's calls, but the renames named fail (EIO): every rename onto a path, or ([path, n]) only the n-th onto it. */
function failing(...failOn: Array<string | [string, number]>): CommitCalls {
  const seen = new Map<string, number>();
  return {
    link,
    rename: async (from, to) => {
      const n = (seen.get(to) ?? 0) + 1;
      seen.set(to, n);
      if (!failOn.some((f) => (typeof f === 'string' ? f === to : f[0] === to && f[1] === n))) return rename(from, to);
      throw Object.assign(new Error(`EIO: i/o error, rename '${from}' -> '${to}'`), { code: 'EIO', path: from, dest: to });
    },
  };
}

describe('commitStaged: all or none', () => {
  it('replaces every file, keeps each one where a symlink points, and leaves no backup', async () => {
    const { dir, a, b, c, files } = change();
    mkdirSync(join(dir, 'real'));
    writeFileSync(join(dir, 'real', 'c.cfg'), 'old c\n');
    symlinkSync('real/c.cfg', join(dir, 'link.cfg'));
    const staged = await stageEach([...files, { path: join(dir, 'link.cfg'), content: 'new link\n' }, { path: a, content: 'new a\n' }]);
    expect(await commitStaged(staged.slice(0, 4))).toEqual(['written', 'written', 'written', 'written']);
    expect([a, b, c].map((p) => readFileSync(p, 'utf8'))).toEqual(['new a\n', 'new b\n', 'new c\n']);
    expect(statSync(a).mode & 0o777).toBe(0o600);
    expect(lstatSync(join(dir, 'link.cfg')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, 'real', 'c.cfg'), 'utf8')).toBe('new link\n');
    await staged[4]!.staged.discard();
    expect(readdirSync(dir).sort()).toEqual(['a.map', 'b.map', 'c.cfg', 'link.cfg', 'real']);
    expect(readdirSync(join(dir, 'real'))).toEqual(['c.cfg']);
  });

  it('a rename failing mid-way puts back the files already replaced: the very same files, and a new one is removed', async () => {
    const { dir, a, b, c, files, inode } = change();
    const before = { a: inode(a), c: inode(c) };
    const error = await failure(commitStaged(await stageEach(files), failing(c)));
    expect(error.code).toBe('INSTALL_FAILED');
    expect(error.message).toBe(`cannot install ${c} (EIO); every file is as it was (${a}, ${b} put back)`);
    expect(readFileSync(a, 'utf8')).toBe('old a\n');
    expect({ a: inode(a), c: inode(c) }).toEqual(before);
    expect(statSync(a).mode & 0o777).toBe(0o600);
    expect(existsSync(b)).toBe(false);
    expect(readFileSync(c, 'utf8')).toBe('old c\n');
    expect(readdirSync(dir).sort()).toEqual(['a.map', 'c.cfg']);
  });

  it('a change of one file alone keeps no way back (its rename is all or none), and a failed rename still changes nothing', async () => {
    const { dir, c, files } = change();
    const links: string[] = [];
    const calls = failing(c);
    calls.link = async (from, to) => {
      links.push(from);
      await link(from, to);
    };
    const [, , one] = files;
    const error = await failure(commitStaged(await stageEach([one!]), calls));
    expect(error.message).toBe(`cannot install ${c} (EIO); no file was changed`);
    expect(readFileSync(c, 'utf8')).toBe('old c\n');
    expect(await commitStaged(await stageEach([one!]), { ...calls, rename })).toEqual(['written']);
    expect(readFileSync(c, 'utf8')).toBe('new c\n');
    expect(links).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(['a.map', 'c.cfg']);
    // Files of one change together: each that exists keeps its way back, and a failed rename puts them back.
    const { a } = change();
    await failure(
      commitStaged(
        await stageEach([
          { path: a, content: 'newer a\n' },
          { path: c, content: 'newer c\n' },
        ]),
        calls,
      ),
    );
    expect(links).toEqual([a, c]);
    expect([readFileSync(a, 'utf8'), readFileSync(c, 'utf8')]).toEqual(['old a\n', 'new c\n']);
  });

  it('the first rename failing changes nothing', async () => {
    const { dir, a, files } = change();
    const error = await failure(commitStaged(await stageEach(files), failing(a)));
    expect(error.message).toBe(`cannot install ${a} (EIO); no file was changed`);
    expect(readdirSync(dir).sort()).toEqual(['a.map', 'c.cfg']);
  });

  it('where the file system refuses hard links, the way back is a copy of the old bytes, mode included', async () => {
    const { dir, a, c, files } = change();
    const calls = failing(c);
    calls.link = () => Promise.reject(Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' }));
    await failure(commitStaged(await stageEach(files), calls));
    expect(readFileSync(a, 'utf8')).toBe('old a\n');
    expect(statSync(a).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['a.map', 'c.cfg']);
  });

  it('a file that cannot be put back either (its second rename fails) is named, with the new version it holds', async () => {
    const { dir, a, b, c, files } = change();
    const error = await failure(commitStaged(await stageEach(files), failing(c, [a, 2])));
    expect(error.message).toBe(`cannot install ${c} (EIO); ${a} could not be put back and holds the new version; every other file is as it was`);
    expect((error as InstallFailure).notPutBack).toEqual([a]);
    expect(readFileSync(a, 'utf8')).toBe('new a\n');
    expect(existsSync(b)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['a.map', 'c.cfg']);
  });

  it('kill -9 between two renames leaves only what removeStaleTemps takes at the next start', async () => {
    const { dir, a, b, c } = change();
    // A separate process stages the three files and is killed as it renames the second one.
    const script = [
      `import { commitStaged } from './src/install/commit.ts';`,
      `import { stageEach } from './src/install/stage.ts';`,
      `import { link, rename } from 'node:fs/promises';`,
      `const files = ${JSON.stringify([a, b, c])}.map((path) => ({ path, content: 'new\\n' }));`,
      `const kill = async (from, to) => (to === ${JSON.stringify(b)} ? process.kill(process.pid, 'SIGKILL') : rename(from, to));`,
      `await commitStaged(await stageEach(files), { link, rename: kill });`,
    ].join('\n');
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(run.signal, run.stderr).toBe('SIGKILL');
    const left = readdirSync(dir).filter((entry) => entry.endsWith('.tmp'));
    expect(left).toHaveLength(4); // b's and c's staged copies, a's and c's backups
    const removed = await Promise.all([a, b, c].map((path) => removeStaleTemps(path)));
    expect(removed.flat()).toHaveLength(4);
    expect(readdirSync(dir).sort()).toEqual(['a.map', 'c.cfg']);
  });
});
