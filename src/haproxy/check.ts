import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { OccsError, rejectedError, systemErrorCode } from '../errors.js';
import { crtListNaming } from '../util/crt-list.js';
import { maskEcho } from '../util/redact.js';
import { runCommand } from '../util/run.js';
import { isSummary, parseHaproxyMessages, type HaproxyMessage } from './messages.js';

export interface CheckResult {
  /** HAProxy's own verdict: exit status 0. Warnings may still be present. */
  valid: boolean;
  messages: HaproxyMessage[];
  output: string;
}

/** The niceness of a check off the serving path (a runtime change's file): it yields the CPU to HAProxy and to the next change. */
export const BACKGROUND_NICE = 10;

/**
 * Runs `haproxy -c -f FILE` (the real binary) and reads its verdict and messages. A binary that
 * cannot be run at all is a usage error (exit 2), not a verdict on the file.
 */
export async function checkConfigFile(binary: string, file: string, timeoutMs = 30_000, nice = 0): Promise<CheckResult> {
  const result = await runCommand(binary, ['-c', '-f', file], { timeoutMs, nice }).catch((error: unknown) => {
    throw new OccsError('HAPROXY_UNRUNNABLE', `cannot run ${binary} to check the config (${systemErrorCode(error) ?? String(error)})`, {
      hint: 'install HAProxy, or point --haproxy at its executable',
      cause: error,
    });
  });
  const output = result.output;
  const messages = parseHaproxyMessages(output);
  if (result.timedOut) messages.push({ level: 'alert', message: `haproxy -c did not finish within ${timeoutMs}ms` });
  return { valid: result.exitCode === 0 && !result.timedOut, messages, output };
}

/**
 * `haproxy -c` on a text (through a temp file of its own): what `validate` checks. `files`: the
 * files it reads (map files, HTTPS's crt-list and bundles), written beside the temp copy (in a
 * directory only we may enter, each 0600: a bundle holds a private key), which reads them there
 * instead; the crt-list names the bundles' copies.
 */
export async function checkConfigText(
  binary: string,
  text: string,
  files: ReadonlyArray<{ path: string; text: string; kind?: string }> = [],
): Promise<{ result: CheckResult; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'occs-lb-check-'));
  const file = join(dir, 'haproxy.cfg');
  try {
    const copies = new Map(files.map((f, i) => [f.path, join(dir, `${i}-${basename(f.path)}`)]));
    let checked = text;
    for (const f of files) {
      const copy = copies.get(f.path)!;
      await writeFile(copy, f.kind === 'crt-list' ? crtListNaming(f.text, copies) : f.text, { mode: 0o600 });
      // The config names its maps and crt-list; only the crt-list names bundles.
      if (f.kind !== 'cert') checked = checked.split(f.path).join(copy);
    }
    await writeFile(file, checked);
    return { result: await checkConfigFile(binary, file), file };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Lines `line - 2 … line + 2` of a config, the named one marked (given a column, a caret under it). A config holds secrets (the stats
 * password): each line is masked as an echo, the line numbers are ours.
 */
export function configContext(text: string, line: number, column?: number): string {
  const lines = text.split('\n');
  const out: string[] = [];
  for (let n = Math.max(1, line - 2); n <= Math.min(lines.length, line + 2); n++) {
    out.push(`${n === line ? '>>' : '  '} ${String(n).padStart(4)} | ${maskEcho(lines[n - 1]!)}`);
    // The caret keeps the line's tabs, so it stands under its character however tabs are shown.
    if (n === line && column !== undefined) out.push(`        | ${lines[n - 1]!.slice(0, column - 1).replace(/[^\t]/g, ' ')}^`);
  }
  return out.join('\n');
}

/** What a check is about: the file HAProxy read, the name to show for it, its text, and what it means. */
export interface Checked {
  /** The file given to `haproxy -c` (maybe a staged copy). */
  file: string;
  /** How the user knows it: "the new config of /etc/haproxy/haproxy.cfg", say. */
  shownAs: string;
  text: string;
  /** What follows from a rejection, e.g. "nothing was reloaded". */
  consequence?: string;
  hint: string;
  /** The template line that printed a line of `text` (`haproxy.cfg.ejs:37`), when known: the user edits the template. */
  origin?: (line: number) => string | undefined;
}

/**
 * The one place a rejection by `haproxy -c` becomes an error (exit 5): the first ALERT, at the
 * line of the config it names (shown with the lines around it), the file called as the user
 * knows it, not by a temp path.
 */
export function configRejected(result: CheckResult, checked: Checked): OccsError {
  const alert = result.messages.find((m) => m.level === 'alert' && !isSummary(m));
  const line = alert?.file === checked.file ? alert.line : undefined;
  // HAProxy may quote the config (and its secrets); the name it is known by is ours, left whole.
  const said = alert ? echoNaming(alert.message, checked.file, checked.shownAs) : "see HAProxy's output";
  return rejectedError(
    'CONFIG_REJECTED',
    `haproxy -c rejected ${checked.shownAs}${line ? ` at line ${line}${fromTemplate(checked, line)}` : ''}: ${said}${checked.consequence ? `; ${checked.consequence}` : ''}`,
    {
      hint: checked.hint,
      detail: line ? configContext(checked.text, line) : undefined,
    },
  );
}

/** ` (from template haproxy.cfg.ejs:37)` when the caller knows which template line printed `line`. */
function fromTemplate(checked: Checked, line: number): string {
  const origin = checked.origin?.(line);
  return origin ? ` (from template ${origin})` : '';
}

/** HAProxy's `message` masked as an echo, with `file` (a temp path) called `shownAs`, which is not masked. */
export function echoNaming(message: string, file: string, shownAs: string): string {
  return message.split(file).map(maskEcho).join(shownAs);
}
