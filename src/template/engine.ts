import { readFile } from 'node:fs/promises';
import vm from 'node:vm';
import ejs from 'ejs';
import { declaredLocals } from './declared-locals.js';
import { OccsError, rejectedError, systemErrorCode, templateError } from '../errors.js';
import { maskEcho } from '../util/redact.js';
import { unsafeCharacterReason } from '../values/server.js';
import { holdsPrivateKey } from '../values/shown.js';

/** Thrown by `<%= %>` for a value that could break out of its place in the config. */
export class UnsafeValueError extends Error {
  constructor(
    readonly value: string,
    readonly reason: string,
  ) {
    super(`value ${reason}`);
    this.name = 'UnsafeValueError';
  }
}

/**
 * `<%= %>` prints one config word: no HTML escaping (wrong for haproxy.cfg), and a value with a
 * line break, control character, whitespace, `#`, `;`, `$`, a quote or a backslash is refused,
 * so a key/value entry can never add a directive or an argument. `<%- %>` stays raw.
 */
export function configWord(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = wordText(value);
  const reason = unsafeCharacterReason(text);
  if (reason) throw new UnsafeValueError(text, reason);
  return text;
}

/**
 * The text of a printed value: strings, numbers and booleans as they are; an object as its JSON
 * (which the word check then refuses), not "[object Object]"; a function is refused outright.
 */
function wordText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'object') return JSON.stringify(value);
  throw new UnsafeValueError(`(${typeof value})`, `is a ${typeof value}, not a value`);
}

export interface CompiledTemplate {
  path: string;
  text: string;
  fn: (locals: object) => string;
}

export async function loadTemplate(path: string): Promise<CompiledTemplate> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = systemErrorCode(error);
    throw templateError(`template ${path} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}`, {
      hint: 'fix --template or the resource\'s "template" setting',
      cause: error,
    });
  }
  return compileTemplate(text, path);
}

export function compileTemplate(text: string, path: string): CompiledTemplate {
  const options = { escape: configWord, compileDebug: true };
  const template = new ejs.Template(text, options);
  try {
    const withForm = template.compile() as (locals: object) => string;
    return { path, text, fn: declaredLocals(text, options, withForm) };
  } catch (error) {
    const braces = error instanceof SyntaxError ? unbalancedBrace(template.source) : undefined;
    const line = braces?.line ?? (error instanceof SyntaxError ? syntaxErrorLine(template.source) : unclosedTagLine(text));
    throw templateError(`template ${path}:${line ?? '?'}: ${braces?.problem ?? firstLine(error)}`, {
      detail: line ? context(text, line) : undefined,
      hint: 'fix the template',
      cause: error,
    });
  }
}

/**
 * Runs a compiled template. Errors come back naming the template's file and line; a value refused
 * by `<%= %>` is a rejected config (exit 5) naming the keys that hold it.
 */
export function renderTemplate(template: CompiledTemplate, locals: object, keysHolding: (value: string) => string[]): string {
  try {
    return template.fn(locals);
  } catch (thrown) {
    const { line, message } = splitEjsMessage(thrown);
    const where = `template ${template.path}:${line ?? '?'}`;
    const detail = line ? context(template.text, line) : undefined;
    if (thrown instanceof UnsafeValueError) {
      const keys = keysHolding(thrown.value);
      const of = keys.length > 0 ? `the value of ${keys.join(', ')}` : 'a value';
      return rejectedOnValue(where, of, thrown, detail);
    }
    if (thrown instanceof OccsError) {
      throw new OccsError(thrown.code, `${where}: ${message}`, { hint: thrown.hint, detail, cause: thrown });
    }
    throw templateError(`${where}: ${message}`, { hint: 'fix the template', detail, cause: thrown });
  }
}

function rejectedOnValue(where: string, of: string, error: UnsafeValueError, detail?: string): never {
  const value = holdsPrivateKey(error.value) ? '(a private key, not shown)' : error.value;
  const shown = JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  throw rejectedError('VALUE_REFUSED', `${where} refused to print ${of} ${shown}: it ${error.reason}`, {
    hint: 'a key/value entry may never add config: fix the entry, or print servers through servers(), which skips bad entries',
    detail,
  });
}

/** EJS prefixes runtime errors with "ejs:LINE" and a context block; take them apart again. */
function splitEjsMessage(thrown: unknown): { line?: number; message: string } {
  const text = thrown instanceof Error ? thrown.message : String(thrown);
  const match = /^ejs:(\d+)\n[\s\S]*?\n\n([\s\S]*)$/.exec(text);
  return match ? { line: Number(match[1]), message: match[2]! } : { message: text };
}

/** A compile error's template line: where V8 stops parsing EJS's generated code, mapped back. */
function syntaxErrorLine(source: string): number | undefined {
  try {
    new vm.Script(`(function (locals, escapeFn, include, rethrow) {\n${source}\n})`, { filename: 'ejs-template' });
    return undefined;
  } catch (error) {
    const generatedLine = Number(/^ejs-template:(\d+)/.exec(String((error as Error).stack))?.[1]);
    if (!generatedLine) return undefined;
    const before = source.split('\n').slice(0, generatedLine - 1);
    for (let i = before.length - 1; i >= 0; i--) {
      const marker = /; __line = (\d+)/.exec(before[i]!);
      if (marker) return Number(marker[1]);
    }
    return 1;
  }
}

/**
 * V8 reports a brace too many or too few where parsing finally fails, often the end of the
 * template. Counting braces in the scriptlets finds the line that caused it: where the depth
 * first drops below zero, or where the first block still open at the end was opened.
 */
function unbalancedBrace(source: string): { line: number; problem: string } | undefined {
  let line = 1;
  const open: number[] = [];
  for (const generated of source.split('\n')) {
    const marker = /^\s*; __line = (\d+)$/.exec(generated);
    if (marker) {
      line = Number(marker[1]);
      continue;
    }
    if (!/^\s*; (?!__append\()/.test(generated)) continue;
    const code = generated.replace(/(["'`])(?:\\.|(?!\1).)*\1/g, '');
    for (const c of code) {
      if (c === '{') open.push(line);
      else if (c === '}' && open.pop() === undefined) return { line, problem: 'this "}" closes a block that was never opened' };
    }
  }
  return open.length > 0 ? { line: open[0]!, problem: 'the "{" on this line is never closed' } : undefined;
}

/** The line of the first `<%` that has no `%>`. */
function unclosedTagLine(text: string): number | undefined {
  let open: number | undefined;
  for (const match of text.matchAll(/<%%|%%>|<%[_=\-#]?|[-_]?%>/g)) {
    if (match[0] === '<%%' || match[0] === '%%>') continue;
    if (match[0].startsWith('<')) {
      if (open !== undefined) break;
      open = match.index;
    } else open = undefined;
  }
  return open === undefined ? undefined : text.slice(0, open).split('\n').length;
}

/**
 * Lines `line - 2 … line + 2` of a template, the named one marked. A template may hold a secret
 * written down: each line is masked as an echo, the line numbers are ours.
 */
function context(text: string, line: number): string {
  const lines = text.split('\n');
  const from = Math.max(1, line - 2);
  const to = Math.min(lines.length, line + 2);
  const out: string[] = [];
  for (let n = from; n <= to; n++) out.push(`${n === line ? '>>' : '  '} ${String(n).padStart(4)} | ${maskEcho(lines[n - 1]!)}`);
  return out.join('\n');
}

const firstLine = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0]!.replace(/ while compiling ejs$/, '');
