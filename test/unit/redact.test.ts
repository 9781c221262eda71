import { describe, expect, it } from 'vitest';
import { printable } from '../../src/log.js';
import { bodySnippet } from '../../src/kv/store-errors.js';
import { Redactor, secretForms } from '../../src/util/redact.js';

const TOKEN = 'q"uo\\te-T0ken-8f2';
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('Redactor', () => {
  const redactor = new Redactor([TOKEN, 'occspass']);

  it.each([
    ['as is', `Bearer ${TOKEN}`],
    ['JSON-escaped', JSON.stringify({ token: TOKEN })],
    ['upper-cased', TOKEN.toUpperCase()],
    ['lower-cased', TOKEN.toLowerCase()],
    ['split by a line break and spaces', `${TOKEN.slice(0, 5)}\n    ${TOKEN.slice(5)}`],
    ['split by an invisible character', `${TOKEN.slice(0, 5)}\u200b${TOKEN.slice(5)}`],
    ['URL-encoded', encodeURIComponent(TOKEN)],
    ['JSON-escaped the Go way (<, > and & as \\u00XX)', JSON.stringify(`${TOKEN}<&>`).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`)],
    ['hex', Buffer.from(TOKEN).toString('hex')],
    ['base64', b64(TOKEN)],
    ['base64 at each alignment inside a longer text', [b64(`{"t":"${TOKEN}"}`), b64(`{"tk":"${TOKEN}"}`), b64(`{"tok":"${TOKEN}"}`)].join(' ')],
    ['URL-safe base64', b64(`>>${TOKEN}`).replace(/\+/g, '-').replace(/\//g, '_')],
  ])('masks the token %s', (_, text) => {
    const out = redactor.apply(`before ${text} after`);
    expect(out).toMatch(/^before .*\*\*\*.* after$/s);
    expect(out.toLowerCase()).not.toContain('t0ken-8f');
  });

  it('masks a secret with <, > and & as Go encodes it in JSON', () => {
    const secret = 'Tr0ub&dor<3>horse';
    const echoed = JSON.stringify(secret).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
    expect(new Redactor([secret]).apply(`{"error":${echoed}}`)).toBe('{"error":"***"}');
  });

  it('leaves other text alone and masks short secrets only as they are', () => {
    expect(redactor.apply('nothing secret here: 10.0.0.1:80')).toBe('nothing secret here: 10.0.0.1:80');
    const short = new Redactor(['abc']);
    expect(short.apply('abc ABC a b c')).toBe('*** ABC a b c');
  });

  it('masks every string inside a report, before it is encoded', () => {
    const report = { ok: false, errors: [{ message: `echo ${TOKEN}`, line: 3 }], nested: { hint: TOKEN.toUpperCase() } };
    const masked = redactor.deep(report);
    expect(JSON.stringify(masked)).not.toMatch(/t0ken/i);
    expect(masked.errors[0]!.line).toBe(3);
    expect(report.errors[0]!.message).toContain(TOKEN); // the original is not changed
  });

  it("derives the base64 forms that hold only the secret's own bits", () => {
    const forms = secretForms('abcdefgh');
    expect(forms).toContain('YWJjZGVmZ2');
    for (const prefix of ['', 'x', 'xy']) expect(forms.some((f) => b64(`${prefix}abcdefgh`).includes(f) && f.length >= 6)).toBe(true);
  });
});

describe('bodySnippet', () => {
  it("keeps at most 120 printable ASCII characters of a store's answer, secrets masked first", () => {
    const snippet = bodySnippet(`${'x'.repeat(100)} ${TOKEN.toUpperCase()} ${'y'.repeat(500)}`, [TOKEN]);
    expect(snippet).toMatch(/^: x{100} \*\*\* y+…$/);
    expect(snippet.length).toBeLessThanOrEqual(2 + 120 + 1);
    expect(bodySnippet('bad \u202e\u0000 ünï', [])).toBe(': bad ?? ?n?');
  });

  it('shows no piece of a secret that the cut of a long body split', () => {
    const secret = 's3cr3t-Tr0ub-horse';
    for (const pad of [4080, 4085, 4090, 4095]) expect(bodySnippet(`${' '.repeat(pad)}${secret}`, [secret])).not.toMatch(/s3c|horse|tr0ub/i);
  });
});

describe('printable', () => {
  it('escapes controls, format characters, odd spaces and unassigned code points', () => {
    expect(printable('a\u202eb\u2066c\u200dd\ufeffe\u00adf\u00a0g\u2028h\u0007i\u{e0041}j')).toBe(
      'a\\u202eb\\u2066c\\u200dd\\ufeffe\\u00adf\\u00a0g\\u2028h\\u0007i\\u{e0041}j',
    );
    expect(printable('plain é ✓ 💥 text')).toBe('plain é ✓ 💥 text');
  });
});
