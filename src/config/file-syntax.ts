import { readFileSync } from 'node:fs';
import { configContext } from '../haproxy/check.js';
import { findJsonProblem } from './json-problem.js';

/** Why a config file does not parse, and where: the words after its name, and its lines around the spot. */
export interface FileSyntaxError {
  what: string;
  context?: string;
}

/**
 * Where and why a JSON or YAML config file does not parse: "is not valid JSON at line 3, column
 * 21: a trailing comma …", with the lines around it and a caret under the column. Undefined when
 * `error` is not a parse error.
 */
export function fileSyntaxError(error: unknown, path: string): FileSyntaxError | undefined {
  const e = error as { name?: string; reason?: string; mark?: { line: number; column: number } };
  const text = readText(path);
  if (e.name === 'YAMLException' && e.reason && e.mark) return located('YAML', text, e.mark.line + 1, e.mark.column + 1, e.reason);
  if (e.name !== 'JSONError' || text === undefined) return undefined;
  const problem = findJsonProblem(text) ?? v8Problem(text);
  if (!problem) return undefined;
  if (problem.offset === undefined) return { what: `is not valid JSON: ${problem.reason}` };
  const before = text.slice(0, problem.offset);
  const line = before.split('\n').length;
  return located('JSON', text, line, problem.offset - before.lastIndexOf('\n'), problem.reason);
}

function located(language: string, text: string | undefined, line: number, column: number, reason: string): FileSyntaxError {
  return {
    what: `is not valid ${language} at line ${line}, column ${column}: ${reason}`,
    context: text === undefined ? undefined : configContext(text, line, column),
  };
}

/**
 * V8's own account, should our reading find nothing wrong: the offset from "at position N" (Node
 * 20 and later) or "(line X column Y)" (Node 22 and later), when it gives one.
 */
function v8Problem(text: string): { offset?: number; reason: string } | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (error) {
    const message = (error as Error).message;
    const reason = message.replace(/ in JSON at position \d+.*$/s, '').replace(/^Unexpected end of JSON input$/, 'the file ends too early');
    const position = /at position (\d+)/.exec(message);
    if (position) return { offset: Number(position[1]), reason };
    const lineColumn = /\(line (\d+) column (\d+)\)/.exec(message);
    if (!lineColumn) return { reason };
    const lineStart = text
      .split('\n')
      .slice(0, Number(lineColumn[1]) - 1)
      .join('\n').length;
    return { offset: lineStart + (lineStart > 0 ? 1 : 0) + Number(lineColumn[2]) - 1, reason };
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
