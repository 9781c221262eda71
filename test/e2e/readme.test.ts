import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { splitShellWords } from '../../src/util/shell-words.js';
import { ROOT, runCli } from '../support/cli.js';
import { docCommands } from '../support/doc-blocks.js';
import { FILE_STORE_LINES } from '../support/doc-table.js';
import { freePort, waitFor } from '../support/haproxy-process.js';
import { makeTempDir } from '../support/temp.js';

/**
 * Every `npx occs-lb …` command of the docs' command blocks that needs no server (a file: source)
 * runs as written (FILE_STORE_LINES of the table docs-commands.test.ts checks; npm ci aside).
 */
const commands = docCommands()
  .filter((c) => FILE_STORE_LINES.match.test(c.text))
  .map((c) => c.text.replace(/^npm ci && /, ''));

describe('the commands of the README and docs/', () => {
  it('there are some to run', () => {
    expect(commands.length).toBeGreaterThanOrEqual(3);
  });

  it.each(commands)('%s', async (command) => {
    const args = command.replace(/^npx occs-lb /, '').split(/\s+/);
    const result = await runCli(args);
    expect(result.stderr).not.toMatch(/^error:/m);
    expect(result.code).toBe(0);
  });
});

describe('the etcd quick start (docs/getting-started.md)', () => {
  const section = readFileSync(join(ROOT, 'docs/getting-started.md'), 'utf8').split('\n## Trying the live path with etcd\n')[1]!;
  const lines = /```sh\n([\s\S]*?)```/.exec(section)![1]!.trim().split('\n');

  it('runs as written (on free ports and a temp data dir, etcd stopped by pid)', async () => {
    const [client, peer] = [await freePort(), await freePort()];
    const dataDir = join(makeTempDir(), 'etcd');
    const local = (line: string) => line.replaceAll('2379', String(client)).replaceAll('2380', String(peer)).replaceAll('/tmp/occs-lb-etcd', dataDir);
    expect(lines).toHaveLength(3);
    const [etcdLine, putLine, renderLine] = lines.map(local) as [string, string, string];
    expect(etcdLine.endsWith(' &')).toBe(true);
    const [etcd, ...etcdArgs] = splitShellWords(etcdLine.slice(0, -2))!;
    const child = spawn(etcd!, etcdArgs, { stdio: ['ignore', 'ignore', 'pipe'] });
    let said = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (said = (said + chunk).slice(-2000)));
    try {
      const [etcdctl, ...putArgs] = splitShellWords(putLine)!;
      // etcd may take a while to elect itself on a loaded machine; one that exited says why.
      await waitFor(
        'etcdctl put to succeed',
        () => {
          if (child.exitCode !== null) throw new Error(`etcd exited (${child.exitCode}): ${said}`);
          return spawnSync(etcdctl!, putArgs).status === 0 || undefined;
        },
        60_000,
      );
      const result = await runCli(renderLine.replace(/^npx occs-lb /, '').split(/\s+/));
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('    server one 10.9.1.1:32001 check');
    } finally {
      child.kill('SIGTERM');
    }
  }, 90_000);
});
