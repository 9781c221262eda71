import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** An EJS tag: `<% … %>`, `<%= … %>`, `<%- … %>`, with or without `-%>`. */
const TAG = /<%[\s\S]*?%>/g;

/** A template line as a pattern of the lines it can print (its text as written, each tag anything), and how much of it is fixed text. */
function linePattern(line: string): { pattern: RegExp; fixed: number } | undefined {
  const statics = line.split(TAG);
  // A line of tags alone prints nothing of its own (control flow, comments).
  if (statics.join('').trim() === '' || /<%|%>/.test(statics.join(''))) return undefined;
  const escaped = statics.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return { pattern: new RegExp(`^${escaped.join('.*?')}$`), fixed: statics.join('').length };
}

/**
 * The line of a template that printed a line of its output: of the template lines that could
 * have (their text as written matches, their tags standing for anything), the one with the most
 * fixed text, when no other has as much. HAProxy names a line of the rendered config, and the
 * user edits the template.
 */
export function templateLineOf(source: string, printed: string): number | undefined {
  const target = printed.replace(/\s+$/, '');
  let best: { line: number; fixed: number } | undefined;
  let tied = false;
  for (const [i, line] of source.split('\n').entries()) {
    const made = linePattern(line.replace(/\s+$/, ''));
    if (!made?.pattern.test(target)) continue;
    if (best && made.fixed === best.fixed) tied = true;
    else if (!best || made.fixed > best.fixed) [best, tied] = [{ line: i + 1, fixed: made.fixed }, false];
  }
  return best && !tied ? best.line : undefined;
}

/**
 * Where a line of a config rendered from `template` comes from, as messages name it
 * (`haproxy.cfg.ejs:37`), or undefined when the template cannot be read or no single line made it.
 */
export function templateOrigin(template: string, rendered: string): (line: number) => string | undefined {
  // Read and split once, when a message first asks (HAProxy may name many lines, or none).
  let read: { source: string; printed: string[] } | null | undefined;
  return (line) => {
    if (read === undefined) {
      try {
        read = { source: readFileSync(template, 'utf8'), printed: rendered.split('\n') };
      } catch {
        read = null;
      }
    }
    const printed = read?.printed[line - 1];
    const at = printed === undefined ? undefined : templateLineOf(read!.source, printed);
    return at === undefined ? undefined : `${basename(template)}:${at}`;
  };
}
