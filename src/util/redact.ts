import { AsyncLocalStorage } from 'node:async_hooks';
import { mayHoldRun } from './run-hashes.js';
import { invisibleCharacters } from '../values/invisible.js';

/**
 * The shortest secret masked in every line we print, and the shortest run of its characters
 * masked there. Eight, because a run of 8 characters of a random token (40 bits and more) does
 * not turn up in ordinary text by chance, while a shorter secret is an ordinary word or letter
 * ("haproxy", "e") whose masking would shred every message that holds it; and a piece of at most
 * 7 characters leaves most of a token of usual length (20 and more) unknown. The seed's demo
 * password, occspass, has 8.
 */
export const SAFE_LENGTH = 8;

const INVISIBLE = invisibleCharacters('u');
/** What a store or a terminal may put between the characters of an echoed secret: whitespace, invisible characters. */
export const isFiller = (c: string): boolean => /\s/.test(c) || INVISIBLE.test(c);
/** A letter or a digit: a short secret glued to one is part of a longer word, not an echo of it. */
const GLUE = '[\\p{L}\\p{N}]';

/**
 * The secret as text shows it: as is, JSON-escaped (also as Go escapes `<`, `>` and `&`, as
 * Consul and etcd do) and URL-encoded.
 */
function textForms(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const goJson = json.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
  const url = encodeURIComponent(secret);
  return [...new Set([secret, json, goJson, url, url.replace(/%20/g, '+')])];
}

/**
 * The secret's bytes in hex and in base64 (standard and URL-safe), at each of the three positions
 * it can hold inside a longer base64 text (only the characters that depend on the secret alone).
 */
function encodedForms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms = [bytes.toString('hex')];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes])
      .toString('base64')
      .replace(/=+$/, '');
    // Characters that mix in bits of the padding before or after are left out.
    const core = encoded.slice(Math.ceil((shift * 8) / 6), Math.floor(((shift + bytes.length) * 8) / 6));
    forms.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return forms;
}

/** Every form a secret can take in text a store echoes or a log prints. */
export function secretForms(secret: string): string[] {
  return [...new Set([...textForms(secret), ...encodedForms(secret)])].filter(Boolean);
}

/**
 * Removes secrets (the API token, the etcd password, the stats password) from text bound for a
 * terminal, a log or a report. Secrets are registered once when settings are resolved.
 * - `apply`, on every line written: any run of SAFE_LENGTH or more characters of a long enough
 *   secret, in every form `secretForms` gives, whatever its letter case, and also when line
 *   breaks or other invisible characters split it. Shorter secrets are left alone here.
 * - `echo`, on text a store, HAProxy or a file we quote may have echoed a secret in: the same,
 *   plus every short secret as it is (also JSON-escaped or URL-encoded) where it stands alone.
 */
export class Redactor {
  private readonly secrets = new Set<string>();
  /** Every run of SAFE_LENGTH characters of every form of the long secrets, compact (see `compact`). */
  private readonly everywhere = new Set<string>();
  /** The same of the short secrets' encoded forms: masked only in echoed text. */
  private readonly echoRuns = new Set<string>();
  /** The short secrets' text forms, longest first. */
  private shortForms: string[] = [];
  private standalone: RegExp[] = [];

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const secret of secrets) this.add(secret);
  }

  add(secret: string | undefined): void {
    if (!secret || this.secrets.has(secret)) return;
    this.secrets.add(secret);
    if (secret.length >= SAFE_LENGTH) return addRuns(this.everywhere, secretForms(secret));
    addRuns(this.echoRuns, encodedForms(secret));
    this.shortForms = [...new Set([...this.shortForms, ...textForms(secret)])].sort((a, b) => b.length - a.length);
    this.standalone = this.shortForms.map(standaloneMatcher);
  }

  /** This redactor, or one that also masks `more`. */
  with(more: Iterable<string | undefined>): Redactor {
    const missing = [...more].filter((s): s is string => Boolean(s) && !this.secrets.has(s!));
    return missing.length === 0 ? this : new Redactor([...this.secrets, ...missing]);
  }

  /** How many characters before the cut of a text may hold a piece of a secret that `echo` cannot recognise. */
  get cutMargin(): number {
    const runs = this.everywhere.size + this.echoRuns.size > 0 ? SAFE_LENGTH - 1 : 0;
    return Math.max(runs, ...this.shortForms.map((f) => f.length - 1));
  }

  /** Masks the long secrets, and any private key block: what every line we print passes. */
  apply(text: string): string {
    return maskRuns(maskKeyBlocks(text), [this.everywhere]);
  }

  /** Masks every secret, the short ones included: for text that comes from outside and may echo one. */
  echo(text: string): string {
    let out = maskKeyBlocks(text);
    for (const matcher of this.standalone) out = out.replace(matcher, '***');
    return maskRuns(out, [this.everywhere, this.echoRuns]);
  }

  /** A copy of `value` with every string in it (values of objects and arrays) redacted by `apply`. */
  deep<T>(value: T): T {
    if (typeof value === 'string') return this.apply(value) as T;
    if (Array.isArray(value)) return value.map((v: unknown) => this.deep(v)) as T;
    if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      // Keys too: a backend named after an app (stack mode) is data from the store. Key by key, not
      // through [key, value] arrays: each costs an iterator without an optimizing compiler
      // (src/util/memory.ts), and a stack's log line names every app.
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        const k = this.apply(key);
        const v = this.deep((value as Record<string, unknown>)[key]);
        // A key named __proto__ is made a key, as Object.fromEntries would, not the prototype.
        if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
        else out[k] = v;
      }
      return out as T;
    }
    return value;
  }
}

/** A warning for each of the named secrets that is too short for `apply`, so is masked only where echoed. */
export function shortSecretNotices(secrets: Readonly<Record<string, string | undefined>>): string[] {
  return Object.entries(secrets)
    .filter(([, secret]) => secret && secret.length < SAFE_LENGTH)
    .map(
      ([name]) =>
        `${name} has fewer than ${SAFE_LENGTH} characters: it is masked only where a store or HAProxy echoes it, ` +
        'not in every message (it could be an ordinary word there); choose a longer one',
    );
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

/** A PEM private key block (unterminated: to the end of the text), in whatever form a bundle holds it. */
const KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;

/**
 * Private keys are secrets like the token, but there are as many as certificates, each known only
 * when a bundle is read: whatever the key, its PEM block is masked whole wherever text is printed.
 */
export function maskKeyBlocks(text: string): string {
  return text.includes('PRIVATE KEY-----') ? text.replace(KEY_BLOCK, '[private key masked]') : text;
}

/** One character in lower case, when that keeps it one character (so positions still line up). */
function lower(c: string): string {
  const l = c.toLowerCase();
  return l.length === c.length ? l : c;
}

/** `text` in lower case without fillers, and the index in `[...text]` of each of its code units. */
function compact(text: string): { chars: string[]; compacted: string; origin: number[] } {
  const chars = [...text];
  let compacted = '';
  const origin: number[] = [];
  chars.forEach((c, i) => {
    if (isFiller(c)) return;
    const l = lower(c);
    compacted += l;
    for (let k = 0; k < l.length; k++) origin.push(i);
  });
  return { chars, compacted, origin };
}

function addRuns(runs: Set<string>, forms: readonly string[]): void {
  for (const form of forms) {
    const { compacted } = compact(form);
    for (let at = 0; at + SAFE_LENGTH <= compacted.length; at++) runs.add(compacted.slice(at, at + SAFE_LENGTH));
  }
}

/** Matches a short secret's form where no letter or digit glues it into a longer word. */
function standaloneMatcher(form: string): RegExp {
  const before = new RegExp(`^${GLUE}`, 'u').test(form) ? `(?<!${GLUE})` : '';
  const after = new RegExp(`${GLUE}$`, 'u').test(form) ? `(?!${GLUE})` : '';
  return new RegExp(`${before}${form.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}${after}`, 'gu');
}

/**
 * Replaces each stretch of `text` made of runs in `sets` (ignoring case and fillers) with `***`:
 * every window of SAFE_LENGTH characters is looked up once, and overlapping hits make one stretch.
 */
function maskRuns(text: string, sets: ReadonlyArray<ReadonlySet<string>>): string {
  if (text.length < SAFE_LENGTH || sets.every((s) => s.size === 0)) return text;
  if (PLAIN_TEXT.test(text) && !mayHoldRun(text.replace(WHITESPACE, '').toLowerCase(), sets, SAFE_LENGTH)) return text;
  const { chars, compacted, origin } = compact(text);
  const stretches: Array<[number, number]> = [];
  for (let at = 0; at + SAFE_LENGTH <= compacted.length; at++) {
    const run = compacted.slice(at, at + SAFE_LENGTH);
    if (!sets.some((s) => s.has(run))) continue;
    const [start, end] = [origin[at]!, origin[at + SAFE_LENGTH - 1]! + 1];
    const last = stretches[stretches.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else stretches.push([start, end]);
  }
  if (stretches.length === 0) return text;
  let out = '';
  let from = 0;
  for (const [start, end] of stretches) {
    out += `${chars.slice(from, start).join('')}***`;
    from = end;
  }
  return out + chars.slice(from).join('');
}

/** Printable ASCII and whitespace: compacted (see `compact`) by dropping the whitespace and lowering the case, each character one code unit. */
const PLAIN_TEXT = /^[\x20-\x7e\t\n\v\f\r]*$/;
const WHITESPACE = /[\x20\t\n\v\f\r]/g;
