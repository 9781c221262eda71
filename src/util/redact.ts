import { AsyncLocalStorage } from 'node:async_hooks';
import { invisibleCharacters } from '../values/invisible.js';

/** Secrets shorter than this are only masked as they are: their encodings would match too much. */
const FUZZY_MIN_LENGTH = 6;
/** What a store or a terminal may put between the characters of an echoed secret. */
const INVISIBLE = invisibleCharacters('u');
const isFiller = (c: string): boolean => /\s/.test(c) || INVISIBLE.test(c);

/**
 * The forms a secret can take in text a store echoes or a log prints: as is, JSON-escaped (also
 * as Go escapes `<`, `>` and `&`, as Consul and etcd do), URL-encoded, in hex, and in base64
 * (standard and URL-safe), at each of the three positions it can hold inside a longer base64 text
 * (only the characters that depend on the secret alone).
 */
export function secretForms(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const goJson = json.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
  const forms = new Set([secret, json, goJson, encodeURIComponent(secret), encodeURIComponent(secret).replace(/%20/g, '+')]);
  const bytes = Buffer.from(secret, 'utf8');
  forms.add(bytes.toString('hex'));
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes])
      .toString('base64')
      .replace(/=+$/, '');
    // Characters that mix in bits of the padding before or after are left out.
    const core = encoded.slice(Math.ceil((shift * 8) / 6), Math.floor(((shift + bytes.length) * 8) / 6));
    if (core.length >= FUZZY_MIN_LENGTH) {
      forms.add(core);
      forms.add(core.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  return [...forms].filter(Boolean);
}

/**
 * Removes secrets (the API token, the etcd password, the stats password) from text bound for a
 * terminal, a log or a report. Secrets are registered once when settings are resolved; every
 * line written to stderr passes here. A secret is masked in every form `secretForms` gives,
 * whatever its letter case, and also when line breaks or other invisible characters split it.
 */
export class Redactor {
  private readonly secrets = new Set<string>();
  private forms: string[] = [];

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const secret of secrets) this.add(secret);
  }

  add(secret: string | undefined): void {
    if (!secret || this.secrets.has(secret)) return;
    this.secrets.add(secret);
    if (secret.length < FUZZY_MIN_LENGTH) return;
    const compact = (form: string) =>
      [...form]
        .filter((c) => !isFiller(c))
        .map(lower)
        .join('');
    this.forms = [...new Set([...this.forms, ...secretForms(secret).map(compact)])].filter((f) => f.length >= FUZZY_MIN_LENGTH);
  }

  /** This redactor, or one that also masks `more`. */
  with(more: Iterable<string | undefined>): Redactor {
    const missing = [...more].filter((s): s is string => Boolean(s) && !this.secrets.has(s!));
    return missing.length === 0 ? this : new Redactor([...this.secrets, ...missing]);
  }

  /** The length of the longest form masked: a text cut anywhere holds at most that much of a secret. */
  get longestForm(): number {
    return Math.max(0, ...[...this.secrets].map((s) => s.length), ...this.forms.map((f) => f.length));
  }

  apply(text: string): string {
    let out = text;
    for (const secret of this.secrets) if (secret.length < FUZZY_MIN_LENGTH && out.includes(secret)) out = out.split(secret).join('***');
    return this.forms.length > 0 ? maskForms(out, this.forms) : out;
  }

  /** Masks text that comes from outside and may echo a secret: for now as every other text. */
  echo(text: string): string {
    return this.apply(text);
  }

  /** A copy of `value` with every string in it (values of objects and arrays) redacted. */
  deep<T>(value: T): T {
    if (typeof value === 'string') return this.apply(value) as T;
    if (Array.isArray(value)) return value.map((v: unknown) => this.deep(v)) as T;
    if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.deep(v)])) as T;
    }
    return value;
  }
}

const running = new AsyncLocalStorage<Redactor>();

/**
 * Runs `work` with `redactor` as the one echo points use: the secrets of a run reach every place
 * that quotes a store or HAProxy without every signature on the way carrying them.
 */
export function withRedactor<T>(redactor: Redactor, work: () => T): T {
  return running.run(redactor, work);
}

/** The redactor of the current run (an empty one outside a run), also masking `more`. */
export function echoRedactor(more: Iterable<string | undefined> = []): Redactor {
  return (running.getStore() ?? new Redactor()).with(more);
}

/**
 * Text from outside that may echo a secret — HAProxy's messages and lines, a reload command's
 * output, an excerpt of a config or template — masked with every secret of the current run.
 */
export function maskEcho(text: string): string {
  return echoRedactor().echo(text);
}

/** One character in lower case, when that keeps it one character (so positions still line up). */
function lower(c: string): string {
  const l = c.toLowerCase();
  return l.length === c.length ? l : c;
}

/** Replaces each stretch of `text` that holds a form (ignoring case and fillers) with `***`. */
function maskForms(text: string, forms: readonly string[]): string {
  const chars = [...text];
  let compact = '';
  const origin: number[] = []; // index in `chars` of each unit of `compact`
  chars.forEach((c, i) => {
    if (isFiller(c)) return;
    const l = lower(c);
    compact += l;
    for (let k = 0; k < l.length; k++) origin.push(i);
  });
  const masked: Array<[number, number]> = [];
  for (const form of forms) {
    for (let at = compact.indexOf(form); at >= 0; at = compact.indexOf(form, at + 1)) {
      masked.push([origin[at]!, origin[at + form.length - 1]! + 1]);
    }
  }
  if (masked.length === 0) return text;
  masked.sort((a, b) => a[0] - b[0]);
  let out = '';
  let from = 0;
  for (const [start, end] of masked) {
    if (end <= from) continue;
    out += `${chars.slice(from, Math.max(from, start)).join('')}${start >= from ? '***' : ''}`;
    from = end;
  }
  return out + chars.slice(from).join('');
}
