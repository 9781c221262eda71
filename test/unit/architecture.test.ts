import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

const SRC = join(ROOT, 'src');

/** Every source file and the source files it imports (static imports, `import type` and `import()` alike). */
function importGraph(): Map<string, string[]> {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) files.push(path);
    }
  };
  walk(SRC);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/(?:^import[^'"]*?from\s+|^export[^'"]*?from\s+|import\()\s*'(\.[^']+)'/gm)].map((m) => m[1]!);
    graph.set(
      relative(SRC, file),
      specs.map((s) => relative(SRC, resolve(dirname(file), s.replace(/\.js$/, '.ts')))),
    );
  }
  return graph;
}

const graph = importGraph();
const folder = (file: string) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : '.');

describe('the shape of src/', () => {
  it('has no import cycle, type-only imports included', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') return void cycles.push([...path.slice(path.indexOf(file)), file].join(' → '));
      state.set(file, 'open');
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('keeps its rooms apart: the store, the templates and HAProxy know nothing of each other, and nothing but the CLI knows the commands', () => {
    const apart = new Set(['kv', 'template', 'haproxy']);
    const crossings = [...graph].flatMap(([file, imports]) =>
      imports
        .filter(
          (to) =>
            (apart.has(folder(file)) && apart.has(folder(to)) && folder(file) !== folder(to)) ||
            (folder(to) === 'commands' && folder(file) !== 'commands' && file !== 'cli.ts'),
        )
        .map((to) => `${file} → ${to}`),
    );
    expect(crossings).toEqual([]);
  });

  it('installs in one place: src/install knows no HAProxy, loop or command (its check is handed in), and render and watch both use it', () => {
    const install = [...graph].filter(([file]) => folder(file) === 'install');
    expect(install.map(([file]) => file)).toContain('install/install.ts');
    const crossings = install.flatMap(([file, imports]) =>
      imports.filter((to) => !['install', 'util', 'plan', '.'].includes(folder(to))).map((to) => `${file} → ${to}`),
    );
    expect(crossings).toEqual([]);
    // render and watch both install through it; nothing else renames files into place.
    const users = [...graph].filter(([, imports]) => imports.includes('install/install.ts')).map(([file]) => file);
    expect(users.sort()).toEqual(['commands/render.ts', 'watch/installer.ts']);
  });

  it('plans without I/O: src/plan imports no file, network or process module', () => {
    const io = [...graph.keys()]
      .filter((file) => folder(file) === 'plan')
      .filter((file) => /from 'node:(fs|net|http|https|child_process)/.test(readFileSync(join(SRC, file), 'utf8')));
    expect(io).toEqual([]);
  });

  it('decides runtime or reload in one place: only src/plan/plan.ts makes a runtime or reload change', () => {
    // src/haproxy says what the runtime API can express (a config diff, drift); deciding is the planner's.
    const deciders = [...graph.keys()]
      .filter((file) => folder(file) !== 'haproxy')
      .filter((file) => /kind: '(runtime|reload)',/.test(readFileSync(join(SRC, file), 'utf8')));
    expect(deciders).toEqual(['plan/plan.ts']);
  });

  it('finds what it checks (the graph is not empty)', () => {
    expect(graph.get('watch/watcher.ts')).toContain('plan/plan.ts');
  });
});
