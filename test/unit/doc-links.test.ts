import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

/** The Markdown files a reader follows links in: the README, the changelog, docs/ and the examples' READMEs. */
function markdownFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : name.endsWith('.md') ? [path] : [];
    });
  const roots = ['docs', 'examples'].map((d) => join(ROOT, d)).filter(existsSync);
  return [join(ROOT, 'README.md'), join(ROOT, 'CHANGELOG.md'), ...roots.flatMap(walk)].filter(existsSync);
}

/** GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, each space a `-`. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown file's headings (outside code blocks), with GitHub's -1, -2 for repeats. */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = !fenced && /^#{1,6} (.+)$/.exec(line);
    if (!m) continue;
    const base = anchorOf(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Every relative link of a Markdown file (outside code), as written: `path`, `path#anchor` or `#anchor`. */
function linksOf(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/.test(l));
}

describe('links in the docs', () => {
  const files = markdownFiles();

  it('finds the files', () => {
    expect(files.map((f) => relative(ROOT, f))).toContain('README.md');
  });

  it.each(files.map((f) => [relative(ROOT, f), f] as const))('every relative link and anchor of %s leads somewhere', (_, file) => {
    const broken: string[] = [];
    for (const link of linksOf(readFileSync(file, 'utf8'))) {
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path === '' ? file : join(dirname(file), path);
      if (!existsSync(target)) broken.push(`${link}: no such file`);
      else if (anchor !== undefined && target.endsWith('.md') && !anchorsOf(readFileSync(target, 'utf8')).has(anchor)) broken.push(`${link}: no such heading`);
    }
    expect(broken).toEqual([]);
  });

  it("makes GitHub's anchors", () => {
    expect(anchorOf('Whole stack: every app behind one HAProxy (`--stack`)')).toBe('whole-stack-every-app-behind-one-haproxy---stack');
    expect(anchorOf('HTTPS')).toBe('https');
    expect([...anchorsOf('# A\n## A\n```\n# B\n```\n')]).toEqual(['a', 'a-1']);
  });
});
