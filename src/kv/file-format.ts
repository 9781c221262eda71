import { kvError } from '../errors.js';
import { normalizeKey } from './keys.js';
import type { KvNotice, KvPair } from './source.js';

/**
 * Parses the three `file:` formats: seed-style `key=value` lines (`#` comments, blank lines),
 * a flat JSON object, or the array `consul kv export` writes (base64 values). Keys ending in `/`
 * are folders and are left out, as in Consul.
 */
export function parseKvFile(text: string, path: string): KvPair[] {
  const body = text.replace(/^\uFEFF/, '');
  const pairs = isJson(body) ? parseJson(body, path) : keyValueLines(body, path);
  return pairs.filter((p) => !p.key.endsWith('/')).map((p) => ({ key: normalizeKey(p.key), value: p.value }));
}

const malformed = (path: string, where: string, what: string) =>
  kvError('KV_FILE_MALFORMED', `key/value file ${path}${where} is malformed: ${what}`, {
    hint: 'write key=value lines, a JSON object of strings, or the array `consul kv export` prints',
  });

/**
 * The keys a `key=value` file gives more than once: the last line wins (as it did for the seed's
 * shell), which is seldom what its author meant. JSON objects and exports have no line to name.
 */
export function duplicateKeys(text: string, path: string): KvNotice[] {
  const body = text.replace(/^\uFEFF/, '');
  if (isJson(body)) return [];
  const seen = new Map<string, number>();
  const notices: KvNotice[] = [];
  for (const { key, line } of keyValueLines(body, path)) {
    if (key.endsWith('/')) continue;
    const at = seen.get(normalizeKey(key));
    if (at !== undefined)
      notices.push({ key: normalizeKey(key), message: `key ${key} is given twice in ${path}, at lines ${at} and ${line}: line ${line}'s value is used` });
    seen.set(normalizeKey(key), line);
  }
  return notices;
}

const isJson = (body: string) => ['{', '['].includes(body.trimStart()[0] ?? '');

/** The pairs of `key=value` lines, each with its line number (1-based). */
function keyValueLines(text: string, path: string): Array<KvPair & { line: number }> {
  const pairs: Array<KvPair & { line: number }> = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (/^\s*(#|$)/.test(line)) return;
    const eq = line.indexOf('=');
    const key = eq < 0 ? '' : line.slice(0, eq).trim();
    if (key === '') throw malformed(path, `:${index + 1}`, 'expected key=value');
    pairs.push({ key, value: line.slice(eq + 1), line: index + 1 });
  });
  return pairs;
}

function parseJson(text: string, path: string): KvPair[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw malformed(path, '', `not valid JSON (${(error as Error).message})`);
  }
  if (Array.isArray(data)) return data.map((entry, i) => exportEntry(entry, `${path}[${i}]`, path));
  return Object.entries(data as Record<string, unknown>).map(([key, value]) => ({
    key,
    value: scalarValue(value, key, path),
  }));
}

function scalarValue(value: unknown, key: string, path: string): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw malformed(path, '', `the value of "${key}" is not a string`);
}

function exportEntry(entry: unknown, where: string, path: string): KvPair {
  const { key, value } = (entry ?? {}) as { key?: unknown; value?: unknown };
  if (typeof key !== 'string' || !(typeof value === 'string' || value === null || value === undefined)) {
    throw malformed(path, '', `${where} is not a {"key", "value"} entry of \`consul kv export\``);
  }
  return { key, value: value ? Buffer.from(value, 'base64').toString('utf8') : '' };
}
