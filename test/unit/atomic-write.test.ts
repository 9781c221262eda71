import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/util/atomic-write.js';
import { makeTempDir } from '../support/temp.js';

describe('writeFileAtomic', () => {
  it('creates, replaces, keeps the mode, reports unchanged content and leaves no temp file', async () => {
    const dir = makeTempDir();
    const file = join(dir, 'haproxy.cfg');
    expect(await writeFileAtomic(file, 'one\n')).toBe('written');
    chmodSync(file, 0o600);
    const before = statSync(file);
    expect(await writeFileAtomic(file, 'one\n')).toBe('unchanged');
    expect(statSync(file).mtimeMs).toBe(before.mtimeMs);
    expect(await writeFileAtomic(file, 'two\n')).toBe('written');
    expect(readFileSync(file, 'utf8')).toBe('two\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['haproxy.cfg']);
  });

  it('a concurrent reader only ever sees the old file or the complete new one', async () => {
    const dir = makeTempDir();
    const file = join(dir, 'haproxy.cfg');
    const versions = ['a', 'b', 'c', 'd'].map((c) => `${c.repeat(1 << 20)}\n`);
    writeFileSync(file, versions[0]!);
    let reading = true;
    const seen = new Set<string>();
    const reader = (async () => {
      while (reading) {
        const text = readFileSync(file, 'utf8');
        seen.add(versions.includes(text) ? text[0]! : `torn:${text.length}`);
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let round = 0; round < 5; round++) for (const v of versions) await writeFileAtomic(file, v);
    reading = false;
    await reader;
    expect([...seen].filter((s) => s.startsWith('torn'))).toEqual([]);
    expect(seen.size).toBeGreaterThan(0);
  });

  it('large files written at once, larger then smaller, each holds its own bytes and no more (the buffer they are encoded into is kept for the next)', async () => {
    const dir = makeTempDir();
    const big = (c: string, kib: number) => `# ${c} é ✓\n${`${c.repeat(63)}\n`.repeat(kib * 16)}`;
    const texts = { a: big('a', 900), b: big('b', 300), c: big('c', 70), d: 'small\n' };
    await Promise.all(Object.entries(texts).map(([name, text]) => writeFileAtomic(join(dir, name), text)));
    for (const [name, text] of Object.entries(texts)) expect(readFileSync(join(dir, name), 'utf8') === text, name).toBe(true);
    // Many at once, each encoded while others are being written: none takes another's buffer.
    const many = 'efghijklmnop'.split('').map((c) => [c, big(c, 200)] as const);
    for (let round = 0; round < 3; round++) await Promise.all(many.map(([name, text]) => writeFileAtomic(join(dir, name), text)));
    for (const [name, text] of many) expect(readFileSync(join(dir, name), 'utf8') === text, name).toBe(true);
    // One at a time, shrinking: a kept buffer larger than the text leaves nothing of the last file in this one.
    for (const [name, text] of [
      ['a', texts.b],
      ['b', texts.c],
      ['c', big('z', 65)],
    ] as const) {
      await writeFileAtomic(join(dir, name), text);
      expect(readFileSync(join(dir, name), 'utf8') === text, name).toBe(true);
    }
    // Characters of several bytes, larger than any buffer kept: more bytes than characters, counted and encoded again.
    for (const text of [`${'é✓😀'.repeat(300_000)}\n`, big('x', 80).replace(/x/g, 'ü')]) {
      await writeFileAtomic(join(dir, 'a'), text);
      expect(readFileSync(join(dir, 'a'), 'utf8') === text).toBe(true);
      expect(await writeFileAtomic(join(dir, 'a'), text)).toBe('unchanged');
    }
    expect(readdirSync(dir).sort()).toEqual('abcdefghijklmnop'.split(''));
  });
});

describe('writeFileAtomic and symlinks', () => {
  it('writes through a symlink: the link stays, its target gets the content', async () => {
    const { lstatSync, symlinkSync, mkdirSync } = await import('node:fs');
    const dir = makeTempDir();
    mkdirSync(join(dir, 'real'));
    writeFileSync(join(dir, 'real', 'haproxy.cfg'), 'old\n');
    symlinkSync('real/haproxy.cfg', join(dir, 'link.cfg'));
    expect(await writeFileAtomic(join(dir, 'link.cfg'), 'new\n')).toBe('written');
    expect(lstatSync(join(dir, 'link.cfg')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, 'real', 'haproxy.cfg'), 'utf8')).toBe('new\n');
    expect(readdirSync(join(dir, 'real'))).toEqual(['haproxy.cfg']);
  });
});

describe('stageFile: a file known to hold the content already', () => {
  it('is unchanged while nothing touched it; an edit of the same size since (even with its mtime put back) is seen and undone', async () => {
    const { stageFile } = await import('../../src/util/atomic-write.js');
    const { execFileSync } = await import('node:child_process');
    const dir = makeTempDir();
    const file = join(dir, 'haproxy.cfg');
    const content = `global\n${'# line\n'.repeat(20_000)}`;
    writeFileSync(file, content);
    // Read once, found the same: unchanged, and again with nothing touched.
    for (let i = 0; i < 2; i++) expect(await (await stageFile(file, content)).commit()).toBe('unchanged');
    // Someone edits it, same size, and puts its mtime back: its ctime still changed.
    const times = join(dir, 'times');
    writeFileSync(times, '');
    execFileSync('touch', ['-r', file, times]); // to the nanosecond
    writeFileSync(file, content.replace('global', 'GLOBAL'));
    execFileSync('touch', ['-r', times, file]);
    expect(statSync(file, { bigint: true }).mtimeNs).toBe(statSync(times, { bigint: true }).mtimeNs);
    const staged = await stageFile(file, content);
    expect(staged.temp).toBeDefined();
    expect(await staged.commit()).toBe('written');
    expect(readFileSync(file, 'utf8') === content).toBe(true);
    // A different content of the same size is never taken for the one known.
    const other = content.replace('global', 'GLOBAL');
    expect(await (await stageFile(file, other)).commit()).toBe('written');
    expect(readFileSync(file, 'utf8') === other).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['haproxy.cfg', 'times']);
  });
});

describe("stageFile from pieces (a patched config's sections)", () => {
  it('writes the pieces one after another, counts their bytes one by one (é is two), and finds a file that holds them unchanged', async () => {
    const { stageFile } = await import('../../src/util/atomic-write.js');
    const dir = makeTempDir();
    const file = join(dir, 'haproxy.cfg');
    const pieces = ['global\n', `backend café\n${'    server s 10.0.0.1:80\n'.repeat(5000)}`, 'backend b\n'];
    expect(await (await stageFile(file, pieces)).commit()).toBe('written');
    expect(readFileSync(file, 'utf8') === pieces.join('')).toBe(true);
    expect(await (await stageFile(file, pieces)).commit()).toBe('unchanged');
    expect(await (await stageFile(file, pieces.join(''))).commit()).toBe('unchanged');
    // The same size, another content: written.
    const other = [...pieces.slice(0, 2), 'backend c\n'];
    expect(await (await stageFile(file, other)).commit()).toBe('written');
    expect(readFileSync(file, 'utf8') === other.join('')).toBe(true);
    expect(readdirSync(dir)).toEqual(['haproxy.cfg']);
  });
});

describe('stageCheckCopy', () => {
  it('writes the pieces one after another beside the file, for a check; it is never installed, and discard removes it', async () => {
    const { stageCheckCopy } = await import('../../src/util/atomic-write.js');
    const dir = makeTempDir();
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, 'installed\n');
    const pieces = ['a'.repeat(70_000), '/tmp/x.map', 'é\n', 'b'.repeat(100)];
    const copy = await stageCheckCopy(file, pieces);
    expect(readFileSync(copy.temp!, 'utf8') === pieces.join('')).toBe(true);
    await expect(copy.commit()).rejects.toThrow(/never installed/);
    await copy.discard();
    expect(readdirSync(dir)).toEqual(['haproxy.cfg']);
    expect(readFileSync(file, 'utf8')).toBe('installed\n');
  });
});
