import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageVersion } from '../../src/paths.js';
import { ROOT } from '../support/cli.js';
import { makeTempDir } from '../support/temp.js';

/**
 * The package as a user gets it: `npm pack` of this clone, installed into a temp prefix the way
 * the README's Install section says, then run from the installed bin.
 */
describe('the packed package', () => {
  it('installs without a build or an install-script warning, holds what runs, and renders', () => {
    const dir = makeTempDir();
    // Packed from a copy: `npm pack` builds, and the other tests run the clone's own dist/ meanwhile.
    const clone = join(dir, 'clone');
    cpSync(ROOT, clone, { recursive: true, filter: (path) => !/\/(node_modules|\.git|dist)$/.test(path) });
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
    const version = packageVersion();
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: clone, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    ) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    const files = packed[0]!.files.map((f) => f.path).sort();
    expect(files).toEqual([
      'CHANGELOG.md',
      'LICENSE',
      'README.md',
      'bin/occs-lb.js',
      'dist/cli.cjs',
      'dist/cli.cjs.map',
      'dist/occs-lb.1',
      'dist/occs-lb.schema.json',
      'package.json',
      'templates/haproxy.cfg.ejs',
      'templates/stack.cfg.ejs',
    ]);
    // The source map carries its sources: nothing it names is missing from the package.
    const map = JSON.parse(
      execFileSync('tar', ['-xzOf', join(dir, packed[0]!.filename), 'package/dist/cli.cjs.map'], { encoding: 'utf8', maxBuffer: 64 << 20 }),
    ) as {
      sources: string[];
      sourcesContent?: string[];
    };
    expect(map.sourcesContent?.length).toBe(map.sources.length);
    expect(map.sourcesContent!.every((text) => typeof text === 'string' && text.length > 0)).toBe(true);
    // The clone's package.json is as it was (pack takes the build script out of the tarball only).
    expect(readFileSync(join(clone, 'package.json'), 'utf8')).toBe(readFileSync(join(ROOT, 'package.json'), 'utf8'));

    const prefix = join(dir, 'prefix');
    const install = spawnSync('npm', ['install', '-g', '--prefix', prefix, join(dir, packed[0]!.filename)], { encoding: 'utf8' });
    expect(install.status, install.stderr).toBe(0);
    expect(`${install.stdout}${install.stderr}`).not.toMatch(/install-scripts|prepare|esbuild|tsc/);
    const installed = JSON.parse(readFileSync(join(prefix, 'lib/node_modules/occs-lb/package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
    };
    expect(installed.scripts.prepare).toBeUndefined();
    expect(Object.keys(installed.dependencies).sort()).toEqual(['cosmiconfig', 'ora', 'zod']);

    const bin = join(prefix, 'bin/occs-lb');
    expect(execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()).toBe(version);
    const rendered = execFileSync(bin, ['render', '--kv', `file:${join(ROOT, 'examples/kv.properties')}`, '--prefix', 'apps/myapp/containers'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect(rendered).toContain('    server one 10.9.1.1:32001 check');

    // From a clone, `npm install -g .` (what `npm link` does too): the clone's bin on PATH.
    const linked = join(dir, 'linked');
    const fromClone = spawnSync('npm', ['install', '-g', '--prefix', linked, '.'], { cwd: clone, encoding: 'utf8' });
    expect(fromClone.status, fromClone.stderr).toBe(0);
    expect(execFileSync(join(linked, 'bin/occs-lb'), ['--version'], { encoding: 'utf8' }).trim()).toBe(version);

    // As a git dependency: npm clones it, installs its development dependencies and builds it.
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@localhost', ...args], { cwd: clone, stdio: 'ignore' });
    git('init', '-q');
    writeFileSync(join(clone, '.git/info/exclude'), 'node_modules\n'); // the symlink too: npm installs its own
    git('add', '-A');
    git('commit', '-qm', 'the clone');
    const project = join(dir, 'project');
    const dependency = spawnSync('npm', ['install', '--prefix', project, `git+file://${clone}`], { encoding: 'utf8' });
    expect(dependency.status, dependency.stderr).toBe(0);
    expect(execFileSync(join(project, 'node_modules/.bin/occs-lb'), ['--version'], { encoding: 'utf8' }).trim()).toBe(version);
  }, 240_000);
});
