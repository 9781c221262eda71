import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';
import { commandsOf, docCommands, type DocEntry } from '../support/doc-blocks.js';
import { FILE_STORE_LINES, RUN } from '../support/doc-table.js';

/**
 * Every command of every ```sh/bash/console block of README.md, docs/*.md and examples/*\/README.md
 * runs in a test (FILE_STORE_LINES and RUN, test/support/doc-table.ts), or is in this table with
 * why it cannot run here and what is checked instead. A new command that is neither fails, and so
 * does an entry (here or in RUN) that no longer names any command.
 */
interface NotRunnable extends DocEntry {
  reason: string;
  /** What is checked instead. */
  check: () => void;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
const script = (name: string) => () => expect(pkg.scripts[name], `npm run ${name}`).toBeDefined();
const exists =
  (...paths: string[]) =>
  () => {
    for (const p of paths) expect(existsSync(join(ROOT, p)), p).toBe(true);
  };

/** The benchmarks test/bench/run.ts knows. */
const benches = [...readFileSync(join(ROOT, 'test/bench/run.ts'), 'utf8').matchAll(/^ {2}'?([\w-]+)'?: \(\) =>/gm)].map((m) => m[1]!);

/** The benches docs/development.md names: its "every figure:" list (parentheses left out) and each `-- NAME`. */
function benchesNamed(): string[] {
  const text = readFileSync(join(ROOT, 'docs/development.md'), 'utf8');
  const comment = /^npm run bench {5}# every figure: ([\s\S]*?);/m.exec(text)![1]!.replace(/\n\s*#/g, ' ');
  const list = comment.replace(/\([^)]*\)/g, '').split(',');
  const dashed = [...text.matchAll(/(?:npm run bench -- |`-- )([\w-]+)/g)].map((m) => m[1]!);
  expect(dashed).toEqual(expect.arrayContaining(['runtime-reuse', 'fleet']));
  return [...list, ...dashed].map((n) => n.trim());
}

const npmTest = 'runs the whole suite, this test among them (and .ci/run runs it)';
const noDocker = 'no docker on this machine (test/e2e/container.test.ts runs the image with its parts instead)';
const noKubectl = 'no kubectl nor cluster here (test/e2e/deploy-examples.test.ts checks the manifests)';

const NOT_RUNNABLE: NotRunnable[] = [
  { page: 'README.md', match: /^npm test$/, reason: npmTest, check: script('test') },
  { page: 'docs/development.md', match: /^npm ci /, reason: 'reinstalls node_modules of the checkout under test', check: exists('package-lock.json') },
  { page: 'docs/development.md', match: /^npm test /, reason: npmTest, check: script('test') },
  {
    page: 'docs/development.md',
    match: /^npm run bench /,
    reason: 'the benchmarks take minutes to hours',
    check: () => {
      script('bench')();
      expect(benchesNamed().filter((name) => !benches.includes(name))).toEqual([]);
      expect(benches.filter((name) => name !== 'fleet' && !benchesNamed().includes(name))).toEqual([]);
    },
  },
  { page: 'docs/containers.md', match: /^docker (build|run) /, reason: noDocker, check: exists('examples/container/Dockerfile') },
  { page: 'examples/kubernetes/README.md', match: /^docker build /, reason: noDocker, check: exists('examples/container/Dockerfile') },
  {
    page: 'examples/kubernetes/README.md',
    match: /^kubectl /,
    reason: noKubectl,
    check: () => {
      const files = commandsOf({ page: 'examples/kubernetes/README.md', match: /^kubectl / }).flatMap((c) => [...c.matchAll(/-f (\S+)/g)].map((m) => m[1]!));
      expect(files.length).toBeGreaterThanOrEqual(4);
      exists(...files)();
    },
  },
];

const RUN_ENTRIES = [FILE_STORE_LINES, ...Object.values(RUN)];
const claims = (entry: DocEntry, command: { page: string; text: string }) =>
  (entry.page === '*' || entry.page === command.page) && entry.match.test(command.text);

describe('the command blocks of the docs', () => {
  const commands = docCommands();

  it('every command is run by a test or is in the not-runnable table, by exactly one entry', () => {
    expect(commands.length).toBeGreaterThan(30);
    const wrong = commands.map((c) => ({ ...c, by: [...RUN_ENTRIES, ...NOT_RUNNABLE].filter((e) => claims(e, c)).length })).filter((c) => c.by !== 1);
    expect(wrong, 'commands run by no test (add a test, or an entry with its reason) or claimed twice').toEqual([]);
  });

  it('every entry names a command still in its page (no stale entry)', () => {
    const stale = [...RUN_ENTRIES, ...NOT_RUNNABLE].filter((e) => !commands.some((c) => claims(e, c)));
    expect(stale).toEqual([]);
  });

  it('every run entry names a test file that runs it', () => {
    for (const [key, entry] of Object.entries({ ...RUN, FILE_STORE_LINES })) {
      const test = readFileSync(join(ROOT, entry.by), 'utf8');
      expect(test.includes(`RUN.${key}`) || test.includes(entry.page) || key === 'FILE_STORE_LINES', `${entry.by} runs ${key}`).toBe(true);
    }
  });

  it.each(NOT_RUNNABLE.map((e) => [`${e.page} ${e.match}`, e] as const))('not runnable here: %s; checked instead', (_, entry) => {
    expect(entry.reason).not.toBe('');
    entry.check();
  });
});
