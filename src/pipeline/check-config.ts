import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfigFile } from '../haproxy/check.js';
import { parseSections, serverCounts } from '../haproxy/config-sections.js';
import { isSummary } from '../haproxy/messages.js';

/** One problem (or warning) found while checking, in the shape `validate --format json` prints. */
export interface Finding {
  source: 'template' | 'kv' | 'min-servers' | 'haproxy' | 'config' | 'reload' | 'internal';
  message: string;
  /** Line in the checked config (the rendered text), when known. */
  line?: number;
  /** The key/value entry concerned, when there is one. */
  key?: string;
  /** A few lines of the config around `line`. */
  context?: string;
}

export interface ConfigCheck {
  backends: Record<string, number>;
  errors: Finding[];
  warnings: Finding[];
}

export interface CheckOptions {
  /** The located haproxy binary; undefined skips `haproxy -c` (--no-haproxy). */
  binary?: string;
  allowWarnings: boolean;
  minServers: number;
}

/** Lines `line - 2 … line + 2` of a config, the named one marked. */
export function configContext(text: string, line: number): string {
  const lines = text.split('\n');
  const out: string[] = [];
  for (let n = Math.max(1, line - 2); n <= Math.min(lines.length, line + 2); n++) {
    out.push(`${n === line ? '>>' : '  '} ${String(n).padStart(4)} | ${lines[n - 1]}`);
  }
  return out.join('\n');
}

/**
 * Checks one HAProxy config text: servers per backend against --min-servers, then the real
 * `haproxy -c` on a temp copy, its messages mapped back to lines of `text`. HAProxy's warnings
 * are errors unless `allowWarnings`.
 */
export async function checkConfigText(text: string, options: CheckOptions): Promise<ConfigCheck> {
  const backends = serverCounts(parseSections(text));
  const errors: Finding[] = [];
  const warnings: Finding[] = [];
  for (const [name, count] of Object.entries(backends)) {
    if (count < options.minServers) {
      errors.push({
        source: 'min-servers',
        message: `backend ${name} has ${count} server${count === 1 ? '' : 's'}, fewer than --min-servers ${options.minServers}`,
      });
    }
  }
  if (!options.binary) return { backends, errors, warnings };

  const dir = await mkdtemp(join(tmpdir(), 'occs-lb-check-'));
  try {
    const file = join(dir, 'haproxy.cfg');
    await writeFile(file, text);
    const result = await checkConfigFile(options.binary, file);
    for (const m of result.messages) {
      if (m.level === 'notice' || isSummary(m)) continue;
      const line = m.file === file ? m.line : undefined;
      // The temp copy's path means nothing to the user: name the config instead.
      const message = `[${m.level.toUpperCase()}] ${m.message.split(file).join('the config')}`;
      const finding: Finding = { source: 'haproxy', message, line, context: line ? configContext(text, line) : undefined };
      (m.level === 'alert' || !options.allowWarnings ? errors : warnings).push(finding);
    }
    if (!result.valid && !errors.some((e) => e.source === 'haproxy')) {
      errors.push({ source: 'haproxy', message: `haproxy -c rejected the config: ${result.output.trim().split('\n').pop() ?? ''}` });
    }
    return { backends, errors, warnings };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
