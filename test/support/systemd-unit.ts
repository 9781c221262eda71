import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitShellWords } from '../../src/util/shell-words.js';
import { BIN } from './cli.js';
import { makeTempDir } from './temp.js';

/** A unit file's directives: `Service.TimeoutStopSec` → its values, in order (Environment= repeats). */
export type Unit = Map<string, string[]>;

/** Parses a unit file's `[Section]` and `Key=value` lines (comments and blank lines aside). */
export function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`not a directive: ${line}`);
    const key = `${section}.${line.slice(0, eq).trim()}`;
    unit.set(key, [...(unit.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return unit;
}

/** The variables the unit's Environment= lines set (words split as systemd splits them, quotes removed). */
export function unitEnvironment(unit: Unit): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of unit.get('Service.Environment') ?? []) {
    for (const assignment of splitShellWords(line) ?? []) {
      const eq = assignment.indexOf('=');
      env.set(assignment.slice(0, eq), assignment.slice(eq + 1));
    }
  }
  return env;
}

/** Whether systemd-analyze is installed (Debian: the systemd package); it needs no running systemd. */
export function hasSystemdAnalyze(): boolean {
  return spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * `systemd-analyze verify` of the unit, saved as occs-lb.service with ExecStart running this
 * clone's bin/occs-lb.js (verify insists that the program exists). verify exits 0 on an unknown
 * directive or a bad value, only warning, so the warnings that name the unit are returned too.
 */
export function verifyUnit(text: string): { status: number | null; complaints: string[] } {
  const file = saveUnit(text);
  const run = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
  const complaints = `${run.stdout}${run.stderr}`.split('\n').filter((line) => line.includes('occs-lb.service'));
  return { status: run.status, complaints };
}

/** `systemd-analyze security --offline`: the overall exposure level, 0 (locked down) to 10 (exposed). */
export function unitExposure(text: string): number {
  const run = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', saveUnit(text)], { encoding: 'utf8' });
  const level = /Overall exposure level for occs-lb\.service: (\d+(?:\.\d+)?)/.exec(run.stdout);
  if (!level) throw new Error(`systemd-analyze security printed no exposure level:\n${run.stdout}${run.stderr}`);
  return Number(level[1]);
}

function saveUnit(text: string): string {
  const file = join(makeTempDir(), 'occs-lb.service');
  writeFileSync(file, text.replace(/^ExecStart=\S+/m, `ExecStart=${BIN}`));
  return file;
}
